"""Reading a Server-Sent Events response in tests: events as dicts, keep-alive comments counted."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

from aiohttp import ClientResponse


@dataclass
class Sse:
    """One event as a client sees it."""

    event: str
    id: str
    data: dict[str, Any]


async def events(response: ClientResponse, *, comments: list[str] | None = None) -> AsyncIterator[Sse]:
    """Yield the events of a response until it ends; comment lines go to `comments`."""
    fields: dict[str, str] = {}
    async for raw in response.content:
        line = raw.decode().rstrip("\r\n")
        if not line:
            if fields:
                yield Sse(fields.get("event", "message"), fields.get("id", ""), json.loads(fields.get("data", "null")))
            fields = {}
        elif line.startswith(":"):
            if comments is not None:
                comments.append(line[1:].strip())
        else:
            name, _, value = line.partition(":")
            fields[name] = value[1:] if value.startswith(" ") else value


async def read_until(response: ClientResponse, stop: Callable[[Sse], bool] | None = None) -> list[Sse]:
    """Read events until `stop` holds for one (kept) or the stream ends."""
    got: list[Sse] = []
    async for event in events(response):
        got.append(event)
        if stop is not None and stop(event):
            break
    return got


def texts(got: list[Sse], *, stream: str | None = None) -> dict[int, str]:
    """The output text per target index, in order, checking that the offsets follow each other."""
    out: dict[int, str] = {}
    ends: dict[int, int] = {}
    for e in got:
        if e.event != "output":
            continue
        index = e.data["Index"]
        assert e.data["Offset"] == ends.get(index, e.data["Offset"]), f"a gap or an overlap at {e.data}"
        ends[index] = e.data["Offset"] + len(e.data["Text"].encode())
        if stream is None or e.data["Stream"] == stream:
            out[index] = out.get(index, "") + e.data["Text"]
    return out
