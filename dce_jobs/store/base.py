"""The Store protocol every backend implements, plus the record <-> document helpers they share."""

from __future__ import annotations

from collections.abc import AsyncGenerator, AsyncIterator, Mapping, Sequence
from typing import Any, Protocol

from ..models import (
    STDOUT,
    AuditEntry,
    ContainerResult,
    EndReason,
    Execution,
    ExecutionEntry,
    FailureAction,
    FollowUp,
    Job,
    LastRun,
    Lease,
    OutputChunk,
    Param,
    Rolling,
    SecretArg,
    Status,
    Summary,
    Target,
    TaskState,
)
from ..queries import AuditQuery, ExecutionQuery, JobQuery, Page
from ..schedule import Fire, Schedule
from ..stats import ExecutionStats, StatsQuery
from ..timings import Timings
from .ranges import ByteRange, OutputRange


class Store(Protocol):
    """Persistence of jobs, executions, per-container results and output chunks.

    Job names are unique per AppName (Conflict `jobs_name_duplicated_error`); (JobId, ExecutorId) is
    unique (Conflict `executor_id_taken`). Missing records raise NotFound with the seed's ids.
    """

    timings: Timings  #: how long the store's calls take

    async def open(self) -> None:
        """Connect and create tables / indexes."""

    async def close(self) -> None:
        """Release connections."""

    async def ping(self) -> None:
        """Raise StoreUnavailable when the store cannot be reached."""

    async def create_job(self, job: Job, *, audit: AuditEntry | None = None) -> None:
        """Insert a new job (with its audit entry: both or neither)."""

    async def get_job(self, job_id: str) -> Job:
        """One job with its executors (oldest first)."""

    async def list_jobs(self, *, app_name: str | None = None) -> list[Job]:
        """All jobs (of one AppName), oldest first, with their executors."""

    async def find_jobs(self, query: JobQuery) -> Page[Job]:
        """The jobs matching `query`, in its order, one page of them (with their executors) and the total."""

    async def update_job(self, job: Job, *, audit: AuditEntry | None = None) -> None:
        """Replace a job's definition (not its executions, nor its LastRun)."""

    async def delete_job(self, job_id: str, *, audit: AuditEntry | None = None) -> None:
        """Remove a job with its schedules, executions, results and output."""

    async def create_execution(
        self, execution: Execution, results: list[ContainerResult], *, audit: AuditEntry | None = None
    ) -> None:
        """Insert an execution and its initial results; it becomes its job's LastRun (running)."""

    async def find_executions(self, query: ExecutionQuery) -> Page[ExecutionEntry]:
        """The executions matching `query`, newest first, one page of them and the total."""

    async def add_audit(self, entry: AuditEntry) -> None:
        """Append one entry to the audit trail."""

    async def find_audit(self, query: AuditQuery) -> Page[AuditEntry]:
        """The audit entries matching `query`, newest first, one page of them and the total."""

    async def get_execution(self, job_id: str, executor_id: str) -> Execution:
        """One execution (NotFound `executor_id_not_found`)."""

    async def list_results(self, job_id: str, executor_id: str) -> list[ContainerResult]:
        """The results of one execution, in target order."""

    async def end_execution(
        self, execution: Execution, *, state: str, ended_at: float, counts: Mapping[str, int] | None = None
    ) -> None:
        """Record in one write how an execution ended, and its job's LastRun when it is the newest.

        The state (an ExecutionState value), end time and duration feed the statistics; the Counts by outcome
        the history lists.
        """

    async def execution_stats(self, query: StatsQuery) -> ExecutionStats:
        """Executions of the query per (UTC hour, state) and duration percentiles, aggregated by the store."""

    async def save_result(self, result: ContainerResult) -> None:
        """Write one result (keyed by job, executor and index)."""

    async def list_unfinished_results(self, *, job_id: str | None = None) -> list[ContainerResult]:
        """Every result not in a final status, across all jobs or of one (for recovery and Skip)."""

    async def take_over_execution(self, job_id: str, executor_id: str, *, from_owner: str, to_owner: str) -> bool:
        """Make `to_owner` the owner of an execution still owned by `from_owner`; False if it was not."""

    async def renew_lease(self, lease: Lease) -> None:
        """Insert or replace a process's lease."""

    async def drop_lease(self, owner_id: str) -> None:
        """Remove a process's lease (at a clean shutdown)."""

    async def list_leases(self) -> list[Lease]:
        """Every lease, expired ones included."""

    async def create_schedule(self, schedule: Schedule) -> None:
        """Insert a schedule of an existing job (NotFound `job_id_not_found` otherwise)."""

    async def get_schedule(self, job_id: str, schedule_id: str) -> Schedule:
        """One schedule of a job (NotFound `schedule_id_not_found`)."""

    async def list_schedules(self, *, job_id: str | None = None) -> list[Schedule]:
        """Every schedule (of one job), oldest first."""

    async def update_schedule(self, schedule: Schedule) -> None:
        """Replace a schedule's definition (NotFound once gone)."""

    async def delete_schedule(self, job_id: str, schedule_id: str) -> None:
        """Remove a schedule and its fires."""

    async def claim_fire(self, fire: Fire) -> bool:
        """Record a due time of an existing schedule unless a replica did already: True for the one that did."""

    async def update_fire(self, fire: Fire) -> None:
        """Record what became of a claimed fire (nothing when its schedule is gone)."""

    async def last_fires(self, *, job_id: str | None = None) -> dict[str, Fire]:
        """The latest fire of each schedule (of one job), by ScheduleId."""

    async def append_output(
        self, result: ContainerResult, seq: int, data: bytes, *, streams: Sequence[tuple[int, int]] = ()
    ) -> None:
        """Store output chunk number `seq` of one target with its runs of (stream, length) (none: all stdout)."""

    async def write_batch(self, chunks: Sequence[OutputChunk], results: Sequence[ContainerResult]) -> None:
        """Store output chunks (of any targets) and results in one go: a chunk written again replaces it, a
        result saved twice keeps the later one; no result is stored before the chunks of the same batch."""

    def iter_output(
        self, job_id: str, executor_id: str, index: int, *, stream: int | None = None
    ) -> AsyncIterator[bytes]:
        """Yield one target's stored output in order (only `stream`'s bytes when given), a few chunks at a time."""

    async def tail_outputs(
        self, job_id: str, executor_id: str, indexes: Sequence[int], *, max_bytes: int
    ) -> dict[int, tuple[bytes, bool]]:
        """tail_output of several targets of one execution at once (one query where the store can)."""

    async def read_output_range(
        self, job_id: str, executor_id: str, index: int, *, wanted: ByteRange, stream: int | None = None
    ) -> OutputRange:
        """A byte range of one target's output (of `stream`'s bytes when given), reading only the chunks it spans.

        RangeNotSatisfiable when the range starts past the end; a range longer than MAX_RANGE_BYTES is cut there.
        """

    async def tail_output(self, job_id: str, executor_id: str, index: int, *, max_bytes: int) -> tuple[bytes, bool]:
        """The last `max_bytes` of one target's output, and whether earlier bytes were left out."""

    def iter_chunks(
        self, job_id: str, executor_id: str, index: int, *, after_seq: int = -1
    ) -> AsyncGenerator[tuple[int, bytes, tuple[tuple[int, int], ...]], None]:
        """Yield (seq, data, runs of (stream, length)) of the chunks after `after_seq`, in order (runs never empty)."""

    async def update_execution(self, execution: Execution) -> None:
        """Replace an execution's record (its results stay); NotFound when it is gone."""

    async def delete_execution(self, job_id: str, executor_id: str) -> None:
        """Remove one execution with its results, output and follow-ups (nothing when it is gone)."""

    async def reclaim_space(self) -> None:
        """Give the space of removed records back where the backend needs to be told (after a sweep)."""

    async def save_follow_up(self, task: FollowUp) -> None:
        """Insert or replace a follow-up task (keyed by its task_id)."""

    async def list_pending_follow_ups(self) -> list[FollowUp]:
        """Every follow-up still pending, across all jobs, soonest due first."""

    async def claim_follow_up(self, task_id: str, *, now: float, until: float) -> bool:
        """Take a pending follow-up until `until` unless another process holds it past `now`; True when taken.

        Saving the follow-up (its outcome) ends the claim.
        """

    async def list_follow_ups(self, job_id: str, executor_id: str) -> list[FollowUp]:
        """The follow-ups of one execution, oldest first."""


