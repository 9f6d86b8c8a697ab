"""Execution statistics: what a store aggregates (counts per hour and state, duration percentiles) and the
daily and hourly views folded from it in a time zone (the store never hands over every record)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

HOUR_S = 3600
#: an execution's recorded state: "running" until it ends, then one of the final ExecutionState values;
#: "unknown" for records from before states were kept
STATES = ("succeeded", "failed", "stopped", "running", "unknown")
ENDED = ("succeeded", "failed", "stopped")
PERCENTILES = (50, 90, 99)


def hour_of(epoch_s: float) -> int:
    """The UTC hour (hours since the epoch) an instant falls in: the store's grouping key."""
    return int(epoch_s // HOUR_S)


def nearest_rank(count: int, percent: int) -> int:
    """0-based position of the `percent` percentile among `count` sorted values (nearest rank)."""
    return max(0, -(-count * percent // 100) - 1)


@dataclass(frozen=True)
class StatsQuery:
    """Which executions: created in [since_s, until_s), optionally of one job or one AppName."""

    since_s: float
    until_s: float
    job_id: str | None = None
    app_name: str | None = None


@dataclass(frozen=True)
class ExecutionStats:
    """What a store computes: executions per (UTC hour, state) and duration percentiles of ended ones."""

    per_hour: dict[tuple[int, str], int]
    ended_count: int
    durations_s: dict[int, float]  #: percentile -> seconds (empty when nothing ended)


@dataclass
class DayCounts:
    """Executions created on one local day, by state."""

    date: str
    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(STATES, 0))


@dataclass(frozen=True)
class StatsView:
    """The folded statistics an API answers."""

    days: list[DayCounts]
    hourly: list[int]
    total: int
    success_rate: float | None
    ended_count: int
    durations_s: dict[int, float]


def window(days: int, zone: ZoneInfo, now_s: float) -> tuple[float, list[str]]:
    """The start of the first of `days` local days ending today, and their dates (oldest first)."""
    today = dt.datetime.fromtimestamp(now_s, zone).date()
    dates = [today - dt.timedelta(days=n) for n in range(days - 1, -1, -1)]
    start = dt.datetime.combine(dates[0], dt.time(), zone)
    return start.timestamp(), [d.isoformat() for d in dates]


def fold(stats: ExecutionStats, dates: list[str], zone: ZoneInfo) -> StatsView:
    """Daily counts, the hour-of-day distribution and the success rate in `zone`.

    An hour bucket counts on the local day and hour of its start (exact for zones whose offset is whole hours).
    """
    days = {date: DayCounts(date) for date in dates}
    hourly = [0] * 24
    for (hour, state), n in stats.per_hour.items():
        local = dt.datetime.fromtimestamp(hour * HOUR_S, zone)
        day = days.get(local.date().isoformat())
        if day is None:
            continue
        day.counts[state if state in day.counts else "unknown"] += n
        hourly[local.hour] += n
    total = sum(sum(d.counts.values()) for d in days.values())
    succeeded = sum(d.counts["succeeded"] for d in days.values())
    ended = sum(d.counts[s] for d in days.values() for s in ENDED)
    rate = round(succeeded / ended, 4) if ended else None
    return StatsView(list(days.values()), hourly, total, rate, stats.ended_count, stats.durations_s)
