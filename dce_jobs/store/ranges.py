"""Byte ranges of a target's stored output: which chunks hold them, found from the chunks' sizes alone."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from ..errors import RangeNotSatisfiable
from ..models import STDOUT, pick_stream

#: the most one range answer carries; a longer range is answered with its first MAX_RANGE_BYTES
MAX_RANGE_BYTES = 4 * 1024 * 1024


@dataclass(frozen=True)
class ByteRange:
    """`first-last` (last None: to the end) or the last `suffix` bytes, as in an HTTP Range."""

    first: int | None = None
    last: int | None = None
    suffix: int | None = None

    def resolve(self, total: int) -> tuple[int, int]:
        """[start, stop) within `total` bytes, at most MAX_RANGE_BYTES; RangeNotSatisfiable when none of it exists."""
        if self.suffix is not None:
            if self.suffix == 0 or total == 0:
                raise RangeNotSatisfiable(f"no last {self.suffix} bytes in {total}", total=total)
            start, stop = max(0, total - self.suffix), total
        else:
            start = self.first or 0
            if start >= total:
                raise RangeNotSatisfiable(f"bytes from {start} past the end ({total})", total=total)
            stop = total if self.last is None else min(total, self.last + 1)
        return start, min(stop, start + MAX_RANGE_BYTES)


@dataclass(frozen=True)
class ChunkSize:
    """One stored chunk: its number, size and runs of (stream, length)."""

    seq: int
    size: int
    runs: Sequence[tuple[int, int]]

    def size_of(self, stream: int | None) -> int:
        """Its bytes in `stream` (all of them for None)."""
        if stream is None:
            return self.size
        if not self.runs:
            return self.size if stream == STDOUT else 0
        return sum(length for kind, length in self.runs if kind == stream)


def plan(chunks: Sequence[ChunkSize], wanted: ByteRange, stream: int | None) -> tuple[list[int], int, int, int]:
    """(seqs to read, offset of the first of them, start, stop) of `wanted` in the selected stream, and total."""
    total = sum(c.size_of(stream) for c in chunks)
    start, stop = wanted.resolve(total)
    seqs, offset, first_offset = [], 0, -1
    for chunk in chunks:
        size = chunk.size_of(stream)
        if size and offset < stop and offset + size > start:
            seqs.append(chunk.seq)
            first_offset = offset if first_offset < 0 else first_offset
        offset += size
    return seqs, max(first_offset, 0), start, stop


def cut(
    chunks: Sequence[tuple[bytes, Sequence[tuple[int, int]]]],
    first_offset: int,
    start: int,
    stop: int,
    stream: int | None,
) -> bytes:
    """The bytes [start, stop) out of the planned chunks (data and runs) that begin at `first_offset`."""
    data = b"".join(d if stream is None else pick_stream(d, runs, stream) for d, runs in chunks)
    return data[start - first_offset : stop - first_offset]


@dataclass(frozen=True)
class OutputRange:
    """A range read from a target's output: its bytes, where they start and the stream's whole size."""

    data: bytes
    start: int
    total: int


def tail_starts(sizes: dict[int, list[tuple[int, int]]], max_bytes: int) -> dict[int, int]:
    """For each target's chunks as (seq, size) in order: the seq of the first chunk its last `max_bytes` reach."""
    starts = {}
    for index, chunks in sizes.items():
        first, reached = len(chunks), 0
        while first > 0 and reached < max(max_bytes, 1):
            first -= 1
            reached += chunks[first][1]
        if first < len(chunks):
            starts[index] = chunks[first][0]
    return starts


def tail_of(chunks: list[tuple[int, bytes]], total: int, max_bytes: int) -> tuple[bytes, bool]:
    """The last `max_bytes` of a target's newest chunks as (seq, data) in any order, and whether bytes were left out
    (`total`: the size of all its chunks)."""
    joined = b"".join(data for _, data in sorted(chunks))
    return (joined[-max_bytes:] if max_bytes else b""), total > max_bytes
