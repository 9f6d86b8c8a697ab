"""What a list asks the store for: filters, one sort order from a whitelist, a page; and what it gets back."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Generic, TypeVar

T = TypeVar("T")

#: Sort values of the job list -> the stored field they order by (JobId breaks ties in the same direction).
#: LastRunTime is the CreateTime of the job's newest execution (when it last started); a job that never ran has
#: none, which orders before every time: first ascending (the longest since a run), last descending (see README)
JOB_SORTS = {
    "CreateTime": "created_at",
    "UpdateTime": "updated_at",
    "Name": "name_fold",
    "LastRunTime": "last_started_at",
}
#: LastState values: an execution state, or `never` for jobs that never ran
LAST_STATES = ("running", "succeeded", "failed", "stopped", "never")
#: stored execution states (`paused` is only known to the live run, which the store records as running)
EXECUTION_STATES = ("running", "succeeded", "failed", "stopped")
AUDIT_ACTIONS = (
    "create",
    "edit",
    "delete",
    "start",
    "stop",
    "retry",
    "resume",
    "schedule.create",
    "schedule.edit",
    "schedule.delete",
)
MAX_PAGE_SIZE = 500


@dataclass(frozen=True)
class Window:
    """A page: `size` None is everything from the start (the seed's unpaged list)."""

    page: int = 1
    size: int | None = None

    @property
    def offset(self) -> int:
        """How many matching records come before this page."""
        return 0 if self.size is None else (self.page - 1) * self.size


@dataclass(frozen=True)
class TimeRange:
    """Epoch seconds, both ends inclusive; None leaves that end open."""

    after: float | None = None
    before: float | None = None


@dataclass(frozen=True)
class JobQuery:
    """Filters, order and page of the job list; text filters match case-insensitively as plain substrings."""

    app_name: str | None = None
    service_name: str | None = None
    name_part: str | None = None  #: casefolded by the caller
    created: TimeRange = field(default_factory=TimeRange)
    updated: TimeRange = field(default_factory=TimeRange)
    last_state: str | None = None
    sort: str = "created_at"  #: a value of JOB_SORTS
    descending: bool = False
    window: Window = field(default_factory=Window)


@dataclass(frozen=True)
class ExecutionQuery:
    """Filters and page of an execution history, newest first."""

    job_id: str | None = None
    app_name: str | None = None
    service_name: str | None = None
    state: str | None = None
    created: TimeRange = field(default_factory=TimeRange)
    window: Window = field(default_factory=Window)


@dataclass(frozen=True)
class AuditQuery:
    """Filters and page of the audit trail, newest first."""

    job_id: str | None = None
    user: str | None = None
    action: str | None = None
    at: TimeRange = field(default_factory=TimeRange)
    window: Window = field(default_factory=Window)


@dataclass(frozen=True)
class Page(Generic[T]):
    """One page of a list and how many records match in all."""

    items: list[T]
    total: int
