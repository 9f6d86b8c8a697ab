"""The reader of Docker's multiplexed exec stream, on a local socket pair."""

from __future__ import annotations

import asyncio
import socket
import struct
import threading

import pytest

from dce_jobs.errors import EngineError, NodeUnreachable
from dce_jobs.stream import OutputStream


def frame(stream: int, data: bytes) -> bytes:
    return struct.pack(">BxxxL", stream, len(data)) + data


async def read_all(stream: OutputStream) -> bytes:
    return b"".join([chunk async for chunk in stream.chunks()])


async def test_frames_split_anywhere_and_early_bytes_are_kept() -> None:
    ours, theirs = socket.socketpair()
    data = frame(1, b"out-1\n") + frame(2, b"err-1\n") + frame(1, b"out-2\n")
    early, rest = data[:11], data[11:]

    def send() -> None:
        for i in range(0, len(rest), 3):
            theirs.sendall(rest[i : i + 3])
        theirs.close()

    threading.Thread(target=send).start()
    assert await read_all(OutputStream(ours, "test", early=early)) == b"out-1\nerr-1\nout-2\n"


async def test_early_bytes_alone_when_the_stream_already_ended() -> None:
    ours, theirs = socket.socketpair()
    theirs.close()
    assert await read_all(OutputStream(ours, "test", early=frame(1, b"hi\n"))) == b"hi\n"


async def test_a_cut_frame_is_a_broken_stream() -> None:
    ours, theirs = socket.socketpair()
    theirs.sendall(frame(1, b"complete\n") + frame(1, b"cut-short")[:-3])
    theirs.close()
    with pytest.raises(NodeUnreachable, match="middle of a frame"):
        await read_all(OutputStream(ours, "test"))


async def test_abort_stops_a_silent_stream() -> None:
    ours, theirs = socket.socketpair()
    stream = OutputStream(ours, "test")
    asyncio.get_running_loop().call_later(0.2, stream.abort, "node lost")
    with pytest.raises(EngineError, match="node lost"):
        await read_all(stream)
    theirs.close()