def chunk_runs(data: bytes, runs: Sequence[Sequence[int]] | None) -> tuple[tuple[int, int], ...]:
    """A chunk's runs as stored, or all of it as stdout for chunks stored before streams were kept."""
    if not runs:
        return ((STDOUT, len(data)),) if data else ()
    return tuple((int(s), int(n)) for s, n in runs)


def follow_up_to_doc(task: FollowUp) -> dict[str, Any]:
    """A follow-up task as a plain document."""
    return {
        "kind": task.kind,
        "task_id": task.task_id,
        "job_id": task.job_id,
        "executor_id": task.executor_id,
        "due_at": task.due_at,
        "created_at": task.created_at,
        "state": task.state.value,
        "payload": task.payload,
        "attempts": list(task.attempts),
        "claim_until": 0.0,
    }


def follow_up_from_doc(doc: dict[str, Any]) -> FollowUp:
    """Rebuild a follow-up task from its document."""
    return FollowUp(
        kind=doc["kind"],
        task_id=doc["task_id"],
        job_id=doc["job_id"],
        executor_id=doc["executor_id"],
        due_at=float(doc["due_at"]),
        created_at=float(doc["created_at"]),
        state=TaskState(doc["state"]),
        payload=dict(doc.get("payload") or {}),
        attempts=tuple(doc.get("attempts") or ()),
    )


