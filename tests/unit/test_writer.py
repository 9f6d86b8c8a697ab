"""The store writer: batches of many targets' writes, bounded queued output, order kept, errors reported."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from pathlib import Path

import pytest

from dce_jobs.errors import StoreUnavailable
from dce_jobs.models import STDERR, STDOUT, ContainerResult, OutputChunk, Status, transition
from dce_jobs.output import OutputSink
from dce_jobs.store.sqlite import SqliteStore
from dce_jobs.writer import StoreWriter


def target(index: int) -> ContainerResult:
    return ContainerResult(job_id="j", executor_id="1.0", index=index, container_id=f"c{index}", node_id="n")


class GatedStore:
    """Records every write_batch; each one waits until the test opens the gate (a slow or stuck store)."""

    def __init__(self, *, fail: bool = False) -> None:
        self.batches: list[tuple[list[OutputChunk], list[ContainerResult]]] = []
        self.gate = asyncio.Event()
        self.entered = asyncio.Event()
        self.fail = fail

    async def write_batch(self, chunks: Sequence[OutputChunk], results: Sequence[ContainerResult]) -> None:
        self.entered.set()
        await self.gate.wait()
        if self.fail:
            raise StoreUnavailable("the store is down")
        self.batches.append((list(chunks), list(results)))


def sink_of(writer: StoreWriter, result: ContainerResult, *, chunk_bytes: int = 4) -> OutputSink:
    return OutputSink(writer, result, (), limit_bytes=1 << 30, chunk_bytes=chunk_bytes, flush_s=3600)


async def test_writes_of_many_targets_queued_while_the_store_is_busy_go_in_one_batch() -> None:
    store = GatedStore()
    writer = StoreWriter(store, max_pending_bytes=1 << 20)  # type: ignore[arg-type]
    first = asyncio.ensure_future(writer.save_result(target(99)))
    await store.entered.wait()  # the store is busy with the first write
    sinks = [sink_of(writer, target(i)) for i in range(8)]
    for sink in sinks:
        await sink.write(STDOUT, b"0123456789")
    saves = [asyncio.ensure_future(writer.save_result(transition(target(i), Status.CREATED))) for i in range(8)]
    await asyncio.sleep(0)
    store.gate.set()
    await asyncio.gather(first, *saves, *(s.close() for s in sinks))

    assert len(store.batches) == 2
    chunks, results = store.batches[1]
    assert sorted(c.index for c in chunks) == list(range(8))
    assert [r.index for r in results] == list(range(8))


async def test_a_slow_store_stalls_the_reader_and_never_grows_the_queue_past_its_bound() -> None:
    store = GatedStore()
    writer = StoreWriter(store, max_pending_bytes=64)  # type: ignore[arg-type]
    sink = sink_of(writer, target(0), chunk_bytes=16)
    most_queued = 0

    async def reader() -> None:
        nonlocal most_queued
        for _ in range(100):
            await sink.write(STDOUT, b"x" * 16)
            most_queued = max(most_queued, writer.pending_bytes)

    reading = asyncio.ensure_future(reader())
    await store.entered.wait()
    for _ in range(20):
        await asyncio.sleep(0)
    assert not reading.done()  # stalled on the full queue, 1600 bytes not taken
    assert writer.pending_bytes <= writer.max_pending_bytes
    store.gate.set()
    await reading
    await sink.close()
    assert most_queued <= writer.max_pending_bytes
    assert b"".join(c.data for chunks, _ in store.batches for c in chunks) == b"x" * 1600


async def test_each_targets_output_and_streams_keep_their_order(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "s.db")
    await store.open()
    writer = StoreWriter(store, max_pending_bytes=256)
    targets = [target(i) for i in range(5)]
    sinks = [sink_of(writer, t, chunk_bytes=7) for t in targets]
    expected: dict[int, dict[int, bytes]] = {t.index: {STDOUT: b"", STDERR: b""} for t in targets}

    async def produce(sink: OutputSink, result: ContainerResult) -> None:
        for n in range(60):
            stream = STDERR if n % 3 == 0 else STDOUT
            data = f"{result.index}:{n};".encode()
            expected[result.index][stream] += data
            await sink.write(stream, data)
            await asyncio.sleep(0)
        await sink.close()

    await asyncio.gather(*(produce(s, t) for s, t in zip(sinks, targets, strict=True)))
    for t in targets:
        for stream in (STDOUT, STDERR):
            chunks = store.iter_output(t.job_id, t.executor_id, t.index, stream=stream)
            assert b"".join([c async for c in chunks]) == expected[t.index][stream]
    await writer.close()
    await store.close()


async def test_a_result_is_never_stored_before_the_output_queued_ahead_of_it() -> None:
    store = GatedStore()
    store.gate.set()
    writer = StoreWriter(store, max_pending_bytes=1 << 20)  # type: ignore[arg-type]
    sink = sink_of(writer, target(0))
    for _ in range(10):
        await sink.write(STDOUT, b"abcdefgh")
    await writer.save_result(transition(target(0), Status.CREATED))
    await sink.close()

    seen_result_at = next(i for i, (_, results) in enumerate(store.batches) if results)
    chunks_after = [c for chunks, _ in store.batches[seen_result_at + 1 :] for c in chunks]
    assert len([c for chunks, _ in store.batches[: seen_result_at + 1] for c in chunks]) == 10
    assert chunks_after == []


async def test_a_store_error_reaches_the_target_and_the_writer_goes_on() -> None:
    store = GatedStore(fail=True)
    store.gate.set()
    writer = StoreWriter(store, max_pending_bytes=1 << 20)  # type: ignore[arg-type]
    sink = sink_of(writer, target(0))
    await sink.write(STDOUT, b"lost output")
    with pytest.raises(StoreUnavailable):
        await sink.close()
    with pytest.raises(StoreUnavailable):
        await writer.save_result(target(1))
    store.fail = False
    await writer.save_result(target(2))
    assert [r.index for _, results in store.batches for r in results] == [2]


async def test_close_writes_what_is_queued_then_refuses_writes() -> None:
    store = GatedStore()
    writer = StoreWriter(store, max_pending_bytes=1 << 20)  # type: ignore[arg-type]
    saving = asyncio.ensure_future(writer.save_result(target(0)))
    await store.entered.wait()
    closing = asyncio.ensure_future(writer.close())
    await asyncio.sleep(0)
    assert not closing.done()
    store.gate.set()
    await asyncio.gather(saving, closing)
    assert len(store.batches) == 1
    with pytest.raises(StoreUnavailable):
        await writer.save_result(target(1))
