"""The in-process broadcaster of one running execution: events built once, handed to every live subscriber.

Output is published as the sink takes it from the engine (redacted, before the store's flush); each target keeps
the published bytes the store has not confirmed yet (its tail), so a subscriber that caught up from the store
joins live exactly where it stands. A subscriber whose bounded queue overflows is dropped: it drains what it
has, then catches up from the store with its own cursor and joins again. The run never waits for a subscriber.
"""

from __future__ import annotations

import asyncio
from collections import deque

from .cursor import Cursor, summary_token
from .events import Event, complete_utf8, output_event, summary_event, target_event
from .models import ContainerResult, Summary, Tally

QUEUE_EVENTS = 1024
QUEUE_BYTES = 4 * 1024 * 1024


class Subscription:
    """One subscriber's bounded queue of live events."""

    def __init__(self, events: list[Event], *, max_events: int, max_bytes: int) -> None:
        self._queue: deque[Event] = deque(events)
        self._bytes = sum(len(e.frame) for e in events)
        self._max_events = max_events
        self._max_bytes = max_bytes
        self._wake = asyncio.Event()
        self.live = True  #: False once dropped (overflow) or closed
        self.ended = False  #: the execution's `end` is in the queue

    def offer(self, event: Event) -> bool:
        """Queue a live event; False (and dropped from live) when the queue is full."""
        if not self.live:
            return False
        if len(self._queue) >= self._max_events or self._bytes + len(event.frame) > self._max_bytes:
            self.live = False
            self._wake.set()
            return False
        self._queue.append(event)
        self._bytes += len(event.frame)
        self._wake.set()
        return True

    def close(self, *, ended: bool) -> None:
        """No more live events: the execution ended (its `end` queued) or its run went away."""
        self.live = False
        self.ended = ended
        self._wake.set()

    @property
    def queued(self) -> int:
        """Events waiting in the queue."""
        return len(self._queue)

    async def next(self) -> Event | None:
        """The next queued event; None once the queue is drained and no more will come."""
        while not self._queue:
            if not self.live:
                return None
            self._wake.clear()
            await self._wake.wait()
        event = self._queue.popleft()
        self._bytes -= len(event.frame)
        return event