def job_to_doc(job: Job) -> dict[str, Any]:
    """A job as a plain document (secrets stay encrypted)."""
    return {
        "job_id": job.job_id,
        "app_name": job.app_name,
        "service_name": job.service_name,
        "name": job.name,
        "cmd": job.cmd,
        "privileged": job.privileged,
        "user": job.user,
        "env": list(job.env),
        "secret_args": [{"token": s.token, "length": s.length} for s in job.secret_args],
        "timeout_s": job.timeout_s,
        "rolling": rolling_to_doc(job.rolling),
        "created_at": job.created_at,
        "updated_at": job.updated_at,
        "created_by": job.created_by,
        "updated_by": job.updated_by,
        "name_fold": job.name.casefold(),
        "params": [
            {"name": p.name, "default": p.default, "required": p.required, "pattern": p.pattern} for p in job.params
        ],
        "retries": job.retries,
        "retry_delay_s": job.retry_delay_s,
        "status_hook": job.status_hook,
        "status_hook_events": list(job.status_hook_events),
    }


def job_from_doc(doc: dict[str, Any], executors: list[str], last_run: LastRun | None = None) -> Job:
    """Rebuild a job from its document, its executor ids and its newest execution (older documents: defaults)."""
    return Job(
        job_id=doc["job_id"],
        app_name=doc["app_name"],
        service_name=doc["service_name"],
        name=doc["name"],
        cmd=doc["cmd"],
        privileged=bool(doc["privileged"]),
        user=doc["user"],
        env=tuple(doc["env"]),
        secret_args=tuple(SecretArg(token=s["token"], length=int(s["length"])) for s in doc["secret_args"]),
        timeout_s=doc.get("timeout_s"),
        rolling=rolling_from_doc(doc.get("rolling")),
        created_at=float(doc["created_at"]),
        updated_at=float(doc["updated_at"]),
        executors=tuple(executors),
        created_by=doc.get("created_by") or "",
        updated_by=doc.get("updated_by") or "",
        last_run=last_run,
        params=tuple(Param(**p) for p in doc.get("params") or ()),
        retries=int(doc.get("retries") or 0),
        retry_delay_s=float(doc.get("retry_delay_s") or 0.0),
        status_hook=doc.get("status_hook") or "",
        status_hook_events=tuple(doc.get("status_hook_events") or ("end",)),
    )


