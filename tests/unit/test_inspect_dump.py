"""Inspect's quick Result dump gives exactly what ResultSchema's own dump gives, and the body keeps its shape."""

from __future__ import annotations

import pytest

from dce_jobs import schemas
from dce_jobs.models import ContainerResult, EndReason, Execution, Status, Target, summarize
from dce_jobs.schemas.inspect import _RESULT, _dump_result_fast

TARGET = Target(container_id="c" * 64, node_id="n1", slot=3)
MOVED = Target(container_id="d" * 64, node_id="n2", slot=None, previous_container_id="e" * 64)
INSPECTED = {
    "ID": "x" * 64,
    "Running": False,
    "ExitCode": 2,
    "Pid": 0,
    "ProcessConfig": {"entrypoint": "sh", "arguments": ["-c", "exit 2", "****"], "privileged": False},
    "OpenStdin": False,
    "OpenStdout": True,
    "OpenStderr": True,
    "CanRemove": False,
    "DetachKeys": "",
    "ContainerID": "c" * 64,
    "NewerEngineField": {"a": 1},
}


def _result(**changes: object) -> ContainerResult:
    base = ContainerResult(job_id="j", executor_id="1.000000", index=0, container_id="c" * 64, node_id="n1")
    return base.replace(**changes)


VIEWS = [
    schemas.ResultView(_result(), TARGET),
    schemas.ResultView(_result(status=Status.RUNNING, exec_id="x" * 64, started_at=5.0), TARGET, "hi\n", False),
    schemas.ResultView(
        _result(
            status=Status.FINISHED,
            exec_id="x" * 64,
            exit_code=2,
            inspect=INSPECTED,
            started_at=5.0,
            finished_at=6.5,
            end_reason=EndReason.EXITED,
            output_truncated=True,
        ),
        MOVED,
        "tail\n",
        True,
    ),
    schemas.ResultView(_result(status=Status.FINISHED, exit_code=0), TARGET, "", False),  # a legacy record
    schemas.ResultView(
        _result(status=Status.CREATE_FAILED, error="gone", end_reason=EndReason.CONTAINER_GONE, finished_at=2.0), None
    ),
    schemas.ResultView(_result(status=Status.RUNNING_FAILED, inspect={"Pid": 7}, exit_code=None), TARGET, "x", False),
]


@pytest.mark.parametrize("view", VIEWS)
def test_quick_result_dump_equals_the_schema_dump(view: schemas.ResultView) -> None:
    expected = _RESULT.dump(view)

    got = _dump_result_fast(view)

    assert got == expected and list(got) == list(expected)


def test_inspect_body_keeps_every_key_in_order() -> None:
    execution = Execution(job_id="j", executor_id="1.000000", created_at=1.0, targets=(TARGET, MOVED))
    results = [v.result for v in VIEWS[:2]]
    view = schemas.InspectView(execution, summarize(results), VIEWS[:2])

    body = schemas.dump_inspect(view)

    full = schemas.InspectSchema().dump(view)
    assert body == full and list(body) == list(full)
