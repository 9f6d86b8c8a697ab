"""Records written into a fresh SQLite data dir before the fuzzed server starts (no engine needed)."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from pathlib import Path

from dce_jobs import jobs
from dce_jobs.cipher import SecretBox, load_keys
from dce_jobs.models import ContainerResult, Execution, Status, Target, new_executor_id
from dce_jobs.schedule import Schedule
from dce_jobs.schemas import load_job
from dce_jobs.store.sqlite import SqliteStore

INSPECT = {"Pid": 42, "Running": False, "ProcessConfig": {"entrypoint": "echo", "arguments": ["hi", "***"]}}


@dataclass(frozen=True)
class Seeded:
    """Ids of what was stored: jobs to read and edit (the first has the executions), jobs to delete, ..."""

    job_ids: list[str]
    doomed_job_ids: list[str]
    executor_ids: list[str]
    container_ids: list[str]
    schedule_ids: list[str]


def _job_body(name: str) -> dict[str, object]:
    return {
        "AppName": "fuzz",
        "ServiceName": "fuzz_web",
        "Name": name,
        "Cmd": "echo hi",
        "Privileged": False,
        "User": "",
        "Env": ["A=b"],
        "SecretArgs": ["s3cret"],
        "Timeout": None,
    }


async def seed(data_dir: Path, *, executions: int = 3, doomed: int = 3) -> Seeded:
    """Store one job with `executions` finished executions, a job without any, and `doomed` jobs for DELETE."""
    store = SqliteStore(data_dir / "dce-jobs.sqlite3")
    box = SecretBox(load_keys((), data_dir))
    await store.open()
    try:
        main = await jobs.create_job(store, box, load_job(_job_body("main")))
        idle = await jobs.create_job(store, box, load_job(_job_body("idle")))
        executor_ids, container_ids = [], []
        for i in range(executions):
            executor_id, containers = await _execution(store, main.job_id, offset_s=i)
            executor_ids.append(executor_id)
            container_ids += containers
        schedule_ids = []
        for i, (cron, run_at) in enumerate((("*/5 * * * *", None), ("", 4_000_000_000.0))):
            schedule = Schedule(f"fuzz-schedule-{i}", main.job_id, run_at=run_at, cron=cron, enabled=False)
            await store.create_schedule(schedule)
            schedule_ids.append(schedule.schedule_id)
        doomed_ids = [
            (await jobs.create_job(store, box, load_job(_job_body(f"doomed-{i}")))).job_id for i in range(doomed)
        ]
    finally:
        await store.close()
    return Seeded([main.job_id, idle.job_id], doomed_ids, executor_ids, container_ids, schedule_ids)


async def _execution(store: SqliteStore, job_id: str, *, offset_s: float) -> tuple[str, list[str]]:
    """One execution with a FINISHED (exit 0, output) and a RUNNING_FAILED target."""
    targets = [Target(container_id=secrets.token_hex(32), node_id="fuzznode1") for _ in range(2)]
    executor_id = new_executor_id(1_700_000_000 + offset_s)
    execution = Execution(
        job_id=job_id, executor_id=executor_id, created_at=1_700_000_000 + offset_s, targets=tuple(targets)
    )
    results = [
        ContainerResult(job_id=job_id, executor_id=executor_id, index=i, container_id=t.container_id, node_id=t.node_id)
        for i, t in enumerate(targets)
    ]
    await store.create_execution(execution, results)
    done = results[0].replace(status=Status.FINISHED, exec_id="e" * 64, exit_code=0, inspect=INSPECT, output_bytes=6)
    failed = results[1].replace(status=Status.RUNNING_FAILED, exec_id="f" * 64, error="node lost", exit_code=None)
    await store.save_result(done)
    await store.save_result(failed)
    await store.append_output(done, 0, b"hello\n")
    await store.append_output(failed, 0, b"partial")
    return executor_id, [t.container_id for t in targets]
