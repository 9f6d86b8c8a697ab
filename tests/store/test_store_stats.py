"""Execution statistics computed by the store, on every backend, over a few thousand executions."""

from __future__ import annotations

import asyncio
import random

from dce_jobs.models import Execution
from dce_jobs.stats import ExecutionStats, StatsQuery
from dce_jobs.store.base import Store
from tests.store.records import make_execution, make_job

DAY_S = 86400.0
T0 = 1_700_000_000.0 - 1_700_000_000.0 % DAY_S  # a UTC midnight
STATES = ("succeeded", "failed", "stopped")


async def _seed(store: Store, count: int) -> tuple[list[str], dict[tuple[int, str], int], list[float], int]:
    """`count` executions over 10 days and 3 jobs of 2 apps; most ended. Returns what the stats must say."""
    rng = random.Random(14)
    jobs = [make_job("a", "shop"), make_job("b", "shop"), make_job("c", "blog")]
    for job in jobs:
        await store.create_job(job)
    expected: dict[tuple[int, str], int] = {}
    durations: list[float] = []
    shop = 0
    plans = []
    for n in range(count):
        job = jobs[n % 3]
        created = T0 + rng.randrange(10 * 24) * 3600 + rng.random() * 3599
        state = "running" if n % 17 == 0 else STATES[n % 3 if n % 5 else 0]
        duration = float(n % 101)
        plans.append((make_execution(job, f"{created:.6f}{n:05d}", created, targets=0), state, duration))
        if state != "running":
            durations.append(duration)
        key = (int(created // 3600), state)
        expected[key] = expected.get(key, 0) + 1
        shop += job.app_name == "shop"

    async def record(execution: Execution, state: str, duration: float) -> None:
        await store.create_execution(execution, [])
        if state != "running":
            await store.end_execution(execution, state=state, ended_at=execution.created_at + duration)

    # a few at a time, as concurrent runs would; nx-27017 cannot interleave its transactions
    batch = 1 if getattr(store, "transactions", False) else 25
    for at in range(0, count, batch):
        await asyncio.gather(*(record(*plan) for plan in plans[at : at + batch]))
    return [j.job_id for j in jobs], expected, sorted(durations), shop


def _rank(values: list[float], percent: int) -> float:
    return values[max(0, -(-len(values) * percent // 100) - 1)]


async def test_stats_per_hour_and_percentiles_over_many(store: Store) -> None:
    # thousands on SQLite; fewer on the Mongo backends, whose test servers write one record in tens of ms
    # (mongomock scans, nx-27017 serialises its transactions), so that the suite stays within its time
    count = 3000 if type(store).__name__ == "SqliteStore" else 500
    job_ids, expected, durations, shop = await _seed(store, count)

    stats = await store.execution_stats(StatsQuery(since_s=T0, until_s=T0 + 10 * DAY_S))

    assert stats.per_hour == expected
    assert stats.ended_count == len(durations)
    assert stats.durations_s == {p: _rank(durations, p) for p in (50, 90, 99)}
    by_app = await store.execution_stats(StatsQuery(since_s=T0, until_s=T0 + 10 * DAY_S, app_name="shop"))
    assert sum(by_app.per_hour.values()) == shop
    by_job = await store.execution_stats(StatsQuery(since_s=T0, until_s=T0 + 10 * DAY_S, job_id=job_ids[2]))
    assert sum(by_job.per_hour.values()) == count - shop
    both = await store.execution_stats(
        StatsQuery(since_s=T0, until_s=T0 + 10 * DAY_S, job_id=job_ids[2], app_name="shop")
    )
    assert both == ExecutionStats({}, 0, {})


async def test_stats_window_bounds_and_empty(store: Store) -> None:
    job = make_job()
    await store.create_job(job)
    for created in (T0 - 1, T0, T0 + DAY_S - 1, T0 + DAY_S):
        await store.create_execution(make_execution(job, f"{created:.6f}", created, targets=0), [])

    stats = await store.execution_stats(StatsQuery(since_s=T0, until_s=T0 + DAY_S))

    assert stats.per_hour == {(int(T0 // 3600), "running"): 1, (int((T0 + DAY_S - 1) // 3600), "running"): 1}
    assert stats.ended_count == 0 and stats.durations_s == {}
    assert await store.execution_stats(StatsQuery(since_s=0, until_s=1)) == ExecutionStats({}, 0, {})


async def test_end_execution_of_a_missing_execution_changes_nothing(store: Store) -> None:
    await store.end_execution(make_execution(make_job(), "1.000000", 1.0), state="failed", ended_at=5.0)

    assert await store.execution_stats(StatsQuery(since_s=0, until_s=1e12)) == ExecutionStats({}, 0, {})


async def test_stats_of_an_app_count_the_executions_started_in_it(store: Store) -> None:
    """AppName is the job's AppName when each execution started (as the history filters): a move to another app
    leaves the earlier runs in the app they ran in."""
    job = make_job("a", "shop")
    await store.create_job(job)
    await store.create_execution(make_execution(job, "1.000000", T0 + 1, targets=0), [])
    await store.end_execution(make_execution(job, "1.000000", T0 + 1), state="succeeded", ended_at=T0 + 3)
    moved = job.replace(app_name="blog", updated_at=T0 + 5)
    await store.update_job(moved)
    await store.create_execution(make_execution(moved, "2.000000", T0 + 10, targets=0), [])
    window = {"since_s": T0, "until_s": T0 + DAY_S}

    shop = await store.execution_stats(StatsQuery(**window, app_name="shop"))
    blog = await store.execution_stats(StatsQuery(**window, app_name="blog", job_id=job.job_id))

    hour = int(T0 // 3600)
    assert shop == ExecutionStats({(hour, "succeeded"): 1}, 1, {50: 2.0, 90: 2.0, 99: 2.0})
    assert blog == ExecutionStats({(hour, "running"): 1}, 0, {})
