"""What inspect answers: one execution with its summary and a Result entry per target (dump schemas)."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

from marshmallow import INCLUDE, Schema, fields, post_dump, validate

from ..models import (
    COUNT_KEYS,
    ContainerResult,
    EndReason,
    Execution,
    ExecutionState,
    FailureAction,
    FollowUp,
    Status,
    Summary,
    Target,
)
from .job import TargetSchema
from .ops import HookDeliverySchema


@dataclasses.dataclass(frozen=True)
class ResultView:
    """What one Result entry of inspect shows: the record, its target, and the tail of its output."""

    result: ContainerResult
    target: Target | None
    output: str | None = None  #: None before the target ran: no Output keys then
    output_tail: bool = False

    @property
    def end_reason(self) -> str | None:
        """The end reason; null until the target ends, and for a failed record from before end reasons were kept."""
        if self.result.end_reason is not None:
            return self.result.end_reason.value
        legacy = _LEGACY_END_REASONS.get(self.result.status)
        return None if legacy is None else legacy.value


#: a final record from before end reasons were kept: only a FINISHED one says for sure why it ended
_LEGACY_END_REASONS = {Status.FINISHED: EndReason.EXITED}


def _inspected(name: str, field: type[fields.Field[Any]], **options: Any) -> fields.Field[Any]:
    """An exec-inspect field of the engine's record, shown once the target finished."""
    return field(data_key=name, attribute=f"result.inspect.{name}", **options)


def _shown_or_null(
    field: type[fields.Field[Any]], data_key: str, attribute: str, description: str
) -> fields.Field[Any]:
    """A key inspect always carries, null until known (times, the timeout)."""
    return field(
        data_key=data_key, attribute=attribute, allow_none=True, required=True, metadata={"description": description}
    )


class ResultSchema(Schema):
    """One Result entry of inspect: the seed's keys, exec-inspect fields once known, and Output."""

    class Meta:
        unknown = INCLUDE  # a newer engine's further exec-inspect fields are passed on

    node_id = fields.String(data_key="NodeId", attribute="result.node_id", required=True)
    container_id = fields.String(data_key="ContainerId", attribute="result.container_id", required=True)
    exec_id = fields.String(
        data_key="ID", attribute="result.exec_id", required=True, metadata={"description": "exec id ('' until created)"}
    )
    status = fields.Enum(Status, by_value=True, data_key="Status", attribute="result.status", required=True)
    error = fields.String(
        data_key="E",
        attribute="result.error",
        required=True,
        metadata={"description": "why the target failed ('' when it did not)"},
    )
    slot = fields.Integer(
        data_key="Slot",
        attribute="target.slot",
        allow_none=True,
        required=True,
        metadata={"description": "Swarm task slot (null: global service)"},
    )
    previous_container_id = fields.String(
        data_key="PreviousContainerId",
        attribute="target.previous_container_id",
        metadata={"description": "a retry that followed the slot to a new task: the container it replaced"},
    )
    exit_code = fields.Integer(data_key="ExitCode", attribute="result.exit_code", allow_none=True)
    pid = _inspected("Pid", fields.Integer)
    running = _inspected("Running", fields.Boolean)
    process_config = _inspected(
        "ProcessConfig", fields.Dict, metadata={"description": "the engine's, with secret arguments masked"}
    )
    open_stdin = _inspected("OpenStdin", fields.Boolean)
    open_stdout = _inspected("OpenStdout", fields.Boolean)
    open_stderr = _inspected("OpenStderr", fields.Boolean)
    can_remove = _inspected("CanRemove", fields.Boolean)
    detach_keys = _inspected("DetachKeys", fields.String)
    container = _inspected("ContainerID", fields.String)
    started_at = _shown_or_null(fields.Float, "StartTime", "result.started_at", "when the process started (epoch s)")
    finished_at = _shown_or_null(fields.Float, "EndTime", "result.finished_at", "when the target ended (epoch s)")
    end_reason = fields.String(
        data_key="EndReason",
        allow_none=True,
        required=True,
        validate=validate.OneOf([r.value for r in EndReason]),
        metadata={"description": "why the target ended, a fixed vocabulary (E is the human message); null until then"},
    )
    output = fields.String(data_key="Output", metadata={"description": "the last 64 KiB of the stored output"})
    output_truncated = fields.Boolean(
        data_key="OutputTruncated",
        attribute="result.output_truncated",
        metadata={"description": "the stored output hit DCE_JOBS_OUTPUT_LIMIT_BYTES"},
    )
    output_tail = fields.Boolean(
        data_key="OutputTail", metadata={"description": "Output is only the tail of the stored output"}
    )

    @post_dump(pass_original=True)
    def _only_what_is_known(self, entry: dict[str, Any], view: ResultView, **kwargs: Any) -> dict[str, Any]:
        return _only_what_is_known(entry, view)