class Broadcaster:
    """Publishes the events of one execution while its run lives."""

    def __init__(
        self, results: list[ContainerResult], *, max_events: int = QUEUE_EVENTS, max_bytes: int = QUEUE_BYTES
    ) -> None:
        self.results = list(results)
        self._tally = Tally(results)
        self.cursor = Cursor.blank(len(results))
        for result in results:
            self.cursor.set_status(result.index, result.status)
            self.cursor.advance(result.index, result.output_bytes)
        self.paused = False
        self.cursor.summary = summary_token(self.summary())
        self.closed = False
        self._base = [r.output_bytes for r in results]  #: offset of each tail's first byte
        #: each target's published pieces (stream, bytes) from _base on: kept as published, never copied
        self._tails: list[deque[tuple[int, bytes]]] = [deque() for _ in results]
        self._held: list[tuple[int, bytes] | None] = [None] * len(results)  #: a character cut by the engine
        self._subs: set[Subscription] = set()
        self.drops = 0  #: subscribers dropped to the store because their queue was full
        self._max_events = max_events
        self._max_bytes = max_bytes

    def summary(self) -> Summary:
        """The execution's summary as of the last published status."""
        return self._tally.summary(paused=self.paused)

    # -- publishing (called by the run) ---------------------------------------------------------------

    def output(self, index: int, stream: int, data: bytes) -> None:
        """Publish output a target's sink took (redacted); a character cut at the end waits for its rest."""
        held = self._held[index]
        if held is not None and held[0] != stream:
            self._emit(index, held[0], held[1])
            held = None
        piece = held[1] + data if held is not None else data
        cut = complete_utf8(piece)
        self._held[index] = (stream, piece[cut:]) if cut < len(piece) else None
        if cut:
            self._emit(index, stream, piece[:cut])

    def saved(self, index: int, total_bytes: int) -> None:
        """The store holds the first `total_bytes` of a target's output: its tail can forget them."""
        stored = min(total_bytes, self.cursor.offsets[index])
        tail = self._tails[index]
        while tail and self._base[index] + len(tail[0][1]) <= stored:  # a piece stored in part stays whole
            self._base[index] += len(tail.popleft()[1])

    def status(self, result: ContainerResult) -> None:
        """Publish a target's status change (and the summary's, when it changes)."""
        held = self._held[result.index]
        if result.status.is_final and held is not None:
            self._held[result.index] = None
            self._emit(result.index, held[0], held[1])
        self.results[result.index] = result
        self._tally.update(result)
        if self._subs:
            self._publish(target_event(result, self.cursor))
        else:  # nobody listens: keep the position, build nothing
            self.cursor.set_status(result.index, result.status)
        self._publish_summary()

    def set_paused(self, paused: bool) -> None:
        """Publish a rolling execution's pause or resume."""
        self.paused = paused
        self._publish_summary()

    def finish(self) -> None:
        """The run ended: publish `end` when every target is final, then let the subscribers go."""
        if self.closed:
            return
        self.closed = True
        summary = self.summary()
        ended = summary.ended_at is not None
        if ended:
            self._publish(summary_event(summary, self.cursor, end=True))
        for sub in self._subs:
            sub.close(ended=ended and sub.live)
        self._subs.clear()

    def _emit(self, index: int, stream: int, raw: bytes) -> None:
        self._tails[index].append((stream, raw))
        if self._subs:
            self._publish(output_event(index, self.results[index].container_id, stream, raw, self.cursor))
        else:
            self.cursor.advance(index, len(raw))

    def _publish_summary(self) -> None:
        summary = self.summary()
        token = summary_token(summary)
        if token != self.cursor.summary:
            if self._subs:
                self._publish(summary_event(summary, self.cursor))
            else:
                self.cursor.summary = token

    def _publish(self, event: Event) -> None:
        dropped = [sub for sub in self._subs if not sub.offer(event)]
        for sub in dropped:
            self._subs.discard(sub)
        self.drops += len(dropped)

    # -- subscribing --------------------------------------------------------------------------------

    def join(self, cursor: Cursor, *, only: int | None = None) -> tuple[Subscription, Cursor] | None:
        """Subscribe a client at `cursor` when the rest it misses is still in the tails (None: read the store first).

        Returns the subscription (its queue starts with what the client misses) and the client's cursor after
        those events, equal to the broadcaster's. With `only`, just that target is caught up (a log follow).
        """
        if self.closed:
            return None
        mine = cursor.copy()
        events: list[Event] = []
        for index in range(len(self.results)) if only is None else (only,):
            offset, published = mine.offsets[index], self.cursor.offsets[index]
            if offset < self._base[index] or offset > published:
                return None
            if offset < published:
                events += self._tail_events(index, offset, mine)
            if mine.statuses[index] != self.cursor.statuses[index]:
                events.append(target_event(self.results[index], mine))
        if only is not None:
            mine = self.cursor.copy()  # the other targets do not matter to a follow: take the live position
        elif mine.summary != self.cursor.summary:
            events.append(summary_event(self.summary(), mine))
        sub = Subscription(events, max_events=self._max_events, max_bytes=self._max_bytes)
        self._subs.add(sub)
        return sub, mine

    def leave(self, sub: Subscription) -> None:
        """Forget a subscriber that went away."""
        self._subs.discard(sub)

    @property
    def subscribers(self) -> int:
        """How many subscribers receive live events."""
        return len(self._subs)

    def _tail_events(self, index: int, offset: int, cursor: Cursor) -> list[Event]:
        """The tail's bytes from `offset` on, one output event per run of one stream."""
        events: list[Event] = []
        container_id = self.results[index].container_id
        position = self._base[index]
        parts: list[bytes] = []
        parts_stream = 0
        for stream, raw in self._tails[index]:
            end = position + len(raw)
            if end > offset:
                if parts and stream != parts_stream:
                    events.append(output_event(index, container_id, parts_stream, b"".join(parts), cursor))
                    parts = []
                parts.append(raw if position >= offset else raw[offset - position :])
                parts_stream = stream
            position = end
        if parts:
            events.append(output_event(index, container_id, parts_stream, b"".join(parts), cursor))
        return events
