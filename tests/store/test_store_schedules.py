"""The Store contract for schedules, fires and leases: every test runs on every backend (see conftest.BACKENDS)."""

from __future__ import annotations

import asyncio

import pytest

from dce_jobs.errors import NotFound
from dce_jobs.models import FailureAction, Lease
from dce_jobs.schedule import ConcurrencyPolicy, Fire, FireOutcome, Schedule
from dce_jobs.store.base import Store
from tests.store.records import make_execution, make_job, results_of


def make_schedule(job_id: str, schedule_id: str = "s1", **changes: object) -> Schedule:
    fields: dict[str, object] = {"cron": "*/5 * * * *", "time_zone": "Asia/Shanghai", "created_at": 10.0}
    return Schedule(schedule_id=schedule_id, job_id=job_id, **{**fields, **changes})  # type: ignore[arg-type]


async def test_schedules_round_trip_and_belong_to_their_job(store: Store) -> None:
    job = make_job()
    await store.create_job(job)
    first = make_schedule(
        job.job_id,
        "s1",
        container_ids=("a" * 12,),
        timeout_s=5.0,
        rolling={"parallelism": 2, "failure_action": FailureAction.PAUSE},
        params={"ENV": "prod"},
        concurrency=ConcurrencyPolicy.ALLOW,
    )
    second = make_schedule(job.job_id, "s2", cron="", run_at=2e9, created_at=11.0)
    for schedule in (second, first):
        await store.create_schedule(schedule)
    assert await store.get_schedule(job.job_id, "s1") == first
    assert await store.list_schedules(job_id=job.job_id) == [first, second]
    assert await store.list_schedules() == [first, second]
    with pytest.raises(NotFound) as caught:
        await store.get_schedule("another-job", "s1")
    assert caught.value.error_id == "schedule_id_not_found"
    changed = first.replace(enabled=False, cron="0 3 * * *")
    await store.update_schedule(changed)
    assert await store.get_schedule(job.job_id, "s1") == changed


async def test_a_schedule_of_a_missing_job_is_refused(store: Store) -> None:
    with pytest.raises(NotFound) as caught:
        await store.create_schedule(make_schedule("no-such-job"))
    assert caught.value.error_id == "job_id_not_found"
    assert await store.list_schedules() == []


async def test_each_due_time_is_claimed_once_whoever_asks(store: Store) -> None:
    job = make_job()
    await store.create_job(job)
    await store.create_schedule(make_schedule(job.job_id))
    claims = [Fire("s1", job.job_id, 600.0, owner_id=f"replica-{i}", fired_at=601.0) for i in range(6)]
    won = await asyncio.gather(*(store.claim_fire(c) for c in claims))
    assert won.count(True) == 1
    assert await store.claim_fire(Fire("s1", job.job_id, 900.0, owner_id="replica-0")) is True
    done = Fire("s1", job.job_id, 900.0, FireOutcome.FIRED, owner_id="replica-0", executor_id="1.000001")
    await store.update_fire(done)
    assert await store.last_fires(job_id=job.job_id) == {"s1": done}
    assert await store.last_fires() == {"s1": done}


async def test_no_fire_is_claimed_for_a_deleted_schedule_and_deleting_a_job_removes_its_schedules(store: Store) -> None:
    job = make_job()
    await store.create_job(job)
    await store.create_schedule(make_schedule(job.job_id, "s1"))
    await store.create_schedule(make_schedule(job.job_id, "s2"))
    await store.claim_fire(Fire("s2", job.job_id, 600.0))
    await store.delete_schedule(job.job_id, "s1")
    assert await store.claim_fire(Fire("s1", job.job_id, 600.0)) is False
    with pytest.raises(NotFound):
        await store.delete_schedule(job.job_id, "s1")
    await store.delete_job(job.job_id)
    assert await store.list_schedules() == []
    assert await store.last_fires() == {}
    assert await store.claim_fire(Fire("s2", job.job_id, 900.0)) is False


async def test_leases_and_taking_over_an_execution_compare_the_owner(store: Store) -> None:
    await store.renew_lease(Lease("a", 100.0, host="h1", pid=7))
    await store.renew_lease(Lease("b", 50.0))
    await store.renew_lease(Lease("a", 130.0, host="h1", pid=7))
    assert sorted(await store.list_leases(), key=lambda lease: lease.owner_id) == [
        Lease("a", 130.0, host="h1", pid=7),
        Lease("b", 50.0),
    ]
    await store.drop_lease("b")
    assert [lease.owner_id for lease in await store.list_leases()] == ["a"]

    job = make_job()
    await store.create_job(job)
    execution = make_execution(job, "1.000001", 1.0).replace(owner_id="a", schedule_id="s1")
    await store.create_execution(execution, results_of(execution))
    assert await store.get_execution(job.job_id, "1.000001") == execution
    assert await store.take_over_execution(job.job_id, "1.000001", from_owner="b", to_owner="c") is False
    assert await store.take_over_execution(job.job_id, "1.000001", from_owner="a", to_owner="c") is True
    assert await store.take_over_execution(job.job_id, "1.000001", from_owner="a", to_owner="d") is False
    assert (await store.get_execution(job.job_id, "1.000001")).owner_id == "c"
    legacy = make_execution(job, "2.000001", 2.0)
    await store.create_execution(legacy, results_of(legacy))
    assert await store.take_over_execution(job.job_id, "2.000001", from_owner="", to_owner="c") is True
    unfinished = await store.list_unfinished_results(job_id=job.job_id)
    assert {r.executor_id for r in unfinished} == {"1.000001", "2.000001"}
    assert await store.list_unfinished_results(job_id="other") == []
