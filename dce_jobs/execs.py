"""One `docker exec` in one container: create, start, stream output, inspect. Blocking parts run in threads."""

from __future__ import annotations

import asyncio
import struct
import threading
import time
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from .cipher import mask
from .errors import EngineError, NodeUnreachable
from .nodes import Engine, NodePool, engine_errors

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
_HEADER = struct.Struct(">BxxxL")
_RECV_BYTES = 64 * 1024
_POLL_S = 0.5
_QUEUE_CHUNKS = 64


@dataclass(frozen=True)
class ExecSpec:
    """What to run: argv (secrets included, never logged), user, privileged, environment."""

    argv: list[str] = field(repr=False)
    user: str = ""
    privileged: bool = False
    env: list[str] = field(default_factory=list)


async def create_exec(nodes: NodePool, engine: Engine, container_id: str, spec: ExecSpec) -> str:
    """Create the exec in the container; return its id."""

    def create() -> str:
        with engine_errors(f"create exec in {container_id[:12]}"):
            created = engine.exec_create(
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

    return await nodes.call(create)


async def inspect_exec(nodes: NodePool, engine: Engine, exec_id: str) -> dict[str, Any]:
    """The engine's exec-inspect record, reduced to the seed's fields."""

    def inspect() -> dict[str, Any]:
        with engine_errors(f"inspect exec {exec_id[:12]}"):
            record = engine.exec_inspect(exec_id)
        return {name: record.get(name) for name in INSPECT_FIELDS}

    return await nodes.call(inspect)


async def container_running(nodes: NodePool, engine: Engine, container_id: str) -> bool:
    """True while the container runs (ContainerUnavailable once it is removed)."""

    def inspect() -> bool:
        with engine_errors(f"inspect container {container_id[:12]}"):
            state = engine.inspect_container(container_id).get("State") or {}
        return bool(state.get("Running")) and not state.get("Restarting")

    return await nodes.call(inspect)


async def wait_exit(nodes: NodePool, engine: Engine, exec_id: str, *, timeout_s: float = 10.0) -> dict[str, Any]:
    """Inspect until the engine reports the process ended (the stream can close a moment earlier)."""
    deadline = time.monotonic() + timeout_s
    delay_s = 0.02
    while True:
        record = await inspect_exec(nodes, engine, exec_id)
        if not record.get("Running") or time.monotonic() > deadline:
            return record
        await asyncio.sleep(delay_s)
        delay_s = min(delay_s * 2, 0.5)


class OutputStream:
    """The output of a started exec: stdout and stderr frames in arrival order."""

    def __init__(self, nodes: NodePool, sock: Any, what: str, *, early: bytes = b"") -> None:
        self._nodes = nodes
        self._early = early
        self._sock = getattr(sock, "_sock", sock)
        self._what = what
        self._aborted = threading.Event()
        self._abort_reason = ""

    def abort(self, reason: str) -> None:
        """Stop reading (from any thread); the iterator then raises EngineError(reason)."""
        self._abort_reason = reason
        self._aborted.set()

    async def chunks(self) -> AsyncIterator[bytes]:
        """Yield output payloads until the process closes the stream."""
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[bytes | BaseException | None] = asyncio.Queue(maxsize=_QUEUE_CHUNKS)
        reader = asyncio.ensure_future(self._nodes.stream(self._pump, loop, queue))
        try:
            while True:
                item = await queue.get()
                if item is None:
                    break
                if isinstance(item, BaseException):
                    raise item
                yield item
        finally:
            self._aborted.set()
            await asyncio.shield(reader)
            self._close()

    def _pump(self, loop: asyncio.AbstractEventLoop, queue: asyncio.Queue[bytes | BaseException | None]) -> None:
        def put(item: bytes | BaseException | None) -> None:
            # blocks this reader thread while the consumer is behind (backpressure, bounded memory)
            while not asyncio.run_coroutine_threadsafe(_put(queue, item), loop).result():
                if self._aborted.is_set():
                    return

        try:
            for payload in self._frames():
                put(payload)
            put(None)
        except BaseException as e:  # handed to the consumer, which raises it
            put(e)

    def _frames(self) -> Any:
        """Payloads of Docker's multiplexed stream: an 8-byte header (stream, size) before each."""
        self._sock.settimeout(_POLL_S)
        buffer, self._early = self._early, b""
        while True:
            while len(buffer) >= _HEADER.size:
                _, size = _HEADER.unpack_from(buffer)
                if len(buffer) < _HEADER.size + size:
                    break
                payload = buffer[_HEADER.size : _HEADER.size + size]
                buffer = buffer[_HEADER.size + size :]
                if payload:
                    yield payload
            if self._aborted.is_set():
                raise EngineError(self._abort_reason or f"{self._what}: reading stopped")
            data = self._recv()
            if data is None:
                continue
            if not data:
                if buffer:
                    raise NodeUnreachable(f"{self._what}: output stream ended in the middle of a frame")
                return
            buffer += data

    def _recv(self) -> bytes | None:
        """The next bytes, b"" at the end, None when nothing came within the poll interval."""
        try:
            return bytes(self._sock.recv(_RECV_BYTES))
        except TimeoutError:
            return None
        except OSError as e:
            raise NodeUnreachable(f"{self._what}: output stream broke ({e})") from e

    def _close(self) -> None:
        try:
            self._sock.close()
        except OSError:
            pass


async def _put(queue: asyncio.Queue[bytes | BaseException | None], item: bytes | BaseException | None) -> bool:
    try:
        await asyncio.wait_for(queue.put(item), timeout=_POLL_S)
    except TimeoutError:
        return False
    return True


async def start_exec(nodes: NodePool, engine: Engine, exec_id: str) -> OutputStream:
    """Start a created exec attached to its output; return the stream to read."""

    def start() -> tuple[Any, bytes]:
        with engine_errors(f"start exec {exec_id[:12]}"):
            # docker-py's exec_start(socket=True), keeping the HTTP response: output that arrived with the
            # 101 headers may sit in http.client's read buffer, and reading only the socket would lose it
            response = engine._post_json(
                engine._url("/exec/{0}/start", exec_id),
                headers={"Connection": "Upgrade", "Upgrade": "tcp"},
                data={"Tty": False, "Detach": False},
                stream=True,
            )
            sock = engine._get_raw_response_socket(response)
        return sock, _drain_buffered(response, sock)

    sock, early = await nodes.call(start)
    return OutputStream(nodes, sock, f"exec {exec_id[:12]}", early=early)


def _drain_buffered(response: Any, sock: Any) -> bytes:
    """Bytes already read past the HTTP headers (without waiting for more)."""
    reader = getattr(getattr(getattr(response, "raw", None), "_fp", None), "fp", None)
    raw = getattr(sock, "_sock", sock)
    if reader is None or not hasattr(reader, "read1"):
        return b""
    raw.setblocking(False)
    try:
        return reader.read1(_RECV_BYTES) or b""
    except (BlockingIOError, OSError):
        return b""
    finally:
        raw.setblocking(True)


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


async def signal_marked(nodes: NodePool, engine: Engine, container_id: str, marker: str, signal: str) -> int:
    """Send `signal` to the processes carrying `marker` in the container; return how many were signalled."""

    def kill() -> int:
        with engine_errors(f"signal {signal} in {container_id[:12]}"):
            created = engine.exec_create(
                container_id, ["sh", "-c", _KILL_SCRIPT, "dce-jobs-kill", signal, marker], user="0"
            )
            output = engine.exec_start(created["Id"], tty=False)
            exit_code = engine.exec_inspect(created["Id"]).get("ExitCode")
        text = output.decode(errors="replace").strip()
        if exit_code != 0 or not text.isdigit():
            raise EngineError(
                f"could not signal the process in {container_id[:12]} (needs sh in the container): {text[:200]}"
            )
        return int(text)

    return await nodes.call(kill)


async def terminate(
    nodes: NodePool, engine: Engine, container_id: str, exec_id: str, marker: str, *, grace_s: float
) -> dict[str, Any]:
    """TERM the target's processes, KILL them after grace_s; return the final exec-inspect record."""
    await signal_marked(nodes, engine, container_id, marker, "TERM")
    record = await wait_exit(nodes, engine, exec_id, timeout_s=grace_s)
    if not record.get("Running"):
        return record
    await signal_marked(nodes, engine, container_id, marker, "KILL")
    return await wait_exit(nodes, engine, exec_id, timeout_s=grace_s)


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