def last_run_from(executor_id: str | None, state: str | None, ended_at: float | None) -> LastRun | None:
    """A LastRun from stored parts (None when the job never ran)."""
    if not executor_id:
        return None
    return LastRun(executor_id=executor_id, state=state or "running", ended_at=ended_at)


def execution_to_doc(execution: Execution) -> dict[str, Any]:
    """An execution as a plain document."""
    return {
        "job_id": execution.job_id,
        "executor_id": execution.executor_id,
        "created_at": execution.created_at,
        "targets": [_target_to_doc(t) for t in execution.targets],
        "timeout_s": execution.timeout_s,
        "secret_lengths": None if execution.secret_lengths is None else list(execution.secret_lengths),
        "rolling": rolling_to_doc(execution.rolling),
        "retry_of": execution.retry_of,
        "schedule_id": execution.schedule_id,
        "owner_id": execution.owner_id,
        "trigger": execution.trigger,
        "started_by": execution.started_by,
        "app_name": execution.app_name,
        "service_name": execution.service_name,
        "params": dict(execution.params),
        "retried_by": execution.retried_by,
        "retry_attempt": execution.retry_attempt,
    }


def _target_to_doc(target: Target) -> dict[str, Any]:
    doc: dict[str, Any] = {"container_id": target.container_id, "node_id": target.node_id, "slot": target.slot}
    if target.previous_container_id:
        doc["previous_container_id"] = target.previous_container_id
    return doc


def _target_from_doc(doc: dict[str, Any]) -> Target:
    return Target(
        container_id=doc["container_id"],
        node_id=doc["node_id"],
        slot=doc.get("slot"),
        previous_container_id=doc.get("previous_container_id", ""),
    )


def execution_from_doc(doc: dict[str, Any]) -> Execution:
    """Rebuild an execution from its document."""
    return Execution(
        job_id=doc["job_id"],
        executor_id=doc["executor_id"],
        created_at=float(doc["created_at"]),
        targets=tuple(_target_from_doc(t) for t in doc["targets"]),
        timeout_s=doc.get("timeout_s"),
        secret_lengths=None if doc.get("secret_lengths") is None else tuple(int(n) for n in doc["secret_lengths"]),
        rolling=rolling_from_doc(doc.get("rolling")),
        retry_of=doc.get("retry_of") or "",
        schedule_id=doc.get("schedule_id") or "",
        owner_id=doc.get("owner_id") or "",
        trigger=_trigger(doc),
        started_by=doc.get("started_by") or "",
        app_name=doc.get("app_name") or "",
        service_name=doc.get("service_name") or "",
        params=dict(doc.get("params") or {}),
        retried_by=doc.get("retried_by") or "",
        retry_attempt=int(doc.get("retry_attempt") or 0),
    )


def entry_from_doc(doc: dict[str, Any], final: dict[str, Any] | None, *, job_name: str | None) -> ExecutionEntry:
    """A history entry from an execution document, how it ended (`final`: state, ended_at, counts), its job's name."""
    final = final or {}
    return ExecutionEntry(
        job_id=doc["job_id"],
        executor_id=doc["executor_id"],
        app_name=doc.get("app_name") or "",
        service_name=doc.get("service_name") or "",
        created_at=float(doc["created_at"]),
        trigger=_trigger(doc),
        started_by=doc.get("started_by") or "",
        retry_of=doc.get("retry_of") or "",
        state=final.get("state") or "running",
        ended_at=final.get("ended_at"),
        counts=final.get("counts"),
        targets=len(doc.get("targets") or ()),
        job_name=job_name,
    )


