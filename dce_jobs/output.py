"""Persisting one target's output while it runs: redacted, chunked, capped, flushed on a timer, through the writer."""

from __future__ import annotations

import asyncio
import time
from typing import Protocol

from .cipher import Redactor
from .models import STDERR, STDOUT, ContainerResult, OutputChunk
from .writer import StoreWriter

HEAD_BYTES = 2048


def truncation_marker(limit_bytes: int) -> bytes:
    """The line written once when a target's output reaches the limit."""
    return f"\n[dce-jobs] output truncated: the limit of {limit_bytes} bytes was reached\n".encode()


class OutputListener(Protocol):
    """Who hears a target's output as the sink takes it (the execution's live broadcaster)."""

    def output(self, index: int, stream: int, data: bytes) -> None:
        """Redacted bytes of one stream, in arrival order, as they will be stored."""

    def saved(self, index: int, total_bytes: int) -> None:
        """The store now holds the first `total_bytes` of the target's output."""


class OutputSink:
    """Collects output of one target and hands it to the store writer in chunks, without waiting for the store
    (unless the writer's queue is full); `close` returns once every chunk is stored.

    Each chunk records which bytes came from stdout and which from stderr (runs of (stream, length)), so the
    two can be read apart; each stream has its own redactor, so a secret written to one stream is masked even
    when the other stream writes in between (its held-back tail may then be stored a little later).
    """

    def __init__(
        self,
        writer: StoreWriter,
        result: ContainerResult,
        secrets: tuple[str, ...],
        *,
        limit_bytes: int,
        chunk_bytes: int,
        flush_s: float,
        listener: OutputListener | None = None,
    ) -> None:
        self._writer = writer
        self._listener = listener
        self._saved_bytes = 0  #: output handed to the writer so far (the listener hears when it is stored)
        self._result = result
        self._redactors = {STDOUT: Redactor(secrets), STDERR: Redactor(secrets)}
        self._limit_bytes = limit_bytes
        self._chunk_bytes = chunk_bytes
        self._flush_s = flush_s
        self._pending: list[bytes] = []  #: taken since the last chunk, joined once per chunk
        self._pending_bytes = 0
        self._runs: list[list[int]] = []  #: [stream, length] of the pending bytes, in order
        self._pending_since = 0.0
        self._seq = 0
        self._lock = asyncio.Lock()
        self._last_write: asyncio.Future[None] | None = None
        self._failure: BaseException | None = None
        self.stored_bytes = 0
        self.truncated = False
        self.head = b""  #: the first bytes stored (redacted): the engine's message when a start failed

    def redact_text(self, text: str) -> str:
        """`text` with this target's secrets masked (for the exec-inspect record)."""
        return self._redactors[STDOUT].redact_text(text)

    async def write(self, stream: int, data: bytes) -> None:
        """Take raw output of one stream; flush when a chunk is full or the oldest pending byte waited flush_s."""
        redactor = self._redactors.get(stream, self._redactors[STDOUT])
        self._take(stream if stream in self._redactors else STDOUT, redactor.feed(data))
        if self._pending_bytes >= self._chunk_bytes or self._is_stale():
            await self.flush()

    async def flush(self) -> None:
        """Queue what is pending as one chunk (raises the store's error of an earlier chunk, if any)."""
        if self._failure is not None:
            raise self._failure
        async with self._lock:
            if not self._pending:
                return
            data, self._pending, self._pending_bytes = b"".join(self._pending), [], 0
            runs, self._runs = tuple((s, n) for s, n in self._runs), []
            result = self._result
            chunk = OutputChunk(result.job_id, result.executor_id, result.index, self._seq, data, runs)
            self._seq += 1
            self._saved_bytes += len(data)
            saved_bytes = self._saved_bytes
            self._last_write = await self._writer.append_output(chunk)
            self._last_write.add_done_callback(lambda written: self._written(written, saved_bytes))

    def _written(self, written: asyncio.Future[None], saved_bytes: int) -> None:
        """A chunk's write ended (the writer ends them in order): tell the listener, or keep the store's error."""
        if written.cancelled():
            return
        if written.exception() is not None:
            self._failure = self._failure or written.exception()
        elif self._listener is not None:
            self._listener.saved(self._result.index, saved_bytes)

    async def flush_if_stale(self) -> None:
        """Flush when pending output waited flush_s (called by a ticker while the exec is quiet)."""
        if self._is_stale():
            await self.flush()

    async def close(self) -> None:
        """Write the held-back tails and the last chunk; return once every chunk is stored."""
        for stream, redactor in self._redactors.items():
            self._take(stream, redactor.flush())
        await self.flush()
        if self._last_write is not None:
            await asyncio.shield(self._last_write)  # the writer stores in order: the earlier chunks are in too
        if self._failure is not None:
            raise self._failure

    def _is_stale(self) -> bool:
        return bool(self._pending) and time.monotonic() - self._pending_since >= self._flush_s

    def _take(self, stream: int, data: bytes) -> None:
        if not data or self.truncated:
            return
        room = self._limit_bytes - self.stored_bytes
        if len(data) > room:
            data = data[:room] + truncation_marker(self._limit_bytes)
            self.truncated = True
        if len(self.head) < HEAD_BYTES:
            self.head += data[: HEAD_BYTES - len(self.head)]
        if not self._pending:
            self._pending_since = time.monotonic()
        self._pending.append(data)
        self._pending_bytes += len(data)
        if self._runs and self._runs[-1][0] == stream:
            self._runs[-1][1] += len(data)
        else:
            self._runs.append([stream, len(data)])
        self.stored_bytes += len(data)
        if self._listener is not None:
            self._listener.output(self._result.index, stream, data)


async def flush_ticker(sink: OutputSink, every_s: float, done: asyncio.Event) -> None:
    """Flush output that waited every_s, until `done` is set (set it and await; never cancel mid-flush)."""
    while not done.is_set():
        try:
            await asyncio.wait_for(done.wait(), timeout=every_s)
        except TimeoutError:
            await sink.flush_if_stale()
