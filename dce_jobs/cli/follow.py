"""Following an execution's events: prefixed lines, whole lines across chunks, --group, --json, the summary."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from .console import DIM, PALETTE, RED, Console
from .http import ApiError
from .render import group_blocks, summary_table
from .sse import Event
from .targets import Names, Target

Emit = Callable[[], None]


class Follower:
    """Turns the events of one execution into output; `exit_code()` once its `end` came (or the stream was lost)."""

    def __init__(
        self, console: Console, names: Names, *, group: bool = False, as_json: bool = False, stream: str = ""
    ) -> None:
        """Print to `console`; `group` holds output until the end (dshbak), `as_json` prints events as they are;
        `stream` keeps only stdout or stderr lines."""
        self.console = console
        self.names = names
        self.group = group
        self.as_json = as_json
        self.stream = stream
        self.targets: dict[int, Target] = {}
        self.state = ""
        self.ended = False
        self._partial: dict[tuple[int, str], str] = {}
        self._seen_to: dict[tuple[int, str], int] = {}
        self._lines: dict[int, list[tuple[str, str]]] = {}
        self._held: list[Emit] | None = None

    def hold(self) -> None:
        """Keep output back (while a question is on the terminal)."""
        if self._held is None:
            self._held = []

    def release(self) -> None:
        """Print what was kept back, and go on printing live."""
        held, self._held = self._held or [], None
        for emit in held:
            emit()

    def _emit(self, emit: Emit) -> None:
        if self._held is not None:
            self._held.append(emit)
        else:
            emit()

    def handle(self, event: Event) -> None:
        """Take one event of the stream."""
        try:
            data: dict[str, Any] = json.loads(event.data) if event.data else {}
        except ValueError as e:
            raise ApiError(f"the event stream sent a {event.event} event that is not JSON: {event.data[:80]!r}") from e
        if event.event == "target":
            target = self._target(data)
            target.update(data, self.names)
            if target.final:
                self.flush(target.index)
        elif event.event == "output":
            self._output(data)
        elif event.event in {"summary", "end"}:
            self.state = str(data.get("State") or self.state)
            self.ended = self.ended or event.event == "end"
        if self.as_json:
            line = json.dumps({"event": event.event, "id": event.id, "data": data}, ensure_ascii=False)
            self._emit(lambda: self.console.print(line))
        if event.event == "end":
            self.flush()
        self._emit(self.console.flush)

    def _target(self, data: dict[str, Any]) -> Target:
        index = int(data.get("Index", 0))
        return self.targets.setdefault(index, Target(index))

    def _output(self, data: dict[str, Any]) -> None:
        target = self._target(data)
        if not target.container_id:
            target.update(data, self.names)
        stream, text = str(data.get("Stream") or "stdout"), str(data.get("Text") or "")
        key = (target.index, stream)
        if self._replayed(key, data.get("Offset"), text):
            return
        if self.as_json or (self.stream and stream != self.stream):
            return
        *lines, self._partial[key] = (self._partial.get(key, "") + text).split("\n")
        for line in lines:
            self._line(target, stream, line)

    def _replayed(self, key: tuple[int, str], offset: Any, text: str) -> bool:
        """An event wholly before what this stream already gave (a resent one): the server promises none, but a
        duplicated line in a log is worse than a dropped resend."""
        if not isinstance(offset, int):
            return False
        end = offset + len(text.encode())
        if end <= self._seen_to.get(key, -1) and text:
            return True
        self._seen_to[key] = max(end, self._seen_to.get(key, -1))
        return False

    def _line(self, target: Target, stream: str, line: str) -> None:
        if self.group:
            self._lines.setdefault(target.index, []).append((stream, line))
            return
        prefix = self.console.paint(f"[{target.label}]", PALETTE[target.index % len(PALETTE)])
        text = self.console.paint(line, RED) if stream == "stderr" else line
        # one flush per event, not per line: an event may carry thousands of lines
        self._emit(lambda: self.console.print(f"{prefix} {text}", err=stream == "stderr", flush=False))

    def flush(self, index: int | None = None) -> None:
        """Print the last line of every stream (of one target, or all) that did not end with a newline."""
        for (at, stream), rest in sorted(self._partial.items()):
            if index in {None, at}:
                del self._partial[(at, stream)]
                if rest:
                    self._line(self.targets[at], stream, rest)
        self._emit(self.console.flush)

    def finish(self) -> int:
        """Print the grouped output and the summary (not with --json); 0 when every target finished with 0."""
        self.flush()
        if not self.as_json:
            targets = [self.targets[i] for i in sorted(self.targets)]
            if self.group:
                for line in group_blocks(self.console, targets, self._lines):
                    self.console.print(line)
            for line in summary_table(self.console, targets, self.state):
                self.console.print(line, err=True)
        return self.exit_code()

    def exit_code(self) -> int:
        """0 when every target finished with exit code 0, else 1."""
        return 0 if self.targets and all(t.succeeded for t in self.targets.values()) else 1


def note(console: Console, text: str) -> None:
    """A line about the client's own doings, on stderr (dim on a terminal)."""
    console.print(console.paint(text, DIM), err=True)
