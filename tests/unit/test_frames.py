"""The reader of Docker's multiplexed exec stream, on a local socket pair."""

from __future__ import annotations

import asyncio
import socket
import struct
import threading

import pytest

from dce_jobs.errors import EngineError, NodeUnreachable
from dce_jobs.stream import _BUFFER_BYTES, _FIRST_BUFFER_BYTES, OutputStream, _FrameBuffer


def frame(stream: int, data: bytes) -> bytes:
    return struct.pack(">BxxxL", stream, len(data)) + data


async def read_all(stream: OutputStream) -> bytes:
    return b"".join([chunk async for _, chunk in stream.frames()])


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


async def test_each_payload_comes_with_its_stream() -> None:
    ours, theirs = socket.socketpair()
    theirs.sendall(frame(1, b"out\n") + frame(2, b"err\n"))
    theirs.close()
    assert [f async for f in OutputStream(ours, "test").frames()] == [(1, b"out\n"), (2, b"err\n")]


async def test_consecutive_frames_of_one_stream_come_as_one_payload() -> None:
    ours, theirs = socket.socketpair()
    theirs.sendall(frame(1, b"a\n") + frame(1, b"b\n") + frame(2, b"err\n") + frame(1, b"c\n"))
    theirs.close()
    assert [f async for f in OutputStream(ours, "test").frames()] == [(1, b"a\nb\n"), (2, b"err\n"), (1, b"c\n")]


async def test_a_frame_larger_than_the_read_buffer_and_a_slow_reader() -> None:
    ours, theirs = socket.socketpair()
    sizes = [1, 3 * 1024 * 1024, 7, 65536, 65537, 40000, 0, 12] * 4
    payloads = [bytes([65 + i % 26]) * size for i, size in enumerate(sizes)]
    data = b"".join(frame(1 + i % 2, p) for i, p in enumerate(payloads))

    def send() -> None:
        for i in range(0, len(data), 100_000):
            theirs.sendall(data[i : i + 100_000])
        theirs.close()

    threading.Thread(target=send).start()
    got: dict[int, list[bytes]] = {1: [], 2: []}
    async for stream, payload in OutputStream(ours, "test").frames():
        got[stream].append(payload)
        await asyncio.sleep(0)  # the socket is read meanwhile: its buffer fills and reading pauses
    assert b"".join(got[1]) == b"".join(p for i, p in enumerate(payloads) if i % 2 == 0)
    assert b"".join(got[2]) == b"".join(p for i, p in enumerate(payloads) if i % 2 == 1)


def test_bytes_fed_from_a_thread_in_any_pieces_make_the_same_frames() -> None:
    from dce_jobs.stream import _FrameBuffer  # what the TLS reader feeds (its socket cannot go to asyncio)

    payloads = [b"x" * 5, b"y" * 700_000, b"z" * 3]
    data = frame(1, payloads[0]) + frame(2, payloads[1]) + frame(1, payloads[2])
    buffer = _FrameBuffer(data[:6])
    taken = buffer.take()
    for start in range(6, len(data), 65_000):
        buffer.feed(data[start : start + 65_000])
        taken += buffer.take()
    assert taken == [(1, payloads[0]), (2, payloads[1]), (1, payloads[2])] and buffer.pending == 0


def test_a_quiet_stream_keeps_a_small_buffer_and_a_busy_one_gets_the_large_one() -> None:
    frames = _FrameBuffer(b"")
    room = frames.room()
    quiet = frame(1, b"hi\n")
    room[: len(quiet)] = quiet
    frames.added(len(quiet))
    assert frames.take() == [(1, b"hi\n")]
    assert len(frames._data) == _FIRST_BUFFER_BYTES

    room = frames.room()
    busy = frame(2, b"x" * (len(room) - 8))
    room[:] = busy  # a read that fills all the room it was given
    frames.added(len(room))
    more = frame(2, b"y" * 10)
    frames.feed(more)

    assert len(frames._data) == _BUFFER_BYTES
    assert frames.take() == [(2, b"x" * (len(busy) - 8) + b"y" * 10)]
