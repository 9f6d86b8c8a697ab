"""One `docker exec` in one container: create, inspect, signal, through the node's engine handle."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from .cipher import mask
from .errors import EngineError
from .nodes import Engine, EngineHandle

#: exec-inspect fields the seed shows for a finished target
INSPECT_FIELDS = (
    "ExitCode",
    "Pid",
    "Running",
    "ProcessConfig",
    "OpenStdin",
    "OpenStdout",
    "OpenStderr",
    "CanRemove",
    "DetachKeys",
    "ContainerID",
)


@dataclass(frozen=True)
class ExecSpec:
    """What to run: argv (secrets included, never logged), user, privileged, environment."""

    argv: list[str] = field(repr=False)
    user: str = ""
    privileged: bool = False
    env: list[str] = field(default_factory=list)


async def create_exec(engine: EngineHandle, container_id: str, spec: ExecSpec) -> str:
    """Create the exec in the container; return its id."""

    def create(client: Engine) -> str:
        created = client.exec_create(
            container_id,
            spec.argv,
            stdout=True,
            stderr=True,
            stdin=False,
            tty=False,
            privileged=spec.privileged,
            user=spec.user,
            environment=spec.env or None,
        )
        return str(created["Id"])

    return await engine.call(create, what=f"create exec in {container_id[:12]}")


async def inspect_exec(engine: EngineHandle, exec_id: str) -> dict[str, Any]:
    """The engine's exec-inspect record, reduced to the seed's fields."""

    def inspect(client: Engine) -> dict[str, Any]:
        record = client.exec_inspect(exec_id)
        return {name: record.get(name) for name in INSPECT_FIELDS}

    return await engine.call(inspect, what=f"inspect exec {exec_id[:12]}")


async def container_running(engine: EngineHandle, container_id: str) -> bool:
    """True while the container runs (ContainerUnavailable once it is removed)."""

    def inspect(client: Engine) -> bool:
        state = client.inspect_container(container_id).get("State") or {}
        return bool(state.get("Running")) and not state.get("Restarting")

    return await engine.call(inspect, what=f"inspect container {container_id[:12]}")


async def wait_exit(engine: EngineHandle, exec_id: str, *, timeout_s: float = 10.0) -> dict[str, Any]:
    """Inspect until the engine reports the process ended (the stream can close a moment earlier)."""
    deadline = time.monotonic() + timeout_s
    delay_s = 0.02
    while True:
        record = await inspect_exec(engine, exec_id)
        if not record.get("Running") or time.monotonic() > deadline:
            return record
        await asyncio.sleep(delay_s)
        delay_s = min(delay_s * 2, 0.5)


MARKER_ENV = "DCE_JOBS_RUN"

# Signals every process whose environment carries the marker (the exec and the children it spawned).
# Docker has no API to kill an exec (moby#9098), so a second exec does it; it needs sh in the container.
# The processes are frozen (STOP) before the signal and thawed after, so that none of them can react to
# another's death first (a shell would run its next command when its child dies).
_KILL_SCRIPT = (
    'sig=$1; mark=$2; pids=""; for d in /proc/[0-9]*; do p=${d#/proc/}; [ "$p" = "$$" ] && continue; '
    'grep -qzxF "$mark" "$d/environ" 2>/dev/null && pids="$pids $p"; done; '
    '[ -z "$pids" ] && { echo 0; exit 0; }; '
    'kill -STOP $pids 2>/dev/null; kill -"$sig" $pids 2>/dev/null; kill -CONT $pids 2>/dev/null; '
    "set -- $pids; echo $#"
)


def run_marker(job_id: str, executor_id: str, index: int) -> str:
    """The environment entry that identifies one target's processes inside its container."""
    return f"{MARKER_ENV}={job_id}/{executor_id}/{index}"


async def signal_marked(engine: EngineHandle, container_id: str, marker: str, signal: str) -> int:
    """Send `signal` to the processes carrying `marker` in the container; return how many were signalled."""

    def kill(client: Engine) -> tuple[bytes, int | None]:
        created = client.exec_create(
            container_id, ["sh", "-c", _KILL_SCRIPT, "dce-jobs-kill", signal, marker], user="0"
        )
        output = client.exec_start(created["Id"], tty=False)
        return output, client.exec_inspect(created["Id"]).get("ExitCode")

    output, exit_code = await engine.call(kill, what=f"signal {signal} in {container_id[:12]}")
    text = output.decode(errors="replace").strip()
    if exit_code != 0 or not text.isdigit():
        raise EngineError(
            f"could not signal the process in {container_id[:12]} (needs sh in the container): {text[:200]}"
        )
    return int(text)


async def terminate(
    engine: EngineHandle, container_id: str, exec_id: str, marker: str, *, grace_s: float
) -> dict[str, Any]:
    """TERM the target's processes, KILL them after grace_s; return the final exec-inspect record."""
    await signal_marked(engine, container_id, marker, "TERM")
    record = await wait_exit(engine, exec_id, timeout_s=grace_s)
    if not record.get("Running"):
        return record
    await signal_marked(engine, container_id, marker, "KILL")
    return await wait_exit(engine, exec_id, timeout_s=grace_s)


def masked_record(
    record: dict[str, Any], secret_lengths: Sequence[int] | None, redact: Callable[[str], str] | None = None
) -> dict[str, Any]:
    """Exec-inspect fields for display: the trailing secret arguments replaced by their masks.

    `secret_lengths` must be those of the run itself (its argv ends with them); None when unknown masks every
    argument, never guessing from a job definition that may have changed since.
    """
    shown = dict(record)
    shown.pop("ExitCode", None)
    config = dict(shown.get("ProcessConfig") or {})
    arguments = [str(a) for a in config.get("arguments") or []]
    if secret_lengths is None or len(arguments) < len(secret_lengths):
        arguments = [mask(len(a)) for a in arguments]
    elif secret_lengths:
        arguments[-len(secret_lengths) :] = [mask(n) for n in secret_lengths]
    if redact is not None:
        arguments = [redact(a) for a in arguments]
        if "entrypoint" in config:
            config["entrypoint"] = redact(str(config["entrypoint"]))
    config["arguments"] = arguments
    shown["ProcessConfig"] = config
    return shown