def _only_what_is_known(entry: dict[str, Any], view: ResultView) -> dict[str, Any]:
    if view.output is None:
        for key in ("Output", "OutputTruncated", "OutputTail"):
            entry.pop(key, None)
    if entry.get("ExitCode") is None:
        entry.pop("ExitCode", None)
    if not entry.get("PreviousContainerId"):
        entry.pop("PreviousContainerId", None)
    extra = {k: v for k, v in (view.result.inspect or {}).items() if k not in entry and k != "ExitCode"}
    return {**entry, **extra}


_MISSING = object()


def _plain(field: fields.Field[Any]) -> Callable[[Any], Any]:
    """What the field's serialisation does to a value that is not None (for the fields ResultSchema uses)."""
    if isinstance(field, fields.Enum):
        return lambda value: value.value
    for kind, convert in ((fields.Boolean, bool), (fields.Integer, int), (fields.Float, float), (fields.String, str)):
        if isinstance(field, kind):
            return convert
    if isinstance(field, fields.Dict) and field.key_field is None and field.value_field is None:
        return lambda value: value
    raise TypeError(f"no plain dump for {type(field).__name__}")


def _compile(schema: Schema) -> list[tuple[str, tuple[str, ...], Callable[[Any], Any]]]:
    """(key, attribute path, conversion) of each field of a dump schema, in its order."""
    return [
        (field.data_key or name, tuple((field.attribute or name).split(".")), _plain(field))
        for name, field in schema.dump_fields.items()
    ]


def _dump_plain(plan: list[tuple[str, tuple[str, ...], Callable[[Any], Any]]], obj: Any) -> dict[str, Any]:
    """A schema's dump by its compiled plan, without marshmallow's per-field machinery."""
    entry: dict[str, Any] = {}
    for key, path, convert in plan:
        value: Any = obj
        for part in path:
            if value is None or value is _MISSING:
                value = _MISSING
                break
            value = value.get(part, _MISSING) if isinstance(value, dict) else getattr(value, part, _MISSING)
        if value is not _MISSING:
            entry[key] = None if value is None else convert(value)
    return entry


def _dump_result_fast(view: ResultView) -> dict[str, Any]:
    """ResultSchema's dump, quick (inspect dumps hundreds of these per call; tests/unit/test_inspect_dump.py holds
    it equal to the schema's own dump)."""
    return _only_what_is_known(_dump_plain(_RESULT_PLAN, view), view)


def dump_result(view: ResultView) -> dict[str, Any]:
    """One Result entry of inspect."""
    return _RESULT.dump(view)  # type: ignore[no-any-return]


@dataclasses.dataclass(frozen=True)
class InspectView:
    """What inspect shows of one execution."""

    execution: Execution
    summary: Summary
    results: list[ResultView]
    deliveries: tuple[FollowUp, ...] = ()  #: the hook deliveries of this execution


