"""One subscriber's events of one execution: caught up from the store, then live from the run's broadcaster.

The subscriber's cursor (cursor.py) says what it has been sent. While the execution runs in this process, the
feed reads the store up to what the broadcaster has published and joins it live; when its queue overflows it
reads the store again from its own cursor and rejoins. Without a live run (finished, recovered after a restart,
or run by another process) the store is polled until every target is final, then `end` is sent.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import aclosing
from dataclasses import dataclass

from .cursor import Cursor, summary_token
from .events import Event, complete_utf8, output_event, summary_event, target_event
from .live import Broadcaster, Subscription
from .models import ContainerResult, Execution, summarize
from .store import Store

PIECE_BYTES = 64 * 1024
POLL_S = 0.5
_RETRY_JOIN_S = 0.02


@dataclass
class _Hint:
    """Where the next store read of a target may start: after chunk `seq`, which ends at byte `offset`."""

    seq: int = -1
    offset: int = 0


class Feed:
    """The events one subscriber is owed, from `cursor` on (None: a fresh subscribe, starting with every target)."""

    def __init__(
        self,
        store: Store,
        execution: Execution,
        lookup: Callable[[], Broadcaster | None],
        *,
        cursor: Cursor | None = None,
        only: int | None = None,
        poll_s: float = POLL_S,
    ) -> None:
        self._store = store
        self._execution = execution
        self._lookup = lookup
        self._fresh = cursor is None
        self.cursor = cursor if cursor is not None else Cursor.blank(len(execution.targets))
        self._only = only
        self._poll_s = poll_s
        self._hints = [_Hint() for _ in execution.targets]
        self.live = False  #: True while the subscriber receives live events
        self.joins = 0  #: how many times it joined the live events

    def _broadcaster(self) -> Broadcaster | None:
        broadcaster = self._lookup()
        return None if broadcaster is None or broadcaster.closed else broadcaster

    async def _results(self) -> list[ContainerResult]:
        return await self._store.list_results(self._execution.job_id, self._execution.executor_id)

    async def events(self) -> AsyncIterator[Event]:
        """Yield the events in order until `end` (or, with `only`, until that target is final)."""
        if self._fresh and self._only is None:
            broadcaster = self._broadcaster()
            results = list(broadcaster.results) if broadcaster is not None else await self._results()
            for result in results:
                yield target_event(result, self.cursor)
        while not self.cursor.ended:
            broadcaster = self._broadcaster()
            if broadcaster is not None:
                joined = broadcaster.join(self.cursor, only=self._only)
                if joined is not None:
                    async for event in self._live(broadcaster, *joined):
                        yield event
                    continue
                limits: list[int] | None = list(broadcaster.cursor.offsets)
            else:
                limits = None
            progressed = False
            async for event in self._catch_up(limits):
                progressed = True
                yield event
            if not progressed:
                await asyncio.sleep(self._poll_s if limits is None else _RETRY_JOIN_S)

    async def _live(self, broadcaster: Broadcaster, sub: Subscription, cursor: Cursor) -> AsyncIterator[Event]:
        self.cursor, last = cursor, None
        self.live = True
        self.joins += 1
        try:
            while (event := await sub.next()) is not None:
                last = event
                yield event
        finally:
            self.live = False
            broadcaster.leave(sub)
        if last is not None:
            self.cursor = Cursor.decode(last.id, len(self._execution.targets))

    async def _catch_up(self, limits: list[int] | None) -> AsyncIterator[Event]:
        """Output (up to `limits`, the live published offsets) from the store; statuses too without a live run."""
        results = await self._results()  # before the output: a final status means all its output is stored
        indexes = range(len(results)) if self._only is None else (self._only,)
        for index in indexes:
            result = results[index]
            limit = None if limits is None else limits[index]
            async for event in self._stored_output(result, limit, whole=limits is None and result.status.is_final):
                yield event
            if limits is None and self.cursor.statuses[index] != result.status:
                yield target_event(result, self.cursor)
        if limits is not None:
            return
        summary = summarize(results)
        if summary_token(summary) != self.cursor.summary:
            yield summary_event(summary, self.cursor)
        if summary.ended_at is not None:
            yield summary_event(summary, self.cursor, end=True)

    async def _stored_output(self, result: ContainerResult, limit: int | None, *, whole: bool) -> AsyncIterator[Event]:
        """Output events of one target's stored bytes from the cursor on (to `limit`), cut between characters.

        A character cut by the end of what is stored waits for the next read, unless the target is final
        (`whole`); a change of stream always ends a piece, as the broadcaster does.
        """
        index, cursor = result.index, self.cursor
        hint = self._hints[index]
        if hint.offset > cursor.offsets[index]:
            hint.seq, hint.offset = -1, 0
        position = hint.offset
        pending, pending_stream = bytearray(), 0
        chunks = self._store.iter_chunks(result.job_id, result.executor_id, index, after_seq=hint.seq)
        async with aclosing(chunks):
            async for seq, data, runs in chunks:
                chunk_at = position
                for stream, length in runs:
                    start = max(position, cursor.offsets[index] + len(pending))
                    end = position + length if limit is None else min(position + length, limit)
                    if start < end:
                        if pending and pending_stream != stream:
                            yield output_event(index, result.container_id, pending_stream, bytes(pending), cursor)
                            pending.clear()
                        pending_stream = stream
                        pending += data[start - chunk_at : end - chunk_at]
                        while len(pending) >= PIECE_BYTES:
                            cut = complete_utf8(pending[:PIECE_BYTES]) or PIECE_BYTES
                            yield output_event(index, result.container_id, stream, bytes(pending[:cut]), cursor)
                            del pending[:cut]
                    position += length
                if position <= cursor.offsets[index]:
                    hint.seq, hint.offset = seq, position
                if limit is not None and position >= limit:
                    break
        if pending:
            cut = len(pending) if whole or (limit is not None and position >= limit) else complete_utf8(pending)
            if cut:
                yield output_event(index, result.container_id, pending_stream, bytes(pending[:cut]), cursor)
