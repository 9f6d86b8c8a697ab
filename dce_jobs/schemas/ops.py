"""Shapes of issue 15's operations: the body a StatusHook receives and the deliveries inspect shows."""

from __future__ import annotations

import dataclasses
from typing import Any

from marshmallow import Schema, fields, validate

from ..models import COUNT_KEYS, ContainerResult, EndReason, Execution, ExecutionState, Job, Status, Summary


def _duration(start: float | None, end: float | None) -> float | None:
    return None if start is None or end is None else round(end - start, 6)


class HookTargetSchema(Schema):
    """One target in a hook body: where it ran and how it ended (never its output nor its E)."""

    container_id = fields.String(data_key="ContainerId")
    node_id = fields.String(data_key="NodeId")
    status = fields.Enum(Status, by_value=True, data_key="Status")
    exit_code = fields.Integer(data_key="ExitCode", allow_none=True)
    end_reason = fields.Enum(EndReason, by_value=True, data_key="EndReason", allow_none=True)
    started_at = fields.Float(data_key="StartTime", allow_none=True)
    finished_at = fields.Float(data_key="EndTime", allow_none=True)
    duration_s = fields.Function(
        lambda r: _duration(r.started_at, r.finished_at), data_key="DurationS", metadata={"type": "number"}
    )


@dataclasses.dataclass(frozen=True)
class HookView:
    """What one hook event tells: the job, the execution, its summary and its targets."""

    event: str
    job: Job
    execution: Execution
    summary: Summary
    results: list[ContainerResult]


class HookBodySchema(Schema):
    """The JSON body POSTed to a StatusHook (signed: X-DCE-Jobs-Signature)."""

    event = fields.String(data_key="Event", validate=validate.OneOf(("start", "end")))
    job_id = fields.String(data_key="JobId", attribute="job.job_id")
    name = fields.String(data_key="JobName", attribute="job.name")
    app_name = fields.String(data_key="AppName", attribute="job.app_name")
    service_name = fields.String(data_key="ServiceName", attribute="job.service_name")
    executor_id = fields.String(data_key="ExecutorId", attribute="execution.executor_id")
    retry_of = fields.Function(lambda v: v.execution.retry_of or None, data_key="RetryOf")
    retry_attempt = fields.Integer(data_key="RetryAttempt", attribute="execution.retry_attempt")
    state = fields.Enum(ExecutionState, by_value=True, data_key="State", attribute="summary.state")
    created_at = fields.Float(data_key="CreateTime", attribute="execution.created_at")
    ended_at = fields.Float(data_key="EndTime", attribute="summary.ended_at", allow_none=True)
    duration_s = fields.Function(lambda v: _duration(v.execution.created_at, v.summary.ended_at), data_key="DurationS")
    counts = fields.Dict(
        keys=fields.String(validate=validate.OneOf(COUNT_KEYS)),
        values=fields.Integer(),
        data_key="Counts",
        attribute="summary.counts",
    )
    results = fields.List(fields.Nested(HookTargetSchema), data_key="Result")


def dump_hook_body(view: HookView) -> dict[str, Any]:
    """The body of one hook event."""
    return _HOOK_BODY.dump(view)  # type: ignore[no-any-return]


class HookAttemptSchema(Schema):
    """One attempt of a hook delivery."""

    at = fields.Float(data_key="At", metadata={"description": "when it began (epoch s)"})
    status = fields.Integer(data_key="Status", allow_none=True, metadata={"description": "HTTP status, null: none"})
    error = fields.String(data_key="Error", metadata={"description": "why it failed ('' when it did not)"})
    duration_s = fields.Float(data_key="DurationS")


class HookDeliverySchema(Schema):
    """One delivery of a hook event, as inspect shows it: its attempts so far and what comes next."""

    delivery_id = fields.String(data_key="DeliveryId", attribute="task_id", required=True)
    event = fields.Function(lambda t: t.payload.get("event", ""), data_key="Event", metadata={"type": "string"})
    state = fields.Function(
        lambda t: t.state.value,
        data_key="State",
        metadata={"type": "string", "enum": ["pending", "done", "failed", "cancelled"]},
    )
    next_attempt_at = fields.Function(
        lambda t: t.due_at if t.state.value == "pending" else None,
        data_key="NextAttemptAt",
        metadata={"type": "number", "nullable": True},
    )
    attempts = fields.List(
        fields.Nested(HookAttemptSchema), data_key="Attempts", metadata={"description": "oldest first"}
    )


_HOOK_BODY = HookBodySchema()
