"""Persisting one target's output while it runs: redacted, chunked, capped, flushed on a timer."""

from __future__ import annotations

import asyncio
import time
from typing import Protocol

from .cipher import Redactor
from .models import STDERR, STDOUT, ContainerResult
from .store import Store

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
    """Collects output of one target and writes it to the store in chunks (at most one chunk is ever unsaved).

    Each chunk records which bytes came from stdout and which from stderr (runs of (stream, length)), so the
    two can be read apart; each stream has its own redactor, so a secret written to one stream is masked even
    when the other stream writes in between (its held-back tail may then be stored a little later).
    """

    def __init__(
        self,
        store: Store,
        result: ContainerResult,
        secrets: tuple[str, ...],
        *,
        limit_bytes: int,
        chunk_bytes: int,
        flush_s: float,
        listener: OutputListener | None = None,
    ) -> None:
        self._store = store
        self._listener = listener
        self._saved_bytes = 0
        self._result = result
        self._redactors = {STDOUT: Redactor(secrets), STDERR: Redactor(secrets)}
        self._limit_bytes = limit_bytes
        self._chunk_bytes = chunk_bytes
        self._flush_s = flush_s
        self._pending = bytearray()
        self._runs: list[list[int]] = []  #: [stream, length] of the pending bytes, in order
        self._pending_since = 0.0
        self._seq = 0
        self._lock = asyncio.Lock()
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
        if len(self._pending) >= self._chunk_bytes or self._is_stale():
            await self.flush()

    async def flush(self) -> None:
        """Write what is pending as one chunk."""
        async with self._lock:
            if not self._pending:
                return
            data, self._pending = bytes(self._pending), bytearray()
            runs, self._runs = [(s, n) for s, n in self._runs], []
            await self._store.append_output(self._result, self._seq, data, streams=runs)
            self._seq += 1
            self._saved_bytes += len(data)
            if self._listener is not None:
                self._listener.saved(self._result.index, self._saved_bytes)

    async def flush_if_stale(self) -> None:
        """Flush when pending output waited flush_s (called by a ticker while the exec is quiet)."""
        if self._is_stale():
            await self.flush()

    async def close(self) -> None:
        """Write the held-back tails and the last chunk."""
        for stream, redactor in self._redactors.items():
            self._take(stream, redactor.flush())
        await self.flush()

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
        self._pending += data
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
