"""One write ends an execution (statistics and lists read it); removing an execution keeps LastRun pointing at one."""

from __future__ import annotations

from dce_jobs.queries import ExecutionQuery
from dce_jobs.stats import StatsQuery
from dce_jobs.store.base import Store
from tests.store.records import make_execution, make_job, results_of

COUNTS = {"waiting": 0, "running": 0, "succeeded": 1, "failed": 1, "stopped": 0}


async def test_end_execution_records_state_end_duration_counts_and_last_run_at_once(store: Store) -> None:
    job = make_job()
    await store.create_job(job)
    older, newer = make_execution(job, "10.000000", 10.0), make_execution(job, "20.000000", 20.0)
    for execution in (older, newer):
        await store.create_execution(execution, results_of(execution))
    await store.end_execution(newer, state="failed", ended_at=25.0, counts=COUNTS)
    stats = await store.execution_stats(StatsQuery(since_s=0.0, until_s=100.0))
    assert stats.ended_count == 1 and set(stats.durations_s.values()) == {5.0}
    assert sum(n for (_, state), n in stats.per_hour.items() if state == "failed") == 1
    (entry,) = [e for e in (await store.find_executions(ExecutionQuery(job_id=job.job_id))).items if e.ended_at]
    assert (entry.executor_id, entry.state, entry.ended_at, entry.counts) == ("20.000000", "failed", 25.0, COUNTS)
    last = (await store.get_job(job.job_id)).last_run
    assert last is not None and (last.executor_id, last.state, last.ended_at) == ("20.000000", "failed", 25.0)
    # an older execution ending later is no LastRun
    await store.end_execution(older, state="succeeded", ended_at=30.0, counts=COUNTS)
    last = (await store.get_job(job.job_id)).last_run
    assert last is not None and (last.executor_id, last.state) == ("20.000000", "failed")


async def test_removing_the_last_run_falls_back_to_the_newest_remaining_then_to_none(store: Store) -> None:
    job = make_job()
    await store.create_job(job)
    older, newer = make_execution(job, "10.000000", 10.0), make_execution(job, "20.000000", 20.0)
    for execution in (older, newer):
        await store.create_execution(execution, results_of(execution))
    await store.end_execution(older, state="succeeded", ended_at=12.0, counts=COUNTS)
    await store.delete_execution(job.job_id, newer.executor_id)
    last = (await store.get_job(job.job_id)).last_run
    assert last is not None and (last.executor_id, last.state, last.ended_at) == ("10.000000", "succeeded", 12.0)
    await store.delete_execution(job.job_id, older.executor_id)
    assert (await store.get_job(job.job_id)).last_run is None
