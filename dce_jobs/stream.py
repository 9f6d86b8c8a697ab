"""An exec's output: Docker's hijacked HTTP connection and its multiplexed frames, read by asyncio without a thread.

docker-py hands the hijacked connection over as a raw socket (`exec_start(socket=True)`), but bytes that arrived
with the 101 headers may already sit in http.client's read buffer and are lost when only the socket is read
(docker-py#425, #1770). `start_attached` therefore does what exec_start does through docker-py's private
`_post_json`, `_url` and `_get_raw_response_socket`, keeps those buffered bytes, and gives the socket to asyncio,
which reads it straight into one reusable buffer per stream (a buffered protocol: no bytes object per read).
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
#: a stream's frame buffer, read into _READ_MAX_BYTES at a time: reading pauses only when the reader has left
#: several reads untaken (less than one read's room is free), not after every read that filled the room
_BUFFER_BYTES = 512 * 1024
_READ_MAX_BYTES = 128 * 1024
_MIN_ROOM_BYTES = 64 * 1024
#: the buffer a stream starts with: most execs print little, and a stream that started with _BUFFER_BYTES of fresh
#: memory to zero held the event loop about 0.5 ms (2 ms on a busy machine: 0.4 s for 200 targets starting) and
#: kept 100 MiB for 200 running execs; a stream whose read fills its room gets _BUFFER_BYTES
_FIRST_BUFFER_BYTES = 32 * 1024
#: consecutive frames of one stream are handed on as one payload up to this size (fewer, larger writes)
_JOIN_BYTES = 64 * 1024
_TLS_POLL_S = 0.5


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


class _FrameBuffer:
    """Received bytes not parsed yet, in one reusable buffer the socket is read into (no bytes object per read).

    `take` parses every complete frame at once, before the reader hands any payload on, so that no view of
    the buffer outlives the call: the buffer may be compacted or replaced by the next read.
    """

    def __init__(self, early: bytes) -> None:
        self._data = bytearray(max(_FIRST_BUFFER_BYTES, 2 * len(early)))
        self._data[: len(early)] = early
        self._start = 0
        self._end = len(early)
        self._room_bytes = 0  #: the size of the last `room`

    @property
    def _read_bytes(self) -> int:
        return min(_READ_MAX_BYTES, len(self._data) // 2)

    @property
    def pending(self) -> int:
        """Bytes received and not taken: the beginning of a frame that is not complete yet."""
        return self._end - self._start

    @property
    def full(self) -> bool:
        """True when less room is left than one read takes: reading pauses until the next `take`."""
        return len(self._data) - self.pending < self._read_bytes

    def room(self) -> memoryview:
        """The free space after the pending bytes to read into: at least a quarter of the buffer (at most
        _MIN_ROOM_BYTES), at most half of it (at most _READ_MAX_BYTES)."""
        self._make_room(min(_MIN_ROOM_BYTES, len(self._data) // 4))
        room = memoryview(self._data)[self._end : self._end + self._read_bytes]
        self._room_bytes = len(room)
        return room

    def added(self, size: int) -> None:
        """`size` bytes were written at the start of the last `room`."""
        self._end += size
        if size >= self._room_bytes and len(self._data) < _BUFFER_BYTES:  # a stream that prints a lot
            self._grow(_BUFFER_BYTES)

    def feed(self, data: bytes) -> None:
        """Append bytes read elsewhere (from a TLS socket)."""
        self._make_room(len(data))
        self._data[self._end : self._end + len(data)] = data
        self._end += len(data)

    def _make_room(self, size: int) -> None:
        if len(self._data) - self._end >= size:
            return
        pending = self.pending
        if len(self._data) - pending < size:  # a frame larger than the buffer: a larger buffer, for good
            self._grow(max(2 * len(self._data), pending + size))
            return
        self._data[:pending] = self._data[self._start : self._end]
        self._start, self._end = 0, pending

    def _grow(self, size: int) -> None:
        pending = self.pending
        grown = bytearray(size)
        grown[:pending] = self._data[self._start : self._end]
        self._data = grown
        self._start, self._end = 0, pending

    def take(self) -> list[tuple[int, bytes]]:
        """The payloads of the complete frames; consecutive frames of one stream joined, up to _JOIN_BYTES."""
        data, position, end = self._data, self._start, self._end
        view = memoryview(data)
        taken: list[tuple[int, bytes]] = []
        pieces: list[memoryview] = []
        pieces_kind = pieces_bytes = 0
        while end - position >= _HEADER.size:
            kind, size = _HEADER.unpack_from(data, position)
            stop = position + _HEADER.size + size
            if stop > end:
                break
            if size:
                if pieces and (kind != pieces_kind or pieces_bytes + size > _JOIN_BYTES):
                    taken.append((pieces_kind, b"".join(pieces)))
                    pieces, pieces_bytes = [], 0
                pieces.append(view[position + _HEADER.size : stop])
                pieces_kind = kind
                pieces_bytes += size
            position = stop
        if pieces:
            taken.append((pieces_kind, b"".join(pieces)))
        self._start, self._end = (0, 0) if position == end else (position, end)
        return taken


class _Source(Protocol):
    async def fill(self) -> bool:
        """Wait for more bytes in the frame buffer; False at the end of the stream."""

    def abort(self) -> None:
        """Make a pending or later fill return False at once."""

    def close(self) -> None:
        """Release the connection."""


class _Receiver(asyncio.BufferedProtocol):
    """The event loop's reads of a plain socket, straight into the frame buffer; paused while it is full."""

    def __init__(self, frames: _FrameBuffer) -> None:
        self._frames = frames
        self._transport: asyncio.Transport | None = None
        self._waiter: asyncio.Future[None] | None = None
        self._fresh = False  #: bytes arrived since the last fill
        self._ended = False
        self._error: Exception | None = None
        self._paused = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self._transport = transport

    def get_buffer(self, sizehint: int) -> memoryview:
        return self._frames.room()

    def buffer_updated(self, nbytes: int) -> None:
        self._frames.added(nbytes)
        self._fresh = True
        if self._frames.full and not self._paused and self._transport is not None:
            self._transport.pause_reading()
            self._paused = True
        self._wake()

    def eof_received(self) -> bool:
        self._ended = True
        self._wake()
        return False

    def connection_lost(self, exc: Exception | None) -> None:
        self._ended = True
        self._error = exc
        self._wake()

    def _wake(self) -> None:
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(None)

    async def fill(self) -> bool:
        if self._paused and self._transport is not None:
            self._paused = False
            self._transport.resume_reading()
        while not self._fresh and not self._ended:
            self._waiter = asyncio.get_running_loop().create_future()
            try:
                await self._waiter
            finally:
                self._waiter = None
        if self._fresh:
            self._fresh = False
            return True
        if self._error is not None:
            raise NodeUnreachable(f"output stream broke ({self._error})")
        return False


