"""Inspect's quick Result dump gives exactly what ResultSchema's own dump gives, the body keeps its shape, and its
encoded text with kept entries is the JSON of the body."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest

from dce_jobs import schemas
from dce_jobs.models import FINAL_STATUSES, ContainerResult, EndReason, Execution, Status, Target, summarize
from dce_jobs.schemas.inspect import _RESULT, _dump_result_fast
from dce_jobs.schemas.inspect_json import InspectJson

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


def _body_view(views: list[schemas.ResultView], **changes: object) -> schemas.InspectView:
    execution = Execution(job_id="j", executor_id="1.000000", created_at=1.0, targets=(TARGET, MOVED)).replace(
        **changes
    )
    return schemas.InspectView(execution, summarize([v.result for v in views]), views)


#: VIEWS as the targets of one execution (one index each)
INDEXED = [replace(v, result=v.result.replace(index=i)) for i, v in enumerate(VIEWS)]
TARGETS = [v.target for v in INDEXED]


def _without_kept_output(views: list[schemas.ResultView], kept: dict[int, str]) -> list[schemas.ResultView]:
    """What inspect builds once entries are kept: their output is not read again."""
    return [replace(v, output=None) if v.result.index in kept else v for v in views]


def test_inspect_text_is_the_json_of_the_body_and_stays_so_once_entries_are_kept() -> None:
    encoder = InspectJson()
    view = _body_view(INDEXED)

    first = encoder.encode(view, encoder.kept([v.result for v in INDEXED], TARGETS))
    kept = encoder.kept([v.result for v in INDEXED], TARGETS)
    second = encoder.encode(_body_view(_without_kept_output(INDEXED, kept)), kept)

    expected = json.dumps(schemas.dump_inspect(view), ensure_ascii=False)
    assert first == expected and second == expected
    assert sorted(kept) == [v.result.index for v in INDEXED if v.result.status in FINAL_STATUSES]


def test_entries_kept_when_inspect_began_serve_it_whatever_the_memo_does_meanwhile() -> None:
    encoder = InspectJson()
    encoder.encode(_body_view(INDEXED), {})
    kept = encoder.kept([v.result for v in INDEXED], TARGETS)

    encoder._texts.clear()  # another request started the memo again while this one read the other outputs
    text = encoder.encode(_body_view(_without_kept_output(INDEXED, kept)), kept)

    assert text == json.dumps(schemas.dump_inspect(_body_view(INDEXED)), ensure_ascii=False)


def test_a_kept_entry_is_not_used_for_a_changed_record_or_a_running_target() -> None:
    encoder = InspectJson()
    ended, running = INDEXED[2], replace(INDEXED[1], output="more\n")
    encoder.encode(_body_view([ended]), {})

    changed = replace(ended, result=ended.result.replace(exit_code=3), output="other\n")
    views = [changed, running]
    kept = encoder.kept([v.result for v in views], [v.target for v in views])
    text = encoder.encode(_body_view(views, retried_by="2.000000"), kept)

    assert kept == {}
    assert text == json.dumps(schemas.dump_inspect(_body_view(views, retried_by="2.000000")), ensure_ascii=False)


def test_kept_entries_are_bounded_by_their_text() -> None:
    encoder = InspectJson(max_chars=2_000)
    ended = INDEXED[2]
    for index in range(50):
        encoder.encode(_body_view([replace(ended, result=ended.result.replace(index=index))]), {})

    last = ended.result.replace(index=49)
    assert sum(map(len, encoder._texts.values())) <= 2_000
    assert encoder.kept([last], [ended.target]) != {}
