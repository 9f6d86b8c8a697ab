"""The reader of Docker's multiplexed exec stream, on a local socket pair."""

from __future__ import annotations

import socket
import struct
import threading

import pytest

from dce_jobs.config import Config
from dce_jobs.errors import EngineError, NodeUnreachable
from dce_jobs.execs import OutputStream
from dce_jobs.nodes import NodePool


def frame(stream: int, data: bytes) -> bytes:
    return struct.pack(">BxxxL", stream, len(data)) + data


async def read_all(stream: OutputStream) -> bytes:
    return b"".join([chunk async for chunk in stream.chunks()])


@pytest.fixture
def nodes() -> NodePool:
    pool = NodePool(Config())
    yield pool
    pool.close()


async def test_frames_split_anywhere_and_early_bytes_are_kept(nodes: NodePool) -> None:
    ours, theirs = socket.socketpair()
    data = frame(1, b"out-1\n") + frame(2, b"err-1\n") + frame(1, b"out-2\n")
    early, rest = data[:11], data[11:]

    def send() -> None:
        for i in range(0, len(rest), 3):
            theirs.sendall(rest[i : i + 3])
        theirs.close()

    threading.Thread(target=send).start()
    assert await read_all(OutputStream(nodes, ours, "test", early=early)) == b"out-1\nerr-1\nout-2\n"


async def test_early_bytes_alone_when_the_stream_already_ended(nodes: NodePool) -> None:
    ours, theirs = socket.socketpair()
    theirs.close()
    assert await read_all(OutputStream(nodes, ours, "test", early=frame(1, b"hi\n"))) == b"hi\n"


async def test_a_cut_frame_is_a_broken_stream(nodes: NodePool) -> None:
    ours, theirs = socket.socketpair()
    theirs.sendall(frame(1, b"complete\n") + frame(1, b"cut-short")[:-3])
    theirs.close()
    with pytest.raises(NodeUnreachable, match="middle of a frame"):
        await read_all(OutputStream(nodes, ours, "test"))


async def test_abort_stops_a_silent_stream(nodes: NodePool) -> None:
    ours, theirs = socket.socketpair()
    stream = OutputStream(nodes, ours, "test")
    threading.Timer(0.2, stream.abort, args=("node lost",)).start()
    with pytest.raises(EngineError, match="node lost"):
        await read_all(stream)
    theirs.close()
