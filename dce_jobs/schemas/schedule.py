"""A schedule on the wire: POST and PUT bodies in, the schedule with NextRunTime and LastFire out."""

from __future__ import annotations

import dataclasses
from typing import Any

from marshmallow import RAISE, Schema, fields, validate

from ..schedule import ConcurrencyPolicy, Fire, FireOutcome, Schedule
from .base import _CONTAINER_RE, MAX_TARGETS, StrictBool, StrictNumber, _load, _no_nul, _timeout
from .job import RollingFields

MAX_PARAMS = 64
#: RunAt up to the year 9999 (epoch seconds)
MAX_RUN_AT_S = 253402300799.0
#: the fields a PUT may leave out (all of them: each absent one keeps the stored value)
SCHEDULE_FIELDS = (
    "run_at",
    "cron",
    "time_zone",
    "enabled",
    "container_ids",
    "timeout_s",
    "parallelism",
    "delay_s",
    "failure_action",
    "max_failure_ratio",
    "params",
    "concurrency",
)


class ScheduleSchema(Schema, RollingFields):
    """A schedule's definition, both ways (ScheduleId, JobId, NextRunTime and LastFire only out)."""

    class Meta:
        unknown = RAISE

    schedule_id = fields.String(data_key="ScheduleId", dump_only=True)
    job_id = fields.String(data_key="JobId", dump_only=True)
    run_at = StrictNumber(
        data_key="RunAt",
        allow_none=True,
        validate=validate.Range(0, MAX_RUN_AT_S),
        allow_nan=False,
        metadata={"description": "one-shot time, epoch seconds (or Cron)"},
    )
    cron = fields.String(
        data_key="Cron",
        validate=[validate.Length(max=256), _no_nul],
        metadata={"description": "5 cron fields, in TimeZone (or RunAt)"},
    )
    time_zone = fields.String(
        data_key="TimeZone",
        validate=[validate.Length(max=64), _no_nul],
        metadata={"description": "IANA time zone of Cron; empty: the server's"},
    )
    enabled = StrictBool(data_key="Enabled")
    container_ids = fields.List(
        fields.String(
            validate=validate.Regexp(_CONTAINER_RE, error="Must be a container id or a prefix of 12+ hex characters.")
        ),
        data_key="ContainerIds",
        allow_none=True,
        validate=validate.Length(min=1, max=MAX_TARGETS),
        metadata={"description": "fixed targets; null or absent: every running task of the service at fire time"},
    )
    timeout_s = _timeout()
    params = fields.Dict(
        keys=fields.String(validate=[validate.Length(min=1, max=128), _no_nul]),
        values=fields.String(validate=[validate.Length(max=4096), _no_nul]),
        data_key="Params",
        validate=validate.Length(max=MAX_PARAMS),
    )
    concurrency = fields.Enum(ConcurrencyPolicy, by_value=True, data_key="ConcurrencyPolicy")


class LastFireSchema(Schema):
    """What became of a schedule's latest due time."""

    due_s = fields.Float(data_key="DueTime", required=True)
    fired_at = fields.Float(data_key="FiredAt", required=True)
    outcome = fields.Enum(FireOutcome, by_value=True, data_key="Outcome", required=True)
    executor_id = fields.Function(
        lambda fire: fire.executor_id or None,
        data_key="ExecutorId",
        required=True,
        metadata={"type": "string", "nullable": True},
    )
    reason = fields.String(data_key="Reason", required=True)
    owner_id = fields.String(data_key="Owner", required=True)


class ScheduleOutSchema(ScheduleSchema):
    """A schedule as answered: every field, plus NextRunTime and LastFire."""

    next_run_s = fields.Float(
        data_key="NextRunTime", allow_none=True, metadata={"description": "epoch seconds; null: nothing more to fire"}
    )
    last_fire = fields.Nested(LastFireSchema, data_key="LastFire", allow_none=True)
    created_at = fields.Float(data_key="CreateTime")
    updated_at = fields.Float(data_key="UpdateTime")


@dataclasses.dataclass(frozen=True)
class ScheduleView:
    """A schedule with what the scheduler knows of it."""

    schedule: Schedule
    next_run_s: float | None
    last_fire: Fire | None
    time_zone: str  #: the zone in force (the server's when the schedule names none)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.schedule, name)


def load_schedule(payload: Any, *, partial: bool = False) -> dict[str, Any]:
    """Validate a schedule body into Schedule attributes; raise InvalidInput naming each bad field."""
    data = _load(ScheduleSchema(partial=SCHEDULE_FIELDS if partial else ()), payload)
    if partial and "Timeout" not in payload:
        data.pop("timeout_s", None)  # its load_default must not clear the stored one
    if "container_ids" in data and data["container_ids"] is not None:
        data["container_ids"] = tuple(data["container_ids"])
    return data


def dump_schedule(view: ScheduleView) -> dict[str, Any]:
    """One schedule as answered."""
    body: dict[str, Any] = _OUT.dump(view)
    body["TimeZone"] = view.time_zone
    body["RunAt"] = view.schedule.run_at
    body["Cron"] = view.schedule.cron
    body["ContainerIds"] = None if view.schedule.container_ids is None else list(view.schedule.container_ids)
    body["Timeout"] = view.schedule.timeout_s
    for key in ("Parallelism", "Delay", "FailureAction", "MaxFailureRatio"):
        body.setdefault(key, None)  # null: the job's setting applies at fire time
    return body


_OUT = ScheduleOutSchema()
