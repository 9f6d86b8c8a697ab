"""Output persistence: chunks, redaction, the cap, flushing."""

from __future__ import annotations

from pathlib import Path

from dce_jobs.models import STDERR, STDOUT, ContainerResult, OutputChunk
from dce_jobs.output import OutputSink
from dce_jobs.store.sqlite import SqliteStore
from dce_jobs.writer import StoreWriter


async def stored(store: SqliteStore, result: ContainerResult) -> list[bytes]:
    return [c async for c in store.iter_output(result.job_id, result.executor_id, result.index)]


async def make(
    tmp_path: Path, *, limit: int = 1 << 20, chunk: int = 8, flush_s: float = 60.0, secrets: list[str] | None = None
) -> tuple[SqliteStore, ContainerResult, OutputSink]:
    store = SqliteStore(tmp_path / "s.db")
    await store.open()
    result = ContainerResult(job_id="j", executor_id="1.0", index=0, container_id="c", node_id="n")
    writer = StoreWriter(store, max_pending_bytes=1 << 20)
    sink = OutputSink(writer, result, tuple(secrets or ()), limit_bytes=limit, chunk_bytes=chunk, flush_s=flush_s)
    return store, result, sink


async def settled(sink: OutputSink) -> None:
    await sink._writer.settled()


async def test_full_chunks_are_written_while_running_and_the_rest_on_close(tmp_path: Path) -> None:
    store, result, sink = await make(tmp_path)
    await sink.write(STDOUT, b"0123456789")
    await settled(sink)
    assert await stored(store, result) == [b"0123456789"]
    await sink.write(STDOUT, b"abc")
    await settled(sink)
    assert await stored(store, result) == [b"0123456789"]
    await sink.close()
    assert b"".join(await stored(store, result)) == b"0123456789abc"
    await store.close()


async def test_secret_split_across_writes_never_reaches_the_store(tmp_path: Path) -> None:
    store, result, sink = await make(tmp_path, chunk=1, secrets=["hunter2"])
    for piece in (b"x=hun", b"te", b"r2;"):
        await sink.write(STDOUT, piece)
    await sink.close()
    assert b"".join(await stored(store, result)) == b"x=*******;"
    await store.close()


async def test_cap_writes_a_marker_once_and_counts_bytes(tmp_path: Path) -> None:
    store, result, sink = await make(tmp_path, limit=10, chunk=4)
    for _ in range(5):
        await sink.write(STDOUT, b"abcdef")
    await sink.close()
    data = b"".join(await stored(store, result))
    assert data.startswith(b"abcdefabcd\n[dce-jobs] output truncated")
    assert data.count(b"truncated") == 1
    assert sink.truncated and sink.stored_bytes == len(data)
    await store.close()


async def test_stale_output_is_flushed_by_the_ticker(tmp_path: Path) -> None:
    store, result, sink = await make(tmp_path, chunk=1 << 20, flush_s=0.0)
    await sink.write(STDOUT, b"tiny")
    await sink.flush_if_stale()
    await settled(sink)
    assert await stored(store, result) == [b"tiny"]
    await store.close()


async def test_a_flush_in_flight_when_the_stream_ends_is_not_lost() -> None:
    """Regression: the ticker used to be cancelled mid-flush, dropping a chunk it had taken."""
    import asyncio

    from dce_jobs.output import flush_ticker

    class SlowStore:
        def __init__(self) -> None:
            self.chunks: list[bytes] = []
            self.entered = asyncio.Event()
            self.release = asyncio.Event()

        async def write_batch(self, chunks: list[OutputChunk], results: list[ContainerResult]) -> None:
            self.entered.set()
            await self.release.wait()
            self.chunks += [c.data for c in chunks]

    store = SlowStore()
    result = ContainerResult(job_id="j", executor_id="1.0", index=0, container_id="c", node_id="n")
    writer = StoreWriter(store, max_pending_bytes=1 << 20)  # type: ignore[arg-type]
    sink = OutputSink(writer, result, (), limit_bytes=1 << 20, chunk_bytes=1 << 20, flush_s=0.01)
    done = asyncio.Event()
    ticker = asyncio.create_task(flush_ticker(sink, 0.01, done))
    await sink.write(STDOUT, b"hi\n")
    await store.entered.wait()  # the ticker is inside flush(), its chunk not stored yet
    done.set()
    asyncio.get_running_loop().call_later(0.05, store.release.set)
    await ticker
    await sink.close()
    assert store.chunks == [b"hi\n"]


async def of_stream(store: SqliteStore, result: ContainerResult, stream: int) -> bytes:
    chunks = store.iter_output(result.job_id, result.executor_id, result.index, stream=stream)
    return b"".join([c async for c in chunks])


async def test_stdout_and_stderr_are_kept_apart_in_arrival_order(tmp_path: Path) -> None:
    store, result, sink = await make(tmp_path, chunk=10)
    for stream, data in [(STDOUT, b"out1\n"), (STDERR, b"err1\n"), (STDOUT, b"out2\n"), (STDERR, b"err2\n")]:
        await sink.write(stream, data)
    await sink.close()
    assert b"".join(await stored(store, result)) == b"out1\nerr1\nout2\nerr2\n"
    assert await of_stream(store, result, STDOUT) == b"out1\nout2\n"
    assert await of_stream(store, result, STDERR) == b"err1\nerr2\n"
    await store.close()


async def test_a_secret_split_by_the_other_stream_is_still_masked_in_its_own(tmp_path: Path) -> None:
    store, result, sink = await make(tmp_path, chunk=1, secrets=["hunter2"])
    for stream, data in [(STDOUT, b"x=hun"), (STDERR, b"warning\n"), (STDOUT, b"ter2;")]:
        await sink.write(stream, data)
    await sink.close()
    assert await of_stream(store, result, STDOUT) == b"x=*******;"
    assert b"hunter2" not in b"".join(await stored(store, result))
    await store.close()
