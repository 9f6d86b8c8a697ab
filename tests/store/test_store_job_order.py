"""The job list's LastRunTime order on every store: it follows new runs and removed ones."""

from __future__ import annotations

from dce_jobs.models import Job
from dce_jobs.queries import JobQuery, Window
from dce_jobs.store.base import Store
from tests.store.records import make_execution, make_job, results_of


async def _names(store: Store, *, descending: bool, last_state: str | None = None) -> list[str]:
    query = JobQuery(sort="last_started_at", descending=descending, last_state=last_state, window=Window(1, 10))
    return [j.name for j in (await store.find_jobs(query)).items]


async def _run(store: Store, job: Job, executor_id: str, started_at: float) -> None:
    execution = make_execution(job, executor_id, started_at)
    await store.create_execution(execution, results_of(execution))


async def test_last_run_time_follows_new_and_removed_runs(store: Store) -> None:
    # created a, b, c, d, e: the runs start in another order; d and e never run (a JobId tie between them)
    jobs = {name: make_job(name, created_at=1000.0 + n) for n, name in enumerate("abcde")}
    for job in jobs.values():
        await store.create_job(job)
    await _run(store, jobs["a"], "x1", 50.0)
    await _run(store, jobs["b"], "x2", 30.0)
    await _run(store, jobs["c"], "x3", 40.0)
    await _run(store, jobs["b"], "x4", 60.0)
    never = sorted("de", key=lambda name: jobs[name].job_id)

    assert await _names(store, descending=False) == [*never, "c", "a", "b"]
    assert await _names(store, descending=True) == ["b", "a", "c", *never[::-1]]

    await store.end_execution(make_execution(jobs["b"], "x4", 60.0), state="failed", ended_at=61.0)
    assert await _names(store, descending=True) == ["b", "a", "c", *never[::-1]]  # an end does not move it
    assert await _names(store, descending=False, last_state="running") == ["c", "a"]

    await store.delete_execution(jobs["b"].job_id, "x4")  # b's LastRun is x2 again: started at 30
    assert await _names(store, descending=False) == [*never, "b", "c", "a"]

    await store.delete_execution(jobs["a"].job_id, "x1")  # a never ran now
    assert await _names(store, descending=True) == ["c", "b", *sorted("ade", key=lambda n: jobs[n].job_id)[::-1]]