def summary_to_doc(summary: Summary) -> dict[str, Any]:
    """How an execution ended, as stored beside it."""
    return {"state": summary.state.value, "ended_at": summary.ended_at, "counts": dict(summary.counts)}


def audit_to_doc(entry: AuditEntry) -> dict[str, Any]:
    """An audit entry as a plain document (without its id)."""
    return {
        "at": entry.at,
        "user": entry.user,
        "action": entry.action,
        "job_id": entry.job_id,
        "job_name": entry.job_name,
        "executor_id": entry.executor_id,
        "fields": list(entry.fields),
        "schedule_id": entry.schedule_id,
    }


def audit_from_doc(doc: dict[str, Any], audit_id: str) -> AuditEntry:
    """Rebuild an audit entry."""
    return AuditEntry(
        at=float(doc["at"]),
        user=doc["user"],
        action=doc["action"],
        job_id=doc["job_id"],
        job_name=doc.get("job_name") or "",
        executor_id=doc.get("executor_id") or "",
        fields=tuple(doc.get("fields") or ()),
        audit_id=audit_id,
        schedule_id=doc.get("schedule_id") or "",
    )


def rolling_to_doc(rolling: Rolling) -> dict[str, Any]:
    """Rolling settings as a plain document."""
    return {
        "parallelism": rolling.parallelism,
        "delay_s": rolling.delay_s,
        "failure_action": rolling.failure_action.value,
        "max_failure_ratio": rolling.max_failure_ratio,
    }


def rolling_from_doc(doc: dict[str, Any] | None) -> Rolling:
    """Rolling settings from a document (records older than them roll out everything at once)."""
    if not doc:
        return Rolling()
    return Rolling(
        parallelism=int(doc["parallelism"]),
        delay_s=float(doc["delay_s"]),
        failure_action=FailureAction(doc["failure_action"]),
        max_failure_ratio=float(doc["max_failure_ratio"]),
    )


_RESULT_FIELDS = (
    "job_id",
    "executor_id",
    "index",
    "container_id",
    "node_id",
    "exec_id",
    "error",
    "exit_code",
    "inspect",
    "output_bytes",
    "output_truncated",
    "started_at",
    "finished_at",
    "updated_at",
)


def result_to_doc(result: ContainerResult) -> dict[str, Any]:
    """A result as a plain document."""
    doc = {name: getattr(result, name) for name in _RESULT_FIELDS}
    doc["status"] = result.status.value
    doc["end_reason"] = None if result.end_reason is None else result.end_reason.value
    return doc


def result_from_doc(doc: dict[str, Any]) -> ContainerResult:
    """Rebuild a result from its document."""
    return ContainerResult(
        job_id=doc["job_id"],
        executor_id=doc["executor_id"],
        index=int(doc["index"]),
        container_id=doc["container_id"],
        node_id=doc["node_id"],
        status=Status(doc["status"]),
        exec_id=doc.get("exec_id") or "",
        error=doc.get("error") or "",
        exit_code=doc.get("exit_code"),
        inspect=doc.get("inspect"),
        output_bytes=int(doc.get("output_bytes") or 0),
        output_truncated=bool(doc.get("output_truncated")),
        started_at=doc.get("started_at"),
        finished_at=doc.get("finished_at"),
        updated_at=float(doc.get("updated_at") or 0.0),
        end_reason=_end_reason(doc),
    )


def _end_reason(doc: dict[str, Any]) -> EndReason | None:
    value = doc.get("end_reason")
    return EndReason(value) if value else None


def _trigger(doc: dict[str, Any]) -> str:
    """An execution's Trigger (records from before it was kept: from RetryOf and the schedule)."""
    if doc.get("trigger"):
        return str(doc["trigger"])
    return "retry" if doc.get("retry_of") else "schedule" if doc.get("schedule_id") else "manual"
