"""Domain records: jobs, executions, per-container results, and the status state machine."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from .errors import InvalidTransition


class Status(StrEnum):
    """Status of one target container in one execution (names are the seed's)."""

    STARTING = "STARTING"  #: accepted, exec not created yet
    CREATED = "CREATED"  #: exec created on the node's engine, not started
    CREATE_FAILED = "CREATE_FAILED"  #: the exec could not be created (or the run was stopped first)
    RUNNING = "RUNNING"  #: exec started, output streaming
    RUNNING_FAILED = "RUNNING_FAILED"  #: start, streaming or the engine failed; or stopped / timed out
    FINISHED = "FINISHED"  #: the process ended; ExitCode says how

    @property
    def is_final(self) -> bool:
        """True when no further change can happen."""
        return self in FINAL_STATUSES


FINAL_STATUSES = frozenset({Status.CREATE_FAILED, Status.RUNNING_FAILED, Status.FINISHED})

#: Docker's numbers of the output streams of an exec
STDOUT = 1
STDERR = 2
STREAM_NAMES = {"stdout": STDOUT, "stderr": STDERR}


def pick_stream(data: bytes, runs: Sequence[tuple[int, int]], stream: int) -> bytes:
    """The bytes of one stream from a chunk and its runs of (stream, length); no runs: all of it is stdout."""
    if not runs:
        return data if stream == STDOUT else b""
    parts, offset = [], 0
    for kind, length in runs:
        if kind == stream:
            parts.append(data[offset : offset + length])
        offset += length
    return b"".join(parts)


class EndReason(StrEnum):
    """Why a target ended: a fixed vocabulary for clients (the panel never parses the human `E`)."""

    EXITED = "exited"  #: the process ended by itself; ExitCode says how
    NOT_STARTED = "not_started"  #: the execution ended before this target was started (FailureAction stop)
    CREATE_FAILED = "create_failed"  #: the engine refused to create the exec (or its secrets cannot be read)
    START_FAILED = "start_failed"  #: the runtime could not start the process (not found, not permitted)
    STOPPED = "stopped"  #: stopped on request (running, or waiting for its turn)
    TIMED_OUT = "timed_out"  #: the execution's Timeout passed
    NODE_LOST = "node_lost"  #: the node's engine could not be reached
    CONTAINER_GONE = "container_gone"  #: the container stopped, was removed or is no longer a task
    ENGINE_ERROR = "engine_error"  #: the engine failed a call or broke the output stream
    SERVICE_SHUTDOWN = "service_shutdown"  #: dce-jobs shut down and stopped what was left
    INTERRUPTED = "interrupted"  #: dce-jobs died or restarted while the target was in flight
    INTERNAL_ERROR = "internal_error"  #: a fault of dce-jobs itself (logged with details)


class FailureAction(StrEnum):
    """What a rolling execution does when its failures pass MaxFailureRatio (Swarm's UpdateConfig words)."""

    CONTINUE = "continue"
    PAUSE = "pause"
    STOP = "stop"


@dataclass(frozen=True)
class Rolling:
    """How the targets of one execution are rolled out, like `docker service update` does its tasks."""

    parallelism: int = 0  #: targets running at once; 0 = all
    delay_s: float = 0.0  #: between one target ending and the next waiting one starting
    failure_action: FailureAction = FailureAction.CONTINUE
    max_failure_ratio: float = 0.0  #: failed / all targets tolerated before the action applies

    def too_many_failures(self, failed: int, total: int) -> bool:
        """True once the failures pass the tolerated ratio."""
        return failed > 0 and failed / max(total, 1) > self.max_failure_ratio


_ALLOWED: dict[Status, frozenset[Status]] = {
    Status.STARTING: frozenset({Status.CREATED, Status.CREATE_FAILED}),
    # CREATED -> CREATE_FAILED: stopped after create, before start
    Status.CREATED: frozenset({Status.RUNNING, Status.RUNNING_FAILED, Status.CREATE_FAILED}),
    Status.RUNNING: frozenset({Status.FINISHED, Status.RUNNING_FAILED}),
    Status.CREATE_FAILED: frozenset(),
    Status.RUNNING_FAILED: frozenset(),
    Status.FINISHED: frozenset(),
}


@dataclass(frozen=True)
class SecretArg:
    """One secret argument as stored: ciphertext plus the plaintext length for its mask."""

    token: str
    length: int

    def __repr__(self) -> str:
        return f"SecretArg(length={self.length})"


@dataclass(frozen=True)
class LastRun:
    """The newest execution of a job, as the job list shows it."""

    executor_id: str
    state: str  #: an ExecutionState value ("running" until it has ended)
    ended_at: float | None = None


@dataclass(frozen=True)
class Param:
    """A run-time parameter a job declares; its value replaces `${NAME}` inside the words of Cmd."""

    name: str
    default: str | None = None  #: used when a start gives no value (None: the empty string)
    required: bool = False  #: a start must give a value (a Default is then refused at save)
    pattern: str = ""  #: a Python regular expression the whole value must match ("" = any value)


#: what a job's StatusHook is told about
HOOK_EVENTS = ("start", "end")


@dataclass(frozen=True)
class Job:
    """A job definition. `executors` is filled by the store from the job's executions."""

    job_id: str
    app_name: str
    service_name: str
    name: str
    cmd: str
    privileged: bool = False
    user: str = ""
    env: tuple[str, ...] = ()
    secret_args: tuple[SecretArg, ...] = ()
    timeout_s: float | None = None
    rolling: Rolling = field(default_factory=Rolling)
    created_at: float = field(default_factory=time.time)
    updated_at: float = field(default_factory=time.time)
    executors: tuple[str, ...] = ()
    created_by: str = ""  #: who created it ("" in records from before users were kept)
    updated_by: str = ""  #: who edited it last
    last_run: LastRun | None = None  #: its newest execution, kept by the store (None: never run)
    params: tuple[Param, ...] = ()
    retries: int = 0  #: automatic retries of failed targets, along one chain of executions
    retry_delay_s: float = 0.0  #: between an execution's end and its automatic retry
    status_hook: str = ""  #: http(s) URL told about the job's executions ("" = none)
    status_hook_events: tuple[str, ...] = ("end",)

    def replace(self, **changes: Any) -> Job:
        """Return a copy with `changes` applied."""
        return dataclasses.replace(self, **changes)

    def with_runs(self, executors: tuple[str, ...], last_run: LastRun | None) -> Job:
        """A copy with other executors and LastRun (what a list changes on a decoded job).

        The fields are copied as they are (they were checked when this job was made): about 1 us, where replace()
        takes 7 and copy.copy 4, and a list makes thousands of these.
        """
        job = object.__new__(Job)
        fields = job.__dict__
        fields.update(self.__dict__)
        fields["executors"], fields["last_run"] = executors, last_run
        return job


@dataclass(frozen=True)
class Target:
    """One container to run in, on the Swarm node that hosts it."""

    container_id: str
    node_id: str
    slot: int | None = None  #: the Swarm task slot it ran as (None: a global service's task, or not recorded)
    previous_container_id: str = ""  #: a retry that followed the slot to a new task: the container it replaced


@dataclass(frozen=True)
class Execution:
    """One start of a job on a list of targets. `executor_id` is the seed's timestamp id."""

    job_id: str
    executor_id: str
    created_at: float
    targets: tuple[Target, ...]
    timeout_s: float | None = None
    #: lengths of the secret arguments this run appended to its argv (None: recorded before they were kept)
    secret_lengths: tuple[int, ...] | None = None
    rolling: Rolling = field(default_factory=Rolling)
    retry_of: str = ""  #: the ExecutorId this execution retries ("" for a start)
    schedule_id: str = ""  #: the schedule whose fire started it ("" for a start by hand)
    owner_id: str = ""  #: the service process that runs it ("" : recorded before owners were kept)
    trigger: str = "manual"  #: how it was started: manual, retry, schedule
    started_by: str = ""  #: who started it ("" in records from before users were kept)
    app_name: str = ""  #: the job's AppName when it started (for lists across jobs)
    service_name: str = ""  #: the job's ServiceName when it started
    params: dict[str, str] = field(default_factory=dict)  #: the parameter values this run used
    retried_by: str = ""  #: the ExecutorId of the execution that retried this one ("" = none yet)
    retry_attempt: int = 0  #: 1..Retries for an automatic retry, 0 for a start or a manual retry

    def replace(self, **changes: Any) -> Execution:
        """Return a copy with `changes` applied."""
        return dataclasses.replace(self, **changes)


@dataclass(frozen=True)
class Lease:
    """A service process's claim to be alive: it owns its executions until `expires_at` passes unrenewed."""

    owner_id: str
    expires_at: float
    host: str = ""  #: the host name it runs on
    pid: int = 0  #: its process id there (a dead pid on this very host ends the lease early)


class TaskState(StrEnum):
    """Where a follow-up task stands."""

    PENDING = "pending"  #: due at `due_at` (again, after a failed attempt)
    DONE = "done"  #: carried out (a hook answered 2xx; a retry started)
    FAILED = "failed"  #: given up (a hook past its retry window; a retry that could not start)
    CANCELLED = "cancelled"  #: no longer wanted (the execution was stopped by a user)


@dataclass(frozen=True)
class FollowUp:
    """Work due after an execution, kept in the store as an outbox: an automatic retry or a hook delivery."""

    kind: str  #: "retry" or "hook"
    task_id: str  #: unique; a hook's delivery id, sent with every attempt of that delivery
    job_id: str
    executor_id: str
    due_at: float
    created_at: float
    state: TaskState = TaskState.PENDING
    payload: dict[str, Any] = field(default_factory=dict)
    attempts: tuple[dict[str, Any], ...] = ()  #: one entry per attempt: when, the outcome, how long it took

    def replace(self, **changes: Any) -> FollowUp:
        """Return a copy with `changes` applied."""
        return dataclasses.replace(self, **changes)


@dataclass(frozen=True)
class ContainerResult:
    """What happened in one target container of one execution."""

    job_id: str
    executor_id: str
    index: int
    container_id: str
    node_id: str
    status: Status = Status.STARTING
    exec_id: str = ""
    error: str = ""
    exit_code: int | None = None
    inspect: dict[str, Any] | None = None  #: exec-inspect fields of the seed, once known
    output_bytes: int = 0  #: bytes stored for this target (after redaction and the cap)
    output_truncated: bool = False  #: the output limit was reached
    started_at: float | None = None
    finished_at: float | None = None
    updated_at: float = field(default_factory=time.time)
    end_reason: EndReason | None = None  #: set with the final status

    def replace(self, **changes: Any) -> ContainerResult:
        """Return a copy with `changes` applied (status changes go through `transition`)."""
        return dataclasses.replace(self, **changes)

    @property
    def succeeded(self) -> bool:
        """True when the process ended by itself with exit code 0."""
        return self.status is Status.FINISHED and self.exit_code == 0


@dataclass(frozen=True)
class OutputChunk:
    """Output chunk number `seq` of one target, with its runs of (stream, length) (none: all stdout)."""

    job_id: str
    executor_id: str
    index: int
    seq: int
    data: bytes = field(repr=False)
    streams: tuple[tuple[int, int], ...] = ()


def transition(result: ContainerResult, status: Status, **changes: Any) -> ContainerResult:
    """Move `result` to `status`, refusing changes the state machine does not allow.

    A final status needs its `end_reason`; FINISHED is always `exited`.
    """
    if status not in _ALLOWED[result.status]:
        raise InvalidTransition(f"{result.status.value} -> {status.value} for {result.container_id[:12]}")
    if status is Status.FINISHED:
        changes["end_reason"] = EndReason.EXITED
    elif status.is_final and not isinstance(changes.get("end_reason"), EndReason):
        raise InvalidTransition(f"{status.value} without an end reason for {result.container_id[:12]}")
    now = time.time()
    if status is Status.RUNNING:
        changes.setdefault("started_at", now)
    if status.is_final:
        changes.setdefault("finished_at", now)
    return dataclasses.replace(result, status=status, updated_at=now, **changes)


def new_executor_id(now_s: float | None = None) -> str:
    """The seed's executor id: the creation timestamp with microseconds, e.g. '1496287694.460088'."""
    return f"{time.time() if now_s is None else now_s:.6f}"


class ExecutionState(StrEnum):
    """The state of a whole execution, derived from its targets."""

    RUNNING = "running"  #: some targets have not ended
    PAUSED = "paused"  #: a rolling execution waits for a resume before starting more targets
    SUCCEEDED = "succeeded"  #: every target finished with exit code 0
    FAILED = "failed"  #: every target ended and at least one did not succeed
    STOPPED = "stopped"  #: every target ended and the execution was stopped on request


#: the outcomes an execution's Counts are given by
COUNT_KEYS = ("waiting", "running", "succeeded", "failed", "stopped")


@dataclass(frozen=True)
class Summary:
    """State, end time and counts by outcome of one execution."""

    state: ExecutionState
    ended_at: float | None
    counts: dict[str, int]


def outcome(result: ContainerResult) -> str:
    """The key of COUNT_KEYS a result counts under."""
    if result.status is Status.STARTING:
        return "waiting"
    if not result.status.is_final:
        return "running"
    if result.succeeded:
        return "succeeded"
    return "stopped" if result.end_reason is EndReason.STOPPED else "failed"


class Tally:
    """An execution's counts by outcome, kept up to date one changed result at a time (a 200-target run changes
    a status about 800 times: counting all results each time was quadratic)."""

    def __init__(self, results: list[ContainerResult]) -> None:
        self._outcomes = [outcome(r) for r in results]
        self._finished_at = [r.finished_at or 0.0 for r in results]
        self.counts = dict.fromkeys(COUNT_KEYS, 0)
        for key in self._outcomes:
            self.counts[key] += 1

    def update(self, result: ContainerResult) -> None:
        """Count `result` instead of the record of its index counted so far."""
        key = outcome(result)
        self.counts[self._outcomes[result.index]] -= 1
        self.counts[key] += 1
        self._outcomes[result.index] = key
        self._finished_at[result.index] = result.finished_at or 0.0

    def summary(self, *, paused: bool = False) -> Summary:
        """The summary as of the results counted (`paused` comes from the execution's live run, if any)."""
        counts = dict(self.counts)
        if counts["waiting"] or counts["running"]:
            return Summary(ExecutionState.PAUSED if paused else ExecutionState.RUNNING, None, counts)
        ended_at = max(self._finished_at, default=None)
        if counts["stopped"]:
            state = ExecutionState.STOPPED
        elif counts["failed"]:
            state = ExecutionState.FAILED
        else:
            state = ExecutionState.SUCCEEDED
        return Summary(state, ended_at, counts)


def summarize(results: list[ContainerResult], *, paused: bool = False) -> Summary:
    """The summary of an execution from its results (`paused` comes from its live run, if any)."""
    return Tally(results).summary(paused=paused)


#: Execution.trigger values this version writes
TRIGGER_MANUAL = "manual"
TRIGGER_RETRY = "retry"
TRIGGER_SCHEDULE = "schedule"
#: Execution.started_by of what no user started: a schedule's fire, an automatic retry
STARTED_BY_SCHEDULE = "schedule"
STARTED_BY_RETRY = "retry"


@dataclass(frozen=True)
class ExecutionEntry:
    """One execution in a history list: what it ran on and how it ended, without its results."""

    job_id: str
    executor_id: str
    app_name: str
    service_name: str
    created_at: float
    trigger: str
    started_by: str
    retry_of: str
    state: str  #: an ExecutionState value ("running" until it has ended)
    ended_at: float | None
    counts: dict[str, int] | None  #: by outcome, once ended (None while running)
    targets: int
    job_name: str | None  #: the job's current name, read with the list (None: the job is gone)

    def replace(self, **changes: Any) -> ExecutionEntry:
        """Return a copy with `changes` applied."""
        return dataclasses.replace(self, **changes)


@dataclass(frozen=True)
class AuditEntry:
    """Who did what to which job: never a secret, only the names of the fields an edit changed."""

    at: float
    user: str
    action: str  #: create, edit, delete, start, stop, retry, resume, schedule.create, schedule.edit, schedule.delete
    job_id: str
    job_name: str = ""
    executor_id: str = ""
    fields: tuple[str, ...] = ()
    audit_id: str = ""  #: set by the store
    schedule_id: str = ""  #: the schedule of a schedule.* action
