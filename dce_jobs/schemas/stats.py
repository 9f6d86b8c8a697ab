"""Statistics: the query of GET /api/stats/executions and the shapes of both stats answers."""

from __future__ import annotations

import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from marshmallow import Schema, ValidationError, fields, validate

from ..errors import InvalidInput
from ..stats import STATES, StatsView
from .base import describe_errors

MAX_DAYS = 365


def _zone(name: str) -> None:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as e:
        raise ValidationError("an IANA time zone name such as UTC or Asia/Shanghai") from e


class StatsQuerySchema(Schema):
    """GET /api/stats/executions query: the last Days local days, of one job or app, in TimeZone."""

    days = fields.Integer(data_key="Days", load_default=30, strict=False, validate=validate.Range(1, MAX_DAYS))
    job_id = fields.String(data_key="JobId", load_default=None, validate=validate.Length(1, 64))
    app_name = fields.String(data_key="AppName", load_default=None, validate=validate.Length(1, 256))
    time_zone = fields.String(data_key="TimeZone", load_default="UTC", validate=[validate.Length(1, 64), _zone])


_STATS_QUERY = StatsQuerySchema()


def load_stats_query(query: dict[str, str]) -> tuple[int, str | None, str | None, ZoneInfo]:
    """(Days, JobId, AppName, zone) from a query string; InvalidInput when a value is out of bounds."""
    try:
        loaded = _STATS_QUERY.load(query)
    except ValidationError as e:
        raise InvalidInput(describe_errors(e.messages)) from None
    return loaded["days"], loaded["job_id"], loaded["app_name"], ZoneInfo(loaded["time_zone"])


def _counts() -> dict[str, fields.Integer]:
    return {state.capitalize(): fields.Integer(required=True) for state in STATES}


DayCountsSchema = Schema.from_dict(
    {"Date": fields.String(required=True), "Total": fields.Integer(required=True), **_counts()},
    name="DayCountsSchema",
)


class DurationsSchema(Schema):
    """Percentiles of the durations of ended executions, in seconds (null when none ended)."""

    Count = fields.Integer(required=True)
    P50 = fields.Float(required=True, allow_none=True)
    P90 = fields.Float(required=True, allow_none=True)
    P99 = fields.Float(required=True, allow_none=True)


class ExecutionStatsSchema(Schema):
    """GET /api/stats/executions."""

    Days = fields.Integer(required=True)
    TimeZone = fields.String(required=True)
    Since = fields.String(required=True, metadata={"description": "start of the first day, ISO 8601"})
    JobId = fields.String(required=True, allow_none=True)
    AppName = fields.String(required=True, allow_none=True)
    Total = fields.Integer(required=True)
    SuccessRate = fields.Float(
        required=True, allow_none=True, metadata={"description": "succeeded / (succeeded + failed + stopped)"}
    )
    Daily = fields.List(fields.Nested(DayCountsSchema), required=True)
    Hourly = fields.List(
        fields.Integer(), required=True, metadata={"description": "executions started in each local hour 0-23"}
    )
    Durations = fields.Nested(DurationsSchema, required=True)


def dump_execution_stats(
    view: StatsView, *, days: int, zone: ZoneInfo, since_s: float, job_id: str | None, app_name: str | None
) -> dict[str, Any]:
    """The statistics answer."""
    return {
        "Days": days,
        "TimeZone": str(zone),
        "Since": dt.datetime.fromtimestamp(since_s, zone).isoformat(),
        "JobId": job_id,
        "AppName": app_name,
        "Total": view.total,
        "SuccessRate": view.success_rate,
        "Daily": [
            {"Date": d.date, "Total": sum(d.counts.values()), **{s.capitalize(): d.counts[s] for s in STATES}}
            for d in view.days
        ],
        "Hourly": view.hourly,
        "Durations": {"Count": view.ended_count, **{f"P{p}": view.durations_s.get(p) for p in (50, 90, 99)}},
    }


class LatencySchema(Schema):
    """Recent call durations (the last 512 calls), in milliseconds."""

    count = fields.Integer(required=True)
    p50_ms = fields.Float(required=True, allow_none=True)
    p90_ms = fields.Float(required=True, allow_none=True)
    p99_ms = fields.Float(required=True, allow_none=True)


class NodeStatsSchema(Schema):
    """One node's load."""

    NodeId = fields.String(required=True)
    RunningExecs = fields.Integer(required=True)
    EngineCalls = fields.Nested(LatencySchema, required=True)


class ServiceStatsSchema(Schema):
    """GET /api/stats: the service's own health and load."""

    Version = fields.String(required=True)
    UptimeS = fields.Float(required=True)
    RunningExecutions = fields.Integer(required=True)
    RunningExecs = fields.Integer(required=True)
    Nodes = fields.List(fields.Nested(NodeStatsSchema), required=True)
    Store = fields.Nested(LatencySchema, required=True)
    Threads = fields.Integer(required=True)
    EngineCallThreads = fields.Integer(required=True)
    EngineCallQueue = fields.Integer(required=True)