class InspectSchema(Schema):
    """The seed's inspect body, with the execution's summary, rolling settings and RetryOf added."""

    job_id = fields.String(data_key="JobId", attribute="execution.job_id", required=True)
    executor_id = fields.String(data_key="ExecutorId", attribute="execution.executor_id", required=True)
    created_at = fields.Float(
        data_key="CreateTime",
        attribute="execution.created_at",
        required=True,
        metadata={"description": "seconds since the epoch"},
    )
    timeout_s = _shown_or_null(fields.Float, "Timeout", "execution.timeout_s", "seconds a target may run (null: none)")
    retry_of = fields.Function(
        lambda view: view.execution.retry_of or None,
        data_key="RetryOf",
        allow_none=True,
        required=True,
        metadata={"description": "the ExecutorId this execution retries", "type": "string", "nullable": True},
    )
    schedule_id = fields.Function(
        lambda view: view.execution.schedule_id or None,
        data_key="ScheduleId",
        allow_none=True,
        required=True,
        metadata={"description": "the schedule that started it (null: by hand)", "type": "string", "nullable": True},
    )
    owner_id = fields.Function(
        lambda view: view.execution.owner_id or None,
        data_key="Owner",
        allow_none=True,
        required=True,
        metadata={"description": "the service process (replica) that runs it", "type": "string", "nullable": True},
    )
    retried_by = fields.Function(
        lambda view: view.execution.retried_by or None,
        data_key="RetriedBy",
        allow_none=True,
        required=True,
        metadata={
            "description": "the ExecutorId of the execution that retried this one",
            "type": "string",
            "nullable": True,
        },
    )
    retry_attempt = fields.Integer(
        data_key="RetryAttempt",
        attribute="execution.retry_attempt",
        required=True,
        metadata={"description": "1..Retries for an automatic retry, 0 for a start or a manual retry"},
    )
    hook_deliveries = fields.List(
        fields.Nested(HookDeliverySchema),
        data_key="HookDeliveries",
        attribute="deliveries",
        required=True,
        metadata={"description": "the StatusHook deliveries of this execution with their attempts"},
    )
    params = fields.Dict(
        keys=fields.String(),
        values=fields.String(),
        data_key="Params",
        attribute="execution.params",
        required=True,
        metadata={"description": "the parameter values this run used (not secret)"},
    )
    app_name = fields.String(
        data_key="AppName",
        attribute="execution.app_name",
        required=True,
        metadata={"description": "the job's AppName when it started ('' in records from before it was kept)"},
    )
    service_name = fields.String(
        data_key="ServiceName",
        attribute="execution.service_name",
        required=True,
        metadata={"description": "the job's ServiceName when it started ('' in records from before it was kept)"},
    )
    trigger = fields.String(
        data_key="Trigger",
        attribute="execution.trigger",
        required=True,
        metadata={"description": "how it was started: manual, retry, schedule"},
    )
    started_by = fields.String(
        data_key="StartedBy",
        attribute="execution.started_by",
        required=True,
        metadata={"description": "the user who started it; schedule for a fire, retry for an automatic retry"},
    )
    state = fields.Enum(ExecutionState, by_value=True, data_key="State", attribute="summary.state", required=True)
    ended_at = _shown_or_null(fields.Float, "EndTime", "summary.ended_at", "when the last target ended (epoch s)")
    counts = fields.Dict(
        keys=fields.String(validate=validate.OneOf(COUNT_KEYS)),
        values=fields.Integer(),
        data_key="Counts",
        attribute="summary.counts",
        required=True,
    )
    parallelism = fields.Integer(data_key="Parallelism", attribute="execution.rolling.parallelism", required=True)
    delay_s = fields.Float(data_key="Delay", attribute="execution.rolling.delay_s", required=True)
    failure_action = fields.Enum(
        FailureAction,
        by_value=True,
        data_key="FailureAction",
        attribute="execution.rolling.failure_action",
        required=True,
    )
    max_failure_ratio = fields.Float(
        data_key="MaxFailureRatio", attribute="execution.rolling.max_failure_ratio", required=True
    )
    targets = fields.List(fields.Nested(TargetSchema), data_key="Target", attribute="execution.targets", required=True)
    results = fields.List(fields.Nested(ResultSchema), data_key="Result", required=True)


def dump_inspect(view: InspectView) -> dict[str, Any]:
    """The inspect body of one execution."""
    body: dict[str, Any] = _INSPECT_HEAD.dump(view)
    body["Target"] = [_dump_plain(_TARGET_PLAN, t) for t in view.execution.targets]
    body["Result"] = [_dump_result_fast(r) for r in view.results]
    return body


_RESULT = ResultSchema()
_RESULT_PLAN = _compile(_RESULT)
_TARGET_PLAN = _compile(TargetSchema())
#: the body's head by the schema; Target and Result (its last two keys) by the compiled plans
_INSPECT_HEAD = InspectSchema(exclude=("targets", "results"))
