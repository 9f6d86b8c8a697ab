"""The retention sweep on every store backend: what it removes, what it keeps, and the SQLite file shrinking."""

from __future__ import annotations

import os
from pathlib import Path

from dce_jobs.config import Config
from dce_jobs.models import ContainerResult, Status, transition
from dce_jobs.retention import Sweeper
from dce_jobs.store.base import Store
from dce_jobs.store.sqlite import SqliteStore
from tests.store.records import make_execution, make_job, read_output, results_of

DAY_S = 86400.0
NOW_S = 1_800_000_000.0


class IdleRunner:
    """Stands in for the runner: owns no live run."""

    def is_running(self, job_id: str, executor_id: str) -> bool:
        return False


def _sweeper(store: Store, *, days: float = 0, keep: int = 0) -> Sweeper:
    config = Config(retention_days=days, keep_executions=keep)
    return Sweeper(config=config, store=store, runner=IdleRunner(), clock=lambda: NOW_S)  # type: ignore[arg-type]


def _finished(result: ContainerResult) -> ContainerResult:
    running = transition(transition(result, Status.CREATED), Status.RUNNING)
    return transition(running, Status.FINISHED, exit_code=0)


async def _run(store: Store, job_id: str, age_days: float, *, done: bool = True, output: bytes = b"x") -> str:
    job = await store.get_job(job_id)
    created = NOW_S - age_days * DAY_S
    execution = make_execution(job, f"{created:.6f}", created)
    results = results_of(execution)
    await store.create_execution(execution, results)
    if done:
        for result in results:
            await store.save_result(_finished(result))
            await store.append_output(result, 0, output)
    return execution.executor_id


async def test_keep_executions_keeps_the_newest_per_job_and_never_an_unfinished_one(store: Store) -> None:
    job, other = make_job("a"), make_job("b")
    for j in (job, other):
        await store.create_job(j)
    unfinished = await _run(store, job.job_id, 9, done=False)
    ids = [await _run(store, job.job_id, age) for age in (8, 7, 6, 5)]
    kept_other = [await _run(store, other.job_id, age) for age in (3, 2)]

    assert await _sweeper(store, keep=2).sweep() == 2
    assert (await store.get_job(job.job_id)).executors == (unfinished, *ids[2:])
    assert (await store.get_job(other.job_id)).executors == tuple(kept_other)
    assert await store.list_results(job.job_id, ids[0]) == []
    gone = results_of(make_execution(job, ids[0], 0.0))[0]
    assert await read_output(store, gone) == []
    assert await _sweeper(store, keep=2).sweep() == 0


async def test_retention_days_removes_the_older_executions(store: Store) -> None:
    job = make_job()
    await store.create_job(job)
    ids = [await _run(store, job.job_id, age) for age in (40, 31, 29, 1)]
    assert await _sweeper(store, days=30).sweep() == 2
    assert (await store.get_job(job.job_id)).executors == tuple(ids[2:])
    assert await _sweeper(store, days=30, keep=1).sweep() == 1
    assert (await store.get_job(job.job_id)).executors == (ids[3],)


def _size(path: Path) -> int:
    """Bytes of the SQLite file, its WAL and the output files beside it."""
    files = [p for p in Path(f"{path}-output").rglob("*") if p.is_file()]
    return sum(os.path.getsize(p) for p in (path, Path(f"{path}-wal"), *files) if p.exists())


async def test_a_sweep_gives_the_sqlite_file_space_back(tmp_path: Path) -> None:
    path = tmp_path / "jobs.db"
    store = SqliteStore(path)
    await store.open()
    try:
        job = make_job()
        await store.create_job(job)
        for age in range(20, 0, -1):
            await _run(store, job.job_id, age, output=os.urandom(256 * 1024))
        before = _size(path)
        assert await _sweeper(store, keep=2).sweep() == 18
        after = _size(path)
    finally:
        await store.close()
    assert before > 20 * 2 * 256 * 1024 and after < before / 5, (before, after)
