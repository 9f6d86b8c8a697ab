"""The status state machine."""

from __future__ import annotations

import random

import pytest

from dce_jobs.errors import InvalidTransition
from dce_jobs.models import (
    ContainerResult,
    EndReason,
    Job,
    LastRun,
    Status,
    Tally,
    new_executor_id,
    summarize,
    transition,
)


def result(status: Status = Status.STARTING) -> ContainerResult:
    return ContainerResult(job_id="j", executor_id="1.0", index=0, container_id="c" * 64, node_id="n", status=status)


def test_happy_path_sets_times() -> None:
    r = transition(result(), Status.CREATED, exec_id="e")
    r = transition(r, Status.RUNNING)
    assert r.started_at is not None and r.finished_at is None
    r = transition(r, Status.FINISHED, exit_code=0)
    assert r.finished_at is not None and r.exit_code == 0 and r.exec_id == "e"


@pytest.mark.parametrize(
    ("start", "target"),
    [
        (Status.STARTING, Status.RUNNING),
        (Status.STARTING, Status.FINISHED),
        (Status.RUNNING, Status.CREATED),
        (Status.FINISHED, Status.RUNNING_FAILED),
        (Status.CREATE_FAILED, Status.CREATED),
        (Status.RUNNING_FAILED, Status.FINISHED),
    ],
)
def test_forbidden_transitions_raise(start: Status, target: Status) -> None:
    with pytest.raises(InvalidTransition):
        transition(result(start), target)


def test_final_statuses() -> None:
    assert {s for s in Status if s.is_final} == {Status.CREATE_FAILED, Status.RUNNING_FAILED, Status.FINISHED}


def test_executor_id_has_microseconds() -> None:
    assert new_executor_id(1496287694.460088) == "1496287694.460088"


def test_with_runs_is_replace_of_executors_and_last_run() -> None:
    job = Job(job_id="a", app_name="b", service_name="c", name="d", cmd="e", env=("A=1",), executors=("0.5",))
    last_run = LastRun("2.0", "failed", 3.0)

    copy = job.with_runs(("1.0", "2.0"), last_run)

    assert copy == job.replace(executors=("1.0", "2.0"), last_run=last_run)
    assert hash(copy) == hash(job.replace(executors=("1.0", "2.0"), last_run=last_run))
    assert job.executors == ("0.5",) and job.last_run is None


def test_a_tally_updated_one_result_at_a_time_gives_what_counting_them_all_gives() -> None:
    rng = random.Random(7)
    base = [ContainerResult("j", "1.0", i, f"c{i}", "n") for i in range(12)]
    tally, current = Tally(base), list(base)
    endings = [
        (Status.CREATED, None, None),
        (Status.RUNNING, None, None),
        (Status.FINISHED, 0, EndReason.EXITED),
        (Status.FINISHED, 3, EndReason.EXITED),
        (Status.RUNNING_FAILED, None, EndReason.STOPPED),
        (Status.CREATE_FAILED, None, EndReason.NOT_STARTED),
    ]
    for step in range(300):
        index = rng.randrange(len(current))
        status, exit_code, reason = rng.choice(endings)
        changed = current[index].replace(status=status, exit_code=exit_code, end_reason=reason, finished_at=float(step))
        current[index] = changed
        tally.update(changed)
        for paused in (False, True):
            assert tally.summary(paused=paused) == summarize(current, paused=paused)
