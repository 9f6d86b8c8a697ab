"""Output chunks of the SQLite store that are kept outside the database: one append-only file per target.

A large chunk stored as a BLOB costs SQLite a copy into its pages, a checksummed write into the WAL and a
second write at the checkpoint (about 2 ms of CPU per MiB); appended to a file it is one write. The database
row keeps the chunk's seq, size, stream runs and offset in the file, so every reader still plans from the
rows. The bytes are written before the transaction that adds their rows commits: a row never points past
what the file holds (a crash in between leaves unreferenced bytes at the end of the file, never used).
Files live beside the database (two processes sharing the file share its host), and go with their execution.
"""

from __future__ import annotations

import os
import re
import shutil
from collections import OrderedDict
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

#: job and executor ids used as names as they are; any other id is spelled in hex after a "=" (never a clash)
_PLAIN_NAME = re.compile(r"[A-Za-z0-9_-][A-Za-z0-9._-]{0,99}")

Key = tuple[str, str, int]  #: (job_id, executor_id, index) of a target
#: files kept open for appending (the targets that write now), the least recently written closed first
_OPEN_FILES = 64


def _name(text: str) -> str:
    return text if _PLAIN_NAME.fullmatch(text) else "=" + text.encode().hex()


class OutputFiles:
    """The output files under one folder: appended to by the store thread, read by offset and size."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._made: set[Path] = set()  #: folders known to exist
        self._open: OrderedDict[Key, int] = OrderedDict()  #: descriptors of files being appended to

    def path(self, key: Key) -> Path:
        """The file of one target's output."""
        job_id, executor_id, index = key
        return self.root / _name(job_id) / _name(executor_id) / f"{index}.out"

    def append(self, writes: Sequence[tuple[Key, bytes]]) -> list[int]:
        """Append each chunk to its target's file, in order; the offset where each one starts."""
        offsets: list[int] = []
        position: dict[Key, int] = {}
        for key, data in writes:
            fd = self._fd(key)
            if key not in position:
                position[key] = os.lseek(fd, 0, os.SEEK_END)
            offsets.append(position[key])
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
            position[key] += len(data)
        return offsets

    def done(self, key: Key) -> None:
        """Close the file of a target that has ended (it is opened again should it be written to)."""
        fd = self._open.pop(key, None)
        if fd is not None:
            os.close(fd)

    def close(self) -> None:
        """Close every open file."""
        while self._open:
            os.close(self._open.popitem()[1])

    def _fd(self, key: Key) -> int:
        fd = self._open.get(key)
        if fd is not None:
            self._open.move_to_end(key)
            return fd
        fd = self._open[key] = self._open_for_append(key)
        while len(self._open) > _OPEN_FILES:
            os.close(self._open.popitem(last=False)[1])
        return fd

    def _open_for_append(self, key: Key) -> int:
        path = self.path(key)
        if path.parent in self._made:
            try:
                return os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
            except FileNotFoundError:  # another process sharing the store removed the execution's folder
                pass
        for folder in (self.root, path.parent.parent, path.parent):  # each 0700 (parents=True would not be)
            folder.mkdir(mode=0o700, exist_ok=True)
        self._made.add(path.parent)
        return os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)

    @contextmanager
    def reader(self, key: Key) -> Iterator[_Reader]:
        """Read one target's file by offset and size while the block runs."""
        try:
            fd = os.open(self.path(key), os.O_RDONLY)
        except FileNotFoundError:
            fd = -1  # its bytes were lost with the file (removed by hand): read as zero bytes
        try:
            yield _Reader(fd)
        finally:
            if fd >= 0:
                os.close(fd)

    def remove_execution(self, job_id: str, executor_id: str) -> None:
        """Remove the files of one execution."""
        for key in [k for k in self._open if k[:2] == (job_id, executor_id)]:
            self.done(key)
        self._remove(self.root / _name(job_id) / _name(executor_id))

    def remove_job(self, job_id: str) -> None:
        """Remove the files of every execution of a job."""
        for key in [k for k in self._open if k[0] == job_id]:
            self.done(key)
        self._remove(self.root / _name(job_id))

    def _remove(self, folder: Path) -> None:
        shutil.rmtree(folder, ignore_errors=True)
        self._made = {made for made in self._made if not made.is_relative_to(folder)}


class _Reader:
    def __init__(self, fd: int) -> None:
        self._fd = fd

    def read(self, offset: int, size: int) -> bytes:
        """`size` bytes from `offset` (fewer when the file is shorter)."""
        if self._fd < 0 or size <= 0:
            return b""
        data = os.pread(self._fd, size, offset)
        while len(data) < size:
            more = os.pread(self._fd, size - len(data), offset + len(data))
            if not more:
                break
            data += more
        return data
