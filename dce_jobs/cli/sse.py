"""Server-Sent Events read from a byte stream (the client side; aiohttp-sse only serves them)."""

from __future__ import annotations

from collections.abc import AsyncIterable, AsyncIterator
from dataclasses import dataclass


@dataclass(frozen=True)
class Event:
    """One dispatched event: its name, data (lines joined by newlines) and id (None when the event set none)."""

    event: str
    data: str
    id: str | None


class EventParser:
    """Feed bytes, get whole events (the WHATWG rules: `event`, `data`, `id`; comments and `retry` ignored)."""

    def __init__(self) -> None:
        """Start with no pending bytes and no pending event."""
        self._buffer = b""
        self._reset()

    def _reset(self) -> None:
        self._event = ""
        self._data: list[str] = []
        self._id: str | None = None

    def feed(self, chunk: bytes) -> list[Event]:
        """The events completed by this chunk (a line may be split over chunks; CRLF and LF both end a line)."""
        self._buffer += chunk
        *lines, self._buffer = self._buffer.split(b"\n")
        events: list[Event] = []
        for raw in lines:
            event = self._line(raw.removesuffix(b"\r").decode("utf-8", errors="replace"))
            if event is not None:
                events.append(event)
        return events

    def _line(self, line: str) -> Event | None:
        if not line:
            return self._dispatch()
        if line.startswith(":"):  # a keep-alive comment
            return None
        name, _, value = line.partition(":")
        value = value.removeprefix(" ")
        if name == "event":
            self._event = value
        elif name == "data":
            self._data.append(value)
        elif name == "id" and "\0" not in value:
            self._id = value
        return None

    def _dispatch(self) -> Event | None:
        if not self._data and not self._event:
            self._reset()
            return None
        event = Event(self._event or "message", "\n".join(self._data), self._id)
        self._reset()
        return event


async def read_events(chunks: AsyncIterable[bytes]) -> AsyncIterator[Event]:
    """Events of a byte stream, in order; an event cut off by the end of the stream is dropped."""
    parser = EventParser()
    async for chunk in chunks:
        for event in parser.feed(chunk):
            yield event
