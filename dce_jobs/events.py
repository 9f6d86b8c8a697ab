"""The events of an execution's event stream, each built once as its Server-Sent Events frame.

The wire format (frozen, other clients build on it): `target`, `output`, `summary` and `end` events whose `data`
is one JSON object, and whose `id` is the client's cursor after the event (see cursor.py).
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from .cursor import Cursor, summary_token
from .models import STDERR, ContainerResult, Summary

TARGET, OUTPUT, SUMMARY, END = "target", "output", "summary", "end"
_STREAM_NAMES = {STDERR: "stderr"}


@dataclass(frozen=True, slots=True)
class Event:
    """One event: its SSE frame, plus what a log follow needs (the raw output bytes of a target)."""

    kind: str
    id: str
    frame: bytes
    index: int = -1
    stream: int = 0
    raw: bytes = b""
    final: bool = False  #: a target event with a final status


def _frame(kind: str, event_id: str, data: dict[str, object]) -> bytes:
    text = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
    return f"id: {event_id}\nevent: {kind}\ndata: {text}\n\n".encode()


def target_event(result: ContainerResult, cursor: Cursor) -> Event:
    """A target's current state; records it in `cursor`."""
    cursor.set_status(result.index, result.status)
    event_id = cursor.encode()
    data: dict[str, object] = {
        "Index": result.index,
        "ContainerId": result.container_id,
        "NodeId": result.node_id,
        "Status": result.status.value,
        "ExitCode": result.exit_code,
        "EndReason": None if result.end_reason is None else result.end_reason.value,
        "StartTime": result.started_at,
        "EndTime": result.finished_at,
    }
    final = result.status.is_final
    return Event(TARGET, event_id, _frame(TARGET, event_id, data), index=result.index, final=final)


def output_event(index: int, container_id: str, stream: int, raw: bytes, cursor: Cursor) -> Event:
    """A piece of a target's stored (redacted) output at the cursor's offset; advances `cursor` past it."""
    offset = cursor.offsets[index]
    cursor.advance(index, len(raw))
    event_id = cursor.encode()
    data: dict[str, object] = {
        "Index": index,
        "ContainerId": container_id,
        "Stream": _STREAM_NAMES.get(stream, "stdout"),
        "Offset": offset,
        "Text": raw.decode("utf-8", errors="replace"),
    }
    return Event(OUTPUT, event_id, _frame(OUTPUT, event_id, data), index=index, stream=stream, raw=raw)


def summary_event(summary: Summary, cursor: Cursor, *, end: bool = False) -> Event:
    """A `summary` (or the final `end`) event; records it in `cursor`."""
    cursor.summary = summary_token(summary)
    cursor.ended = cursor.ended or end
    event_id = cursor.encode()
    kind = END if end else SUMMARY
    data: dict[str, object] = {"State": summary.state.value, "Counts": dict(summary.counts)}
    return Event(kind, event_id, _frame(kind, event_id, data))


def complete_utf8(data: bytes | bytearray) -> int:
    """The length of the longest prefix of `data` that does not end inside a UTF-8 character."""
    size = len(data)
    for back in range(1, min(3, size) + 1):
        byte = data[size - back]
        if byte < 0x80:
            return size
        if byte >= 0xC0:
            need = 2 if byte < 0xE0 else 3 if byte < 0xF0 else 4
            return size - back if need > back else size
    return size