class _AsyncSource:
    """A plain (unix or TCP) socket read by the event loop."""

    def __init__(self, sock: socket.socket, frames: _FrameBuffer) -> None:
        self._sock = sock
        self._frames = frames
        self._receiver: _Receiver | None = None
        self._transport: asyncio.BaseTransport | None = None
        self._aborted = False

    async def fill(self) -> bool:
        if self._aborted:
            return False
        if self._receiver is None:
            loop = asyncio.get_running_loop()
            receiver = _Receiver(self._frames)
            self._transport, _ = await loop.create_connection(lambda: receiver, sock=self._sock)
            self._receiver = receiver
        return await self._receiver.fill()

    def abort(self) -> None:
        self._aborted = True
        if isinstance(self._transport, asyncio.Transport):
            self._transport.abort()  # the pending fill ends as at the end of the stream

    def close(self) -> None:
        if isinstance(self._transport, asyncio.Transport):
            self._transport.abort()
        else:
            self._sock.close()


class _ThreadSource:
    """A TLS socket, read in a pool thread with a short poll so that an abort is noticed."""

    def __init__(self, sock: socket.socket, frames: _FrameBuffer, pool: ThreadPoolExecutor) -> None:
        self._sock = sock
        self._frames = frames
        self._pool = pool
        self._aborted = False
        sock.settimeout(_TLS_POLL_S)

    async def fill(self) -> bool:
        data = await asyncio.get_running_loop().run_in_executor(self._pool, self._recv)
        if not data:
            return False
        self._frames.feed(data)
        return True

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
        self._buffer = _FrameBuffer(early)
        if isinstance(sock, ssl.SSLSocket):
            if tls_pool is None:
                raise ValueError("a TLS stream needs a thread pool")
            self._source: _Source = _ThreadSource(sock, self._buffer, tls_pool)
        else:
            self._source = _AsyncSource(sock, self._buffer)
        self._what = what
        self._keep = keep  #: the HTTP response owns the connection's file objects; keep it alive while reading
        self._abort_reason = ""
        self._abort_error: type[EngineError] = EngineError

    def abort(self, reason: str, *, node_lost: bool = False) -> None:
        """Stop reading; the iterator then raises EngineError(reason), NodeUnreachable when the node was lost."""
        self._abort_reason = reason
        self._abort_error = NodeUnreachable if node_lost else EngineError
        self._source.abort()

    async def frames(self) -> AsyncIterator[tuple[int, bytes]]:
        """Yield (stream, payload) in arrival order, stream being models.STDOUT or models.STDERR."""
        try:
            while True:
                for kind, payload in self._buffer.take():
                    yield kind, payload
                try:
                    more = await self._source.fill()
                except NodeUnreachable as e:
                    raise NodeUnreachable(f"{self._what}: {e.message}") from e
                if self._abort_reason:
                    raise self._abort_error(self._abort_reason)
                if not more:
                    if self._buffer.pending:
                        raise NodeUnreachable(f"{self._what}: output stream ended in the middle of a frame")
                    return
        finally:
            self._source.close()
            self._keep = None
