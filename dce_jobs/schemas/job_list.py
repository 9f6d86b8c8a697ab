"""The job list's JSON text, byte for byte what `json.dumps(dump_jobs(jobs), ensure_ascii=False)` gives, built
from each job's fields encoded once.

Every field but Executors and LastRun changes only when the job is edited, and encoding them is most of what a list
of thousands of jobs costs: their JSON is kept by the values it was made from, and a listed job costs its
executors, its LastRun and one string join.
"""

from __future__ import annotations

import dataclasses
import json
import math
import operator
from collections.abc import Callable
from json.encoder import encode_basestring  # the C encoder json.dumps uses with ensure_ascii=False
from typing import Any

from ..models import Job, LastRun
from .job import dump_jobs

#: every field of a job but the two a list fills per request
_EDITED_FIELDS = tuple(f.name for f in dataclasses.fields(Job) if f.name not in {"executors", "last_run"})
_edited: Callable[[Job], tuple[Any, ...]] = operator.attrgetter(*_EDITED_FIELDS)


class JobListJson:
    """Encoded fields of the jobs listed lately, by their values; at most `max_jobs` and `max_chars` of JSON (keys
    included, as the values hold as much), then it starts again."""

    def __init__(self, *, max_jobs: int = 16_384, max_chars: int = 64 * 2**20) -> None:
        self._parts: dict[tuple[Any, ...], tuple[str, str, str]] = {}
        self._max_jobs = max_jobs
        self._max_chars = max_chars
        self._chars = 0

    def encode(self, jobs: list[Job]) -> str:
        """The JSON array of the jobs as the seed's list shows them."""
        return "[" + ", ".join(self._job(job) for job in jobs) + "]"

    def _job(self, job: Job) -> str:
        key = _edited(job)
        parts = self._parts.get(key)
        if parts is None:
            parts = _parts_of(job)
            size = 2 * sum(map(len, parts))
            if len(self._parts) >= self._max_jobs or self._chars + size > self._max_chars:
                self._parts.clear()
                self._chars = 0
            self._parts[key] = parts
            self._chars += size
        head, middle, tail = parts
        executors = ", ".join(map(encode_basestring, job.executors))
        return f'{{{head}, "Executors": [{executors}], {middle}, "LastRun": {_last_run(job.last_run)}, {tail}}}'


def _parts_of(job: Job) -> tuple[str, str, str]:
    """The JSON of the keys before Executors, between Executors and LastRun, and after LastRun (without braces)."""
    items = list(dump_jobs([job])[0].items())
    keys = [key for key, _ in items]
    executors, last_run = keys.index("Executors"), keys.index("LastRun")
    head, middle, tail = items[:executors], items[executors + 1 : last_run], items[last_run + 1 :]
    if not (head and middle and tail):
        raise AssertionError("the job list's keys around Executors and LastRun changed: update JobListJson")
    return tuple(json.dumps(dict(part), ensure_ascii=False)[1:-1] for part in (head, middle, tail))  # type: ignore[return-value]


def _last_run(last: LastRun | None) -> str:
    if last is None:
        return "null"
    ended = "null" if last.ended_at is None else _float(float(last.ended_at))
    return (
        f'{{"ExecutorId": {encode_basestring(last.executor_id)}, "State": {encode_basestring(last.state)}, '
        f'"EndTime": {ended}}}'
    )


def _float(value: float) -> str:
    """A float as json.dumps writes it."""
    return repr(value) if math.isfinite(value) else json.dumps(value)
