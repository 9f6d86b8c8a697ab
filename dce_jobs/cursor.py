"""The position of an event-stream client in one execution, and its compact text form (the SSE event id).

A cursor says what the client has been sent: per target the last status and how many bytes of its stored output
(all streams, in arrival order), the last summary, and whether `end` was sent. Everything it names can be read
back from the store, so a client resumes exactly (no loss, no duplicate) from any process, also after a restart.

Text form: `1~<summary>~<targets>[~E]`. A target is a status letter and its byte offset in base 36 (no digits for
0), `-` before its first status was sent; runs of equal targets collapse to `token*count`. The summary is the state
letter and the counts, comma-joined, empty before the first summary. 200 targets in one status without output:
`1~r,200,0,0,0,0~a*200`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from itertools import groupby

from .errors import InvalidInput
from .models import COUNT_KEYS, ExecutionState, Status, Summary

VERSION = "1"
_UNSEEN = "-"
_STATUS_LETTERS = dict(zip(Status, "abcdef", strict=True))
_LETTER_STATUS = {letter: status for status, letter in _STATUS_LETTERS.items()}
_STATE_LETTERS = {
    ExecutionState.RUNNING: "r",
    ExecutionState.PAUSED: "p",
    ExecutionState.SUCCEEDED: "s",
    ExecutionState.FAILED: "f",
    ExecutionState.STOPPED: "x",
}
_MAX_ID_CHARS = 64 * 1024


def summary_token(summary: Summary) -> str:
    """A summary as the cursor records it: state letter and counts."""
    return ",".join([_STATE_LETTERS[summary.state], *(str(summary.counts[k]) for k in COUNT_KEYS)])


def target_token(status: Status | None, offset: int) -> str:
    """One target's part of the cursor."""
    letter = _UNSEEN if status is None else _STATUS_LETTERS[status]
    return letter + _base36(offset) if offset else letter


@dataclass
class Cursor:
    """What a client has been sent of one execution."""

    statuses: list[Status | None]
    offsets: list[int]
    summary: str = ""
    ended: bool = False
    tokens: list[str] = field(default_factory=list)

    @classmethod
    def blank(cls, targets: int) -> Cursor:
        """Nothing sent yet."""
        return cls([None] * targets, [0] * targets, tokens=[_UNSEEN] * targets)

    def copy(self) -> Cursor:
        """An independent copy."""
        return Cursor(list(self.statuses), list(self.offsets), self.summary, self.ended, list(self.tokens))

    def set_status(self, index: int, status: Status) -> None:
        """Record that a target's status was sent."""
        self.statuses[index] = status
        self.tokens[index] = target_token(status, self.offsets[index])

    def advance(self, index: int, nbytes: int) -> None:
        """Record that `nbytes` more of a target's output were sent."""
        self.offsets[index] += nbytes
        self.tokens[index] = target_token(self.statuses[index], self.offsets[index])

    def encode(self) -> str:
        """The compact text form (the event id)."""
        counted = ((t, sum(1 for _ in g)) for t, g in groupby(self.tokens))
        runs = ".".join(t if n == 1 else f"{t}*{n}" for t, n in counted)
        text = f"{VERSION}~{self.summary}~{runs}"
        return text + "~E" if self.ended else text

    @classmethod
    def decode(cls, text: str, targets: int) -> Cursor:
        """Parse an id this server sent for an execution of `targets` targets (InvalidInput otherwise)."""
        try:
            return cls._decode(text, targets)
        except (ValueError, KeyError, IndexError) as e:
            raise InvalidInput(
                f"Last-Event-ID: not an event id of this execution ({text[:40]!r})", error_id="invalid_last_event_id"
            ) from e

    @classmethod
    def _decode(cls, text: str, targets: int) -> Cursor:
        if len(text) > _MAX_ID_CHARS:
            raise ValueError("too long")
        parts = text.split("~")
        if parts[0] != VERSION or len(parts) not in (3, 4) or (len(parts) == 4 and parts[3] != "E"):
            raise ValueError("unknown form")
        summary = parts[1]
        if summary:
            letters = summary.split(",")
            if letters[0] not in _STATE_LETTERS.values() or len(letters) != len(COUNT_KEYS) + 1:
                raise ValueError("bad summary")
            for count in letters[1:]:
                if not count.isdigit():
                    raise ValueError("bad count")
        tokens: list[str] = []
        for run in parts[2].split("."):
            token, star, count = run.partition("*")
            if star and not count.isdigit():
                raise ValueError("bad count")
            n = int(count) if star else 1
            if n < 1 or len(tokens) + n > targets:
                raise ValueError("bad count")
            tokens.extend([token] * n)
        if len(tokens) != targets:
            raise ValueError("target count")
        cursor = cls.blank(targets)
        cursor.summary, cursor.ended = summary, len(parts) == 4
        for index, token in enumerate(tokens):
            letter, digits = token[:1], token[1:]
            cursor.statuses[index] = None if letter == _UNSEEN else _LETTER_STATUS[letter]
            cursor.offsets[index] = int(digits, 36) if digits else 0
            if digits and (cursor.offsets[index] <= 0 or not digits.isalnum() or digits != digits.lower()):
                raise ValueError("bad offset")
            cursor.tokens[index] = target_token(cursor.statuses[index], cursor.offsets[index])
        return cursor


_DIGITS = "0123456789abcdefghijklmnopqrstuvwxyz"


def _base36(n: int) -> str:
    out = ""
    while n:
        n, r = divmod(n, 36)
        out = _DIGITS[r] + out
    return out or "0"
