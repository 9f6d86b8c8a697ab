"""One writer in front of the store for what runs record: every target's output chunks and result saves.

Whatever is queued when the writer gets its turn goes to the store as one batch (one SQLite transaction, one
bulk write per Mongo collection), in the order it came, so a target's chunks stay in order and its final status
is never stored before its output. Readers of output streams do not wait for the store: a chunk is queued and
the reader reads on, until the queued output reaches its bound (back-pressure: a slow store then stalls the
readers, it never grows a buffer without bound).
"""

from __future__ import annotations

import asyncio
from collections import deque
from dataclasses import dataclass

from .errors import StoreUnavailable
from .models import ContainerResult, OutputChunk
from .store import Store


@dataclass
class _Queued:
    item: OutputChunk | ContainerResult
    done: asyncio.Future[None]
    size_bytes: int


class StoreWriter:
    """Batches the writes of all running targets; at most `max_pending_bytes` of output wait (plus one chunk)."""

    def __init__(self, store: Store, *, max_pending_bytes: int, max_batch_bytes: int | None = None) -> None:
        self._store = store
        self.max_pending_bytes = max_pending_bytes
        self._max_batch_bytes = max_batch_bytes or max(1, max_pending_bytes // 4)
        self._queue: deque[_Queued] = deque()
        self.pending_bytes = 0  #: output queued or being written
        self._room = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._closing = False

    async def append_output(self, chunk: OutputChunk) -> asyncio.Future[None]:
        """Queue a chunk, waiting only while the queued output is at its bound; the future ends once it is stored."""
        size = len(chunk.data)
        while self.pending_bytes and self.pending_bytes + size > self.max_pending_bytes:
            self._room.clear()
            await self._room.wait()
        return self._put(chunk, size)

    async def save_result(self, result: ContainerResult) -> None:
        """Store a result after everything queued before it; returns once it is stored."""
        await self._put(result, 0)

    def _put(self, item: OutputChunk | ContainerResult, size_bytes: int) -> asyncio.Future[None]:
        if self._closing and (self._task is None or self._task.done()):
            raise StoreUnavailable("the store writer is closed")
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._queue.append(_Queued(item, done, size_bytes))
        self.pending_bytes += size_bytes
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._drain(), name="store writer")
        return done

    async def _drain(self) -> None:
        while self._queue:
            batch = self._take()
            chunks = [q.item for q in batch if isinstance(q.item, OutputChunk)]
            results = [q.item for q in batch if isinstance(q.item, ContainerResult)]
            try:
                await self._store.write_batch(chunks, results)
            except Exception as e:  # every waiter gets the store's error, the writer goes on with the next batch
                for queued in batch:
                    if not queued.done.done():
                        queued.done.set_exception(e)
            else:
                for queued in batch:
                    if not queued.done.done():
                        queued.done.set_result(None)
            finally:
                self.pending_bytes -= sum(q.size_bytes for q in batch)
                self._room.set()

    def _take(self) -> list[_Queued]:
        """The oldest queued writes, up to max_batch_bytes of output (at least one write)."""
        batch = [self._queue.popleft()]
        size = batch[0].size_bytes
        while self._queue and size + self._queue[0].size_bytes <= self._max_batch_bytes:
            queued = self._queue.popleft()
            batch.append(queued)
            size += queued.size_bytes
        return batch

    async def settled(self) -> None:
        """Return once everything queued so far is written (or has failed)."""
        while self._task is not None and not self._task.done():
            await asyncio.shield(self._task)

    async def close(self) -> None:
        """Write what is queued, then refuse further writes."""
        self._closing = True
        await self.settled()
