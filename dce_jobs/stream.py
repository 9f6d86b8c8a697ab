"""An exec's output: Docker's hijacked HTTP connection and its multiplexed frames, read by asyncio without a thread.

docker-py hands the hijacked connection over as a raw socket (`exec_start(socket=True)`), but bytes that arrived
with the 101 headers may already sit in http.client's read buffer and are lost when only the socket is read
(docker-py#425, #1770). `start_attached` therefore does what exec_start does through docker-py's private
`_post_json`, `_url` and `_get_raw_response_socket`, keeps those buffered bytes, and gives the socket to asyncio.
A TLS socket cannot be taken over by asyncio once Python's ssl module wraps it, so that one is read in a thread
of a bounded pool (`NodePool.tls_streams`).
"""

from __future__ import annotations

import asyncio
import socket
import ssl
import struct
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Protocol

from .errors import EngineError, NodeUnreachable
from .nodes import Engine, EngineHandle

_HEADER = struct.Struct(">BxxxL")
_READ_BYTES = 64 * 1024
_TLS_POLL_S = 0.5

STDOUT = 1
STDERR = 2


async def start_attached(engine: EngineHandle, exec_id: str) -> OutputStream:
    """Start a created exec attached to its output; return the stream to read."""

    def start(client: Engine) -> tuple[Any, Any, bytes]:
        response = client._post_json(
            client._url("/exec/{0}/start", exec_id),
            headers={"Connection": "Upgrade", "Upgrade": "tcp"},
            data={"Tty": False, "Detach": False},
            stream=True,
        )
        sock = client._get_raw_response_socket(response)
        return response, sock, _drain_buffered(response, sock)

    response, sock, early = await engine.call(start, what=f"start exec {exec_id[:12]}")
    raw = getattr(sock, "_sock", sock)
    return OutputStream(raw, f"exec {exec_id[:12]}", early=early, keep=response, tls_pool=engine.stream_pool)


def _drain_buffered(response: Any, sock: Any) -> bytes:
    """Bytes http.client already read past the HTTP headers (without waiting for more)."""
    reader = getattr(getattr(getattr(response, "raw", None), "_fp", None), "fp", None)
    raw = getattr(sock, "_sock", sock)
    if reader is None or not hasattr(reader, "read1"):
        return b""
    raw.setblocking(False)
    try:
        return reader.read1(_READ_BYTES) or b""
    except (BlockingIOError, OSError):
        return b""
    finally:
        raw.setblocking(True)


class _Source(Protocol):
    async def read(self) -> bytes:
        """The next bytes; b"" at the end of the stream."""

    def abort(self) -> None:
        """Make a pending or later read return b"" at once."""

    def close(self) -> None:
        """Release the connection."""


class _AsyncSource:
    """A plain (unix or TCP) socket read by the event loop."""

    def __init__(self, sock: socket.socket) -> None:
        self._sock = sock
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None
        self._aborted = False

    async def read(self) -> bytes:
        if self._aborted:
            return b""
        if self._reader is None:
            self._reader, self._writer = await asyncio.open_connection(sock=self._sock, limit=_READ_BYTES)
        try:
            return await self._reader.read(_READ_BYTES)
        except OSError as e:
            raise NodeUnreachable(f"output stream broke ({e})") from e

    def abort(self) -> None:
        self._aborted = True
        if self._writer is not None:
            self._writer.transport.abort()  # the pending read ends with EOF

    def close(self) -> None:
        if self._writer is not None:
            self._writer.transport.abort()
        else:
            self._sock.close()


class _ThreadSource:
    """A TLS socket, read in a pool thread with a short poll so that an abort is noticed."""

    def __init__(self, sock: socket.socket, pool: ThreadPoolExecutor) -> None:
        self._sock = sock
        self._pool = pool
        self._aborted = False
        sock.settimeout(_TLS_POLL_S)

    async def read(self) -> bytes:
        return await asyncio.get_running_loop().run_in_executor(self._pool, self._recv)

    def _recv(self) -> bytes:
        while not self._aborted:
            try:
                return bytes(self._sock.recv(_READ_BYTES))
            except TimeoutError:
                continue
            except OSError as e:
                raise NodeUnreachable(f"output stream broke ({e})") from e
        return b""

    def abort(self) -> None:
        self._aborted = True

    def close(self) -> None:
        try:
            self._sock.close()
        except OSError:
            pass


class OutputStream:
    """The output of a started exec: the payloads of stdout and stderr frames in arrival order."""

    def __init__(
        self,
        sock: socket.socket,
        what: str,
        *,
        early: bytes = b"",
        keep: Any = None,
        tls_pool: ThreadPoolExecutor | None = None,
    ) -> None:
        if isinstance(sock, ssl.SSLSocket):
            if tls_pool is None:
                raise ValueError("a TLS stream needs a thread pool")
            self._source: _Source = _ThreadSource(sock, tls_pool)
        else:
            self._source = _AsyncSource(sock)
        self._what = what
        self._early = early
        self._keep = keep  #: the HTTP response owns the connection's file objects; keep it alive while reading
        self._abort_reason = ""
        self._abort_error: type[EngineError] = EngineError

    def abort(self, reason: str, *, node_lost: bool = False) -> None:
        """Stop reading; the iterator then raises EngineError(reason), NodeUnreachable when the node was lost."""
        self._abort_reason = reason
        self._abort_error = NodeUnreachable if node_lost else EngineError
        self._source.abort()

    async def chunks(self) -> AsyncIterator[bytes]:
        """Yield output payloads until the process closes the stream."""
        async for _, payload in self.frames():
            yield payload

    async def frames(self) -> AsyncIterator[tuple[int, bytes]]:
        """Yield (stream, payload) in arrival order, stream being STDOUT or STDERR."""
        buffer, self._early = self._early, b""
        try:
            while True:
                offset = 0
                while len(buffer) - offset >= _HEADER.size:
                    kind, size = _HEADER.unpack_from(buffer, offset)
                    end = offset + _HEADER.size + size
                    if len(buffer) < end:
                        break
                    if size:
                        yield kind, buffer[offset + _HEADER.size : end]
                    offset = end
                buffer = buffer[offset:]
                try:
                    data = await self._source.read()
                except NodeUnreachable as e:
                    raise NodeUnreachable(f"{self._what}: {e.message}") from e
                if self._abort_reason:
                    raise self._abort_error(self._abort_reason)
                if not data:
                    if buffer:
                        raise NodeUnreachable(f"{self._what}: output stream ended in the middle of a frame")
                    return
                buffer += data
        finally:
            self._source.close()
            self._keep = None
