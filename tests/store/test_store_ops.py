"""The Store contract of issue 15 on every backend: new job fields, execution updates and removal, follow-ups."""

from __future__ import annotations

import pytest

from dce_jobs.errors import NotFound
from dce_jobs.models import FollowUp, Param, TaskState
from dce_jobs.store.base import Store
from tests.store.records import make_execution, make_job, read_output, results_of


def _task(execution_id: str, job_id: str, task_id: str, due_at: float, **changes: object) -> FollowUp:
    fields: dict[str, object] = {
        "kind": "hook",
        "task_id": task_id,
        "job_id": job_id,
        "executor_id": execution_id,
        "due_at": due_at,
        "created_at": due_at,
    }
    return FollowUp(**{**fields, **changes})  # type: ignore[arg-type]


async def test_the_operations_fields_of_a_job_and_an_execution_round_trip(store: Store) -> None:
    job = make_job(
        params=(Param("A", required=True), Param("B", default="x", pattern="[a-z]+")),
        retries=3,
        retry_delay_s=2.5,
        status_hook="https://hooks.example/x",
        status_hook_events=("start", "end"),
    )
    await store.create_job(job)
    execution = make_execution(job, "1.000001", 1.0).replace(params={"A": "a b", "B": "x"}, retry_attempt=2)
    await store.create_execution(execution, results_of(execution))
    assert (await store.get_job(job.job_id)).replace(executors=(), last_run=None) == job
    assert await store.get_execution(job.job_id, "1.000001") == execution

    linked = execution.replace(retried_by="2.000002")
    await store.update_execution(linked)
    assert await store.get_execution(job.job_id, "1.000001") == linked
    assert len(await store.list_results(job.job_id, "1.000001")) == 2
    with pytest.raises(NotFound):
        await store.update_execution(linked.replace(executor_id="9.000009"))


async def test_delete_execution_removes_its_records_and_nothing_else(store: Store) -> None:
    job = make_job()
    await store.create_job(job)
    old, new = make_execution(job, "1.000001", 1.0), make_execution(job, "2.000002", 2.0)
    firsts = []
    for execution in (old, new):
        results = results_of(execution)
        firsts.append(results[0])
        await store.create_execution(execution, results)
        await store.append_output(results[0], 0, b"out of " + execution.executor_id.encode())
        await store.save_follow_up(_task(execution.executor_id, job.job_id, f"t-{execution.executor_id}", 5.0))

    await store.delete_execution(job.job_id, old.executor_id)
    await store.delete_execution(job.job_id, old.executor_id)  # gone already: nothing to do

    assert (await store.get_job(job.job_id)).executors == ("2.000002",)
    with pytest.raises(NotFound):
        await store.get_execution(job.job_id, old.executor_id)
    assert await store.list_results(job.job_id, old.executor_id) == []
    assert await read_output(store, firsts[0]) == []
    assert await store.list_follow_ups(job.job_id, old.executor_id) == []
    assert await read_output(store, firsts[1]) == [b"out of 2.000002"]
    assert [t.task_id for t in await store.list_pending_follow_ups()] == ["t-2.000002"]


async def test_follow_ups_are_replaced_by_id_and_listed_pending_soonest_first(store: Store) -> None:
    job = make_job()
    await store.create_job(job)
    execution = make_execution(job, "1.000001", 1.0)
    await store.create_execution(execution, results_of(execution))
    late, soon = _task("1.000001", job.job_id, "late", 30.0), _task("1.000001", job.job_id, "soon", 10.0)
    await store.save_follow_up(late)
    await store.save_follow_up(soon)
    assert [t.task_id for t in await store.list_pending_follow_ups()] == ["soon", "late"]

    attempt = {"At": 10.0, "Status": 500, "Error": "", "DurationS": 0.1}
    done = soon.replace(state=TaskState.DONE, attempts=(attempt, {**attempt, "Status": 200}))
    await store.save_follow_up(done)
    assert await store.list_pending_follow_ups() == [late]
    assert await store.list_follow_ups(job.job_id, "1.000001") == [soon.replace(**_fields(done)), late]

    await store.delete_job(job.job_id)
    assert await store.list_pending_follow_ups() == []
    assert await store.list_follow_ups(job.job_id, "1.000001") == []


def _fields(task: FollowUp) -> dict[str, object]:
    return {"state": task.state, "attempts": task.attempts}


async def test_a_pending_follow_up_is_claimed_by_one_process_until_its_claim_ends(store: Store) -> None:
    job = make_job()
    await store.create_job(job)
    execution = make_execution(job, "1.000001", 1.0)
    await store.create_execution(execution, results_of(execution))
    task = _task("1.000001", job.job_id, "t", 5.0)
    await store.save_follow_up(task)

    assert await store.claim_follow_up("t", now=10.0, until=40.0)
    assert not await store.claim_follow_up("t", now=20.0, until=50.0)  # another replica: held
    assert await store.claim_follow_up("t", now=41.0, until=70.0)  # the holder died: taken over after the claim
    await store.save_follow_up(task.replace(due_at=80.0))  # an attempt's outcome ends the claim
    assert await store.claim_follow_up("t", now=42.0, until=72.0)
    await store.save_follow_up(task.replace(state=TaskState.DONE))
    assert not await store.claim_follow_up("t", now=100.0, until=130.0)  # only pending ones
    assert not await store.claim_follow_up("nope", now=100.0, until=130.0)
