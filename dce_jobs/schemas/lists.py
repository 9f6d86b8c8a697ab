"""Lists on the wire: query parameters of the job list, the histories and the audit trail; their entries."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from typing import Any

from marshmallow import RAISE, Schema, ValidationError, fields, validate

from ..errors import InvalidInput
from ..models import COUNT_KEYS, AuditEntry, ExecutionEntry
from ..queries import (
    AUDIT_ACTIONS,
    EXECUTION_STATES,
    JOB_SORTS,
    LAST_STATES,
    MAX_PAGE_SIZE,
    AuditQuery,
    ExecutionQuery,
    JobQuery,
    TimeRange,
    Window,
)
from .base import describe_errors

_LONE_SURROGATE = re.compile("[\ud800-\udfff]")
_MAX_TEXT = 256
SORTS = tuple(sorted([*JOB_SORTS, *(f"-{name}" for name in JOB_SORTS)]))


def _text(value: str) -> None:
    if _LONE_SURROGATE.search(value):
        raise ValidationError("Must be Unicode text (no lone surrogate).")


def _text_field(description: str) -> fields.String:
    return fields.String(validate=[validate.Length(max=_MAX_TEXT), _text], metadata={"description": description})


def _time(description: str) -> fields.Float:
    return fields.Float(allow_nan=False, validate=validate.Range(min=0), metadata={"description": description})


class PageParams(Schema):
    """Paging: Page (1-based) and Size (at most MAX_PAGE_SIZE; absent: every match)."""

    class Meta:
        unknown = RAISE

    Page = fields.Integer(validate=validate.Range(min=1, max=10_000_000), metadata={"description": "1-based page"})
    Size = fields.Integer(
        validate=validate.Range(min=1, max=MAX_PAGE_SIZE),
        metadata={"description": f"entries per page (1..{MAX_PAGE_SIZE}); absent: all jobs, 50 other entries"},
    )


class JobListParams(PageParams):
    """Query parameters of GET /api/jobs."""

    AppName = _text_field("only jobs of this app (exact)")
    ServiceName = _text_field("only jobs of this service (exact)")
    Name = _text_field("jobs whose Name contains this text (case-insensitive, no wildcards)")
    CreatedAfter = _time("created at or after (epoch s)")
    CreatedBefore = _time("created at or before (epoch s)")
    UpdatedAfter = _time("edited at or after (epoch s)")
    UpdatedBefore = _time("edited at or before (epoch s)")
    LastState = fields.String(validate=validate.OneOf(LAST_STATES), metadata={"description": "state of LastRun"})
    Sort = fields.String(
        validate=validate.OneOf(SORTS),
        metadata={
            "description": "order (- for descending; ties by JobId); LastRunTime is when the job's newest execution "
            "started: jobs that never ran come first ascending, last descending"
        },
    )


class ExecutionListParams(PageParams):
    """Query parameters of the execution histories (AppName and ServiceName across jobs only)."""

    State = fields.String(validate=validate.OneOf(EXECUTION_STATES), metadata={"description": "stored state"})
    CreatedAfter = _time("started at or after (epoch s)")
    CreatedBefore = _time("started at or before (epoch s)")
    AppName = _text_field("only executions of jobs of this app (as it was when they started)")
    ServiceName = _text_field("only executions on this service")


class JobExecutionListParams(ExecutionListParams):
    """Query parameters of one job's history."""

    class Meta:
        exclude = ("AppName", "ServiceName")


class AuditListParams(PageParams):
    """Query parameters of GET /api/audit."""

    JobId = _text_field("only entries of this job")
    User = _text_field("only entries of this user")
    Action = fields.String(validate=validate.OneOf(AUDIT_ACTIONS))
    After = _time("at or after (epoch s)")
    Before = _time("at or before (epoch s)")


# built once: a Schema's construction deep-copies its fields, more than the load of a few parameters costs
_JOB_LIST_PARAMS = JobListParams()
_EXECUTION_LIST_PARAMS = ExecutionListParams()
_JOB_EXECUTION_LIST_PARAMS = JobExecutionListParams()
_AUDIT_LIST_PARAMS = AuditListParams()


def _params(schema: Schema, pairs: Sequence[tuple[str, str]]) -> dict[str, Any]:
    """Validated parameters; a repeated or unknown one is refused by name, an empty text one is absent."""
    repeated = sorted(k for k, n in Counter(k for k, _ in pairs).items() if n > 1)
    if repeated:
        raise InvalidInput(f"{repeated[0]}: given more than once")
    try:
        data: dict[str, Any] = schema.load(dict(pairs))
    except ValidationError as e:
        raise InvalidInput(describe_errors(e.messages)) from None
    return {k: v for k, v in data.items() if v != ""}


#: page size of the histories and the audit trail when Size is absent (the job list: every job, as the seed)
DEFAULT_PAGE_SIZE = 50


def _window(data: dict[str, Any], default_size: int | None = DEFAULT_PAGE_SIZE) -> Window:
    return Window(page=data.get("Page", 1), size=data.get("Size", default_size))


def _span(data: dict[str, Any], after: str, before: str) -> TimeRange:
    return TimeRange(data.get(after), data.get(before))


