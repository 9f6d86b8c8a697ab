"""Write executions straight into a server's SQLite store, to show the execution view without an engine."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dce_jobs.models import ContainerResult, EndReason, Execution, Job, Rolling, Status, Target
from dce_jobs.store.sqlite import SqliteStore


@dataclass(frozen=True)
class Seeded:
    """One target's state: status, exit code, E, output, and (optional) its times, end reason and Swarm slot."""

    container_id: str
    node_id: str
    status: Status
    exit_code: int | None = None
    error: str = ""
    output: str = ""
    started_at: float | None = None
    finished_at: float | None = None
    end_reason: EndReason | None = None
    slot: int | None = None
    previous_container_id: str = ""


def _db(data_dir: Path) -> SqliteStore:
    return SqliteStore(data_dir / "dce-jobs.sqlite3")


def _result(job_id: str, executor_id: str, index: int, seeded: Seeded) -> ContainerResult:
    return ContainerResult(
        job_id=job_id,
        executor_id=executor_id,
        index=index,
        container_id=seeded.container_id,
        node_id=seeded.node_id,
        status=seeded.status,
        exec_id=f"{index:064x}" if seeded.status is not Status.STARTING else "",
        error=seeded.error,
        exit_code=seeded.exit_code,
        output_bytes=len(seeded.output.encode()),
        started_at=seeded.started_at,
        finished_at=seeded.finished_at,
        end_reason=seeded.end_reason,
    )


async def _with_store(data_dir: Path, work):  # type: ignore[no-untyped-def]
    store = _db(data_dir)
    await store.open()
    try:
        return await work(store)
    finally:
        await store.close()


def add_execution(
    data_dir: Path,
    job_id: str,
    executor_id: str,
    targets: list[Seeded],
    *,
    rolling: Rolling | None = None,
    retry_of: str = "",
    **more: Any,
) -> None:
    """Insert an execution with its results and outputs (rolling settings, RetryOf and other Execution fields)."""

    async def work(store: SqliteStore) -> None:
        execution = Execution(
            job_id=job_id,
            executor_id=executor_id,
            created_at=float(executor_id),
            targets=tuple(
                Target(
                    container_id=t.container_id,
                    node_id=t.node_id,
                    slot=t.slot,
                    previous_container_id=t.previous_container_id,
                )
                for t in targets
            ),
            rolling=rolling or Rolling(),
            retry_of=retry_of,
            **more,
        )
        results = [_result(job_id, executor_id, i, t) for i, t in enumerate(targets)]
        await store.create_execution(execution, results)
        for result, seeded in zip(results, targets, strict=True):
            if seeded.output:
                await store.append_output(result, 0, seeded.output.encode())

    asyncio.run(_with_store(data_dir, work))


def set_result(data_dir: Path, job_id: str, executor_id: str, index: int, seeded: Seeded, *, seq: int = 1) -> None:
    """Overwrite one result (and add its output as chunk `seq`)."""

    async def work(store: SqliteStore) -> None:
        result = _result(job_id, executor_id, index, seeded)
        await store.save_result(result)
        if seeded.output:
            await store.append_output(result, seq, seeded.output.encode())

    asyncio.run(_with_store(data_dir, work))


def get_job(data_dir: Path, job_id: str) -> Job:
    """The stored job, secrets still encrypted."""
    return asyncio.run(_with_store(data_dir, lambda store: store.get_job(job_id)))  # type: ignore[no-any-return]


def add_run(
    data_dir: Path,
    job_id: str,
    created_at: float,
    *,
    state: str,
    duration_s: float | None = None,
    counts: dict[str, int] | None = None,
    **more: Any,
) -> str:
    """Insert an execution without results, ended in `state` after `duration_s` unless running; its ExecutorId."""
    executor_id = f"{created_at:.6f}"

    async def work(store: SqliteStore) -> None:
        execution = Execution(job_id=job_id, executor_id=executor_id, created_at=created_at, targets=(), **more)
        await store.create_execution(execution, [])
        if state != "running":
            ended_at = created_at + (duration_s or 0.0)
            await store.end_execution(execution, state=state, ended_at=ended_at, counts=counts)

    asyncio.run(_with_store(data_dir, work))
    return executor_id


def end_run(data_dir: Path, job_id: str, executor_id: str, *, state: str, ended_at: float) -> None:
    """Record that a stored execution ended in `state` (as the runner does when its last target ends)."""

    async def work(store: SqliteStore) -> None:
        execution = await store.get_execution(job_id, executor_id)
        await store.end_execution(execution, state=state, ended_at=ended_at, counts={state: 1})

    asyncio.run(_with_store(data_dir, work))
