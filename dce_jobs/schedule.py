"""Schedules of a job and their fires; the only user of cronsim and zoneinfo (due-time arithmetic)."""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, tzinfo
from enum import StrEnum
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from cronsim import CronSim, CronSimError

from .errors import InvalidInput

#: due times counted past a schedule's last fire before the count is given up (a reason text only)
MAX_COUNTED = 1000


class ConcurrencyPolicy(StrEnum):
    """What a fire does while the job's previous run is still going."""

    SKIP = "Skip"  #: skip the fire and record it skipped
    ALLOW = "Allow"  #: start another execution beside it


class FireOutcome(StrEnum):
    """What became of one due time of a schedule (a fixed vocabulary; the human reason sits beside it)."""

    PENDING = "pending"  #: claimed by a replica, not handled yet
    FIRED = "fired"  #: an execution was started (ExecutorId)
    SKIPPED = "skipped"  #: the job's previous run was still going (ConcurrencyPolicy Skip)
    MISSED = "missed"  #: no replica ran at the due time and it is older than DCE_JOBS_MISSED_FIRE_S
    FAILED = "failed"  #: the start was refused (no running containers, a target gone, ...)


@dataclass(frozen=True)
class Schedule:
    """When and how a job starts by itself: one `run_at` time or a 5-field `cron` in `time_zone`."""

    schedule_id: str
    job_id: str
    run_at: float | None = None
    cron: str = ""
    time_zone: str = ""  #: IANA name; "" = the server's
    enabled: bool = True
    container_ids: tuple[str, ...] | None = None  #: None = every running task of the service at fire time
    timeout_s: float | None = None
    rolling: dict[str, Any] = field(default_factory=dict)  #: rolling settings over the job's (model attribute names)
    params: dict[str, Any] = field(default_factory=dict)  #: handed to the start as given
    concurrency: ConcurrencyPolicy = ConcurrencyPolicy.SKIP
    anchor_s: float = 0.0  #: due times are counted after this (its creation, or its last edit)
    created_at: float = 0.0
    updated_at: float = 0.0

    def replace(self, **changes: Any) -> Schedule:
        """Return a copy with `changes` applied."""
        return dataclasses.replace(self, **changes)


@dataclass(frozen=True)
class Fire:
    """One due time of a schedule, claimed by one replica (unique per schedule and due time in the store)."""

    schedule_id: str
    job_id: str
    due_s: float
    outcome: FireOutcome = FireOutcome.PENDING
    owner_id: str = ""  #: the replica that claimed it
    fired_at: float = 0.0
    executor_id: str = ""
    reason: str = ""

    def replace(self, **changes: Any) -> Fire:
        """Return a copy with `changes` applied."""
        return dataclasses.replace(self, **changes)


def check_cron(expr: str) -> str:
    """The expression if it is 5 cron fields cronsim understands; else InvalidInput naming Cron."""
    if len(expr.split()) != 5:
        raise InvalidInput("Cron: Must have 5 fields (minute hour day-of-month month day-of-week).")
    try:
        CronSim(expr, datetime.now(ZoneInfo("UTC")))
    except (CronSimError, ValueError, LookupError) as e:
        raise InvalidInput(f"Cron: Not a valid cron expression: {e}.") from None
    return expr


def zone(name: str) -> tzinfo:
    """The IANA time zone `name` ("" = the server's); InvalidInput naming TimeZone when unknown."""
    if not name:
        return ZoneInfo(server_zone_name())
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise InvalidInput(f"TimeZone: {name[:64]!r} is not an IANA time zone name.") from None


def server_zone_name() -> str:
    """The server's IANA zone: TZ, else the target of /etc/localtime, else UTC."""
    for candidate in (os.environ.get("TZ", "").lstrip(":"), _localtime_key()):
        if candidate:
            try:
                ZoneInfo(candidate)
                return candidate
            except (ZoneInfoNotFoundError, ValueError, OSError):
                continue
    return "UTC"


def _localtime_key() -> str:
    try:
        target = str(Path("/etc/localtime").resolve())
    except OSError:
        return ""
    return target.partition("/zoneinfo/")[2]


def next_due(schedule: Schedule, after_s: float) -> float | None:
    """The first due time strictly after `after_s` (None: a one-shot time already past)."""
    if schedule.run_at is not None:
        return schedule.run_at if schedule.run_at > after_s else None
    return next(_cron_times(schedule, after_s)).timestamp()


def due_between(schedule: Schedule, after_s: float, now_s: float) -> tuple[float | None, int]:
    """The latest due time in (after_s, now_s] and how many there are (counted up to MAX_COUNTED)."""
    first = next_due(schedule, after_s)
    if first is None or first > now_s:
        return None, 0
    if schedule.run_at is not None:
        return first, 1
    latest, count = first, 1
    for when in _cron_times(schedule, first):
        if when.timestamp() > now_s or count >= MAX_COUNTED:
            break
        latest, count = when.timestamp(), count + 1
    if count >= MAX_COUNTED:  # a long outage: the latest due time from the other end
        back = CronSim(schedule.cron, datetime.fromtimestamp(now_s + 1, zone(schedule.time_zone)), reverse=True)
        latest = next(t.timestamp() for t in back if t.timestamp() <= now_s)
    return latest, count


def _cron_times(schedule: Schedule, after_s: float) -> Iterator[datetime]:
    return iter(CronSim(schedule.cron, datetime.fromtimestamp(after_s, zone(schedule.time_zone))))
