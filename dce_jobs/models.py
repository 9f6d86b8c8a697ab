"""Domain records: jobs, executions, per-container results, and the status state machine."""

from __future__ import annotations

import dataclasses
import time
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
    created_at: float = field(default_factory=time.time)
    updated_at: float = field(default_factory=time.time)
    executors: tuple[str, ...] = ()

    def replace(self, **changes: Any) -> Job:
        """Return a copy with `changes` applied."""
        return dataclasses.replace(self, **changes)


@dataclass(frozen=True)
class Target:
    """One container to run in, on the Swarm node that hosts it."""

    container_id: str
    node_id: str


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

    def replace(self, **changes: Any) -> ContainerResult:
        """Return a copy with `changes` applied (status changes go through `transition`)."""
        return dataclasses.replace(self, **changes)


def transition(result: ContainerResult, status: Status, **changes: Any) -> ContainerResult:
    """Move `result` to `status`, refusing changes the state machine does not allow."""
    if status not in _ALLOWED[result.status]:
        raise InvalidTransition(f"{result.status.value} -> {status.value} for {result.container_id[:12]}")
    now = time.time()
    if status is Status.RUNNING:
        changes.setdefault("started_at", now)
    if status.is_final:
        changes.setdefault("finished_at", now)
    return dataclasses.replace(result, status=status, updated_at=now, **changes)


def new_executor_id(now_s: float | None = None) -> str:
    """The seed's executor id: the creation timestamp with microseconds, e.g. '1496287694.460088'."""
    return f"{time.time() if now_s is None else now_s:.6f}"