def load_job_list(pairs: Sequence[tuple[str, str]]) -> JobQuery:
    """The job list's parameters as a JobQuery (the seed's call, none or AppName only, is every job oldest first)."""
    data = _params(_JOB_LIST_PARAMS, pairs)
    sort = data.get("Sort", "CreateTime")
    return JobQuery(
        app_name=data.get("AppName"),
        service_name=data.get("ServiceName"),
        name_part=data["Name"].casefold() if data.get("Name") else None,
        created=_span(data, "CreatedAfter", "CreatedBefore"),
        updated=_span(data, "UpdatedAfter", "UpdatedBefore"),
        last_state=data.get("LastState"),
        sort=JOB_SORTS[sort.lstrip("-")],
        descending=sort.startswith("-"),
        window=_window(data, None),
    )


def load_execution_list(pairs: Sequence[tuple[str, str]], *, job_id: str | None = None) -> ExecutionQuery:
    """A history's parameters (one job's when `job_id` is given: no AppName/ServiceName there)."""
    data = _params(_JOB_EXECUTION_LIST_PARAMS if job_id is not None else _EXECUTION_LIST_PARAMS, pairs)
    return ExecutionQuery(
        job_id=job_id,
        app_name=data.get("AppName"),
        service_name=data.get("ServiceName"),
        state=data.get("State"),
        created=_span(data, "CreatedAfter", "CreatedBefore"),
        window=_window(data),
    )


def load_audit_list(pairs: Sequence[tuple[str, str]]) -> AuditQuery:
    """The audit trail's parameters."""
    data = _params(_AUDIT_LIST_PARAMS, pairs)
    return AuditQuery(
        job_id=data.get("JobId"),
        user=data.get("User"),
        action=data.get("Action"),
        at=_span(data, "After", "Before"),
        window=_window(data),
    )


class ExecutionEntrySchema(Schema):
    """One execution in a history: when, how it started and ended, counts by outcome (no results)."""

    job_id = fields.String(data_key="JobId", required=True)
    job_name = fields.String(
        data_key="JobName",
        allow_none=True,
        required=True,
        metadata={"description": "the job's current Name (null: the job has been deleted)"},
    )
    executor_id = fields.String(data_key="ExecutorId", required=True)
    app_name = fields.String(data_key="AppName", required=True)
    service_name = fields.String(data_key="ServiceName", required=True)
    created_at = fields.Float(data_key="CreateTime", required=True, metadata={"description": "epoch s"})
    ended_at = fields.Float(data_key="EndTime", allow_none=True, required=True, metadata={"description": "epoch s"})
    duration_s = fields.Method(
        "_duration", data_key="Duration", allow_none=True, metadata={"description": "seconds (null while running)"}
    )
    state = fields.String(
        data_key="State", required=True, metadata={"description": "running, paused, succeeded, failed or stopped"}
    )
    counts = fields.Dict(
        keys=fields.String(validate=validate.OneOf(COUNT_KEYS)),
        values=fields.Integer(),
        data_key="Counts",
        allow_none=True,
        required=True,
    )
    trigger = fields.String(data_key="Trigger", required=True, metadata={"description": "manual, retry or schedule"})
    started_by = fields.String(data_key="StartedBy", required=True)
    retry_of = fields.Function(
        lambda e: e.retry_of or None, data_key="RetryOf", allow_none=True, metadata={"description": "ExecutorId"}
    )
    targets = fields.Integer(data_key="Targets", required=True, metadata={"description": "how many containers"})

    def _duration(self, entry: ExecutionEntry) -> float | None:
        return None if entry.ended_at is None else round(max(entry.ended_at - entry.created_at, 0.0), 6)


class AuditEntrySchema(Schema):
    """One audit entry: who did what to which job; for an edit the names of the fields it changed."""

    audit_id = fields.String(data_key="AuditId", required=True)
    at = fields.Float(data_key="Time", required=True, metadata={"description": "epoch s"})
    user = fields.String(data_key="User", required=True)
    action = fields.String(data_key="Action", required=True, validate=validate.OneOf(AUDIT_ACTIONS))
    job_id = fields.String(data_key="JobId", required=True)
    job_name = fields.String(data_key="JobName", required=True)
    executor_id = fields.Function(lambda e: e.executor_id or None, data_key="ExecutorId", allow_none=True)
    fields_changed = fields.List(fields.String(), data_key="Fields", attribute="fields", required=True)
    schedule_id = fields.Function(
        lambda e: e.schedule_id or None,
        data_key="ScheduleId",
        allow_none=True,
        metadata={"description": "the schedule of a schedule.* action (null otherwise)"},
    )


_ENTRIES = ExecutionEntrySchema(many=True)
_AUDIT = AuditEntrySchema(many=True)


def dump_execution_entries(entries: list[ExecutionEntry]) -> list[dict[str, Any]]:
    """History entries on the wire."""
    return _ENTRIES.dump(entries)  # type: ignore[no-any-return]


def dump_audit_entries(entries: list[AuditEntry]) -> list[dict[str, Any]]:
    """Audit entries on the wire."""
    return _AUDIT.dump(entries)  # type: ignore[no-any-return]
