"""Latency of one kind of call: cumulative histogram buckets for /metrics and a window of recent durations."""

from __future__ import annotations

import bisect
import math
import threading
from collections import deque

#: upper bounds of the histogram buckets in seconds (+Inf is implied)
BUCKETS_S = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
RECENT = 512


def percentile(sorted_values: list[float], fraction: float) -> float | None:
    """Nearest-rank percentile of already sorted values (None when there are none)."""
    if not sorted_values:
        return None
    rank = max(1, math.ceil(fraction * len(sorted_values)))
    return sorted_values[rank - 1]


class Timings:
    """Durations of one kind of call; observed from any thread (store and engine calls end in worker threads)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts = [0] * (len(BUCKETS_S) + 1)
        self._sum_s = 0.0
        self._recent: deque[float] = deque(maxlen=RECENT)

    def observe(self, seconds: float) -> None:
        """Record one call's duration."""
        with self._lock:
            self._counts[bisect.bisect_left(BUCKETS_S, seconds)] += 1
            self._sum_s += seconds
            self._recent.append(seconds)

    def histogram(self) -> tuple[list[tuple[float, int]], int, float]:
        """(cumulative counts per upper bound, the last one +Inf), count, sum in seconds."""
        with self._lock:
            counts, total_s = list(self._counts), self._sum_s
        cumulative, running = [], 0
        for bound, n in zip((*BUCKETS_S, math.inf), counts, strict=True):
            running += n
            cumulative.append((bound, running))
        return cumulative, running, total_s

    def recent(self) -> dict[str, float | int | None]:
        """Count, p50, p90 and p99 in milliseconds over the last RECENT calls."""
        with self._lock:
            values = sorted(self._recent)
        return {
            "count": len(values),
            **{f"p{p}_ms": _ms(percentile(values, p / 100)) for p in (50, 90, 99)},
        }


def _ms(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds * 1000, 3)
