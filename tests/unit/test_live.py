"""The broadcaster, the feed and the cursor without HTTP: slow subscribers, characters cut by the engine, ids."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from dce_jobs.cursor import Cursor
from dce_jobs.errors import InvalidInput
from dce_jobs.events import Event, complete_utf8
from dce_jobs.feed import Feed
from dce_jobs.live import Broadcaster, Subscription
from dce_jobs.models import STDERR, STDOUT, ContainerResult, EndReason, Execution, Status, Target, transition
from dce_jobs.output import OutputSink
from dce_jobs.store.sqlite import SqliteStore
from dce_jobs.writer import StoreWriter
from tests.store.records import make_job

JOB, EXECUTOR = "job1", "1.000001"


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[SqliteStore]:
    store = SqliteStore(tmp_path / "db.sqlite3")
    await store.open()
    await store.create_job(make_job(job_id=JOB))  # an execution is stored only while its job exists
    yield store
    await store.close()


async def execution_of(store: SqliteStore, targets: int) -> tuple[Execution, list[ContainerResult]]:
    picked = tuple(Target(container_id=f"{i:064x}", node_id="n1") for i in range(targets))
    execution = Execution(job_id=JOB, executor_id=EXECUTOR, created_at=1.0, targets=picked)
    results = [
        ContainerResult(job_id=JOB, executor_id=EXECUTOR, index=i, container_id=t.container_id, node_id="n1")
        for i, t in enumerate(picked)
    ]
    await store.create_execution(execution, results)
    return execution, results


class Run:
    """A run's side as target_run drives it: status saves and output through sinks, published live."""

    def __init__(self, store: SqliteStore, results: list[ContainerResult], broadcaster: Broadcaster) -> None:
        self.store, self.results, self.broadcaster = store, results, broadcaster
        self.writer = StoreWriter(store, max_pending_bytes=1 << 20)
        self.sinks = [
            OutputSink(self.writer, r, (), limit_bytes=1 << 20, chunk_bytes=64, flush_s=60, listener=broadcaster)
            for r in results
        ]

    async def save(self, index: int, status: Status, **changes: object) -> None:
        self.results[index] = transition(self.results[index], status, **changes)
        await self.writer.save_result(self.results[index])
        self.broadcaster.status(self.results[index])

    async def finish(self) -> None:
        for index, sink in enumerate(self.sinks):
            await sink.close()
            await self.save(index, Status.FINISHED, exit_code=0)
        self.broadcaster.finish()


async def stored_text(store: SqliteStore, index: int) -> str:
    return b"".join([c async for c in store.iter_output(JOB, EXECUTOR, index)]).decode()


def output_texts(events: list[Event], targets: int) -> list[str]:
    texts = [""] * targets
    for e in events:
        if e.kind == "output":
            data = json.loads(e.frame.decode().split("data: ", 1)[1])
            assert data["Offset"] == len(texts[e.index].encode()), "a gap or a duplicate"
            texts[e.index] += data["Text"]
    return texts


async def test_a_slow_subscriber_is_dropped_to_the_store_and_still_gets_everything(store: SqliteStore) -> None:
    execution, results = await execution_of(store, 2)
    broadcaster = Broadcaster(results, max_events=4, max_bytes=1 << 20)
    run = Run(store, results, broadcaster)
    live: list[Broadcaster | None] = [broadcaster]
    feed = Feed(store, execution, lambda: live[0], poll_s=0.01)
    got: list[Event] = []
    reading = asyncio.Event()
    slow = asyncio.Event()  # the subscriber stops reading until this is set

    async def consume() -> None:
        async for event in feed.events():
            got.append(event)
            if feed.live and not reading.is_set():
                reading.set()
                await slow.wait()

    consumer = asyncio.create_task(consume())
    for index in range(2):
        await run.save(index, Status.CREATED, exec_id="e")
        await run.save(index, Status.RUNNING)
    while not reading.is_set():  # until the subscriber reads live
        await run.sinks[0].write(STDOUT, b"starting\n")
        await asyncio.sleep(0.01)
    for n in range(200):  # the run goes on at its own pace while the subscriber does not read
        for index, sink in enumerate(run.sinks):
            await sink.write(STDERR if n % 7 == 0 else STDOUT, f"line {n} of {index}\n".encode())
    assert broadcaster.drops == 1 and broadcaster.subscribers == 0  # dropped, never waited for
    slow.set()
    while not (feed.live and feed.joins == 2):  # noqa: ASYNC110 (the feed has no event to wait on)
        await asyncio.sleep(0.01)  # caught up from the store, then live again
    for index, sink in enumerate(run.sinks):
        await sink.write(STDOUT, b"after rejoining\n")
    await run.finish()
    live[0] = None
    await consumer
    assert output_texts(got, 2) == [await stored_text(store, i) for i in range(2)]
    assert all(t.endswith(f"line 199 of {i}\nafter rejoining\n") for i, t in enumerate(output_texts(got, 2)))
    assert [e.kind for e in got].count("end") == 1 and got[-1].kind == "end"


def test_a_full_queue_refuses_events_and_stays_bounded() -> None:
    sub = Subscription([], max_events=3, max_bytes=1 << 20)
    events = [Event("output", str(n), b"x") for n in range(5)]
    assert [sub.offer(e) for e in events] == [True, True, True, False, False]
    assert sub.queued == 3 and not sub.live
    small = Subscription([], max_events=100, max_bytes=10)
    assert small.offer(Event("output", "1", b"x" * 8)) and not small.offer(Event("output", "2", b"x" * 8))


async def test_a_character_cut_by_the_engine_is_sent_whole(store: SqliteStore) -> None:
    _, results = await execution_of(store, 1)
    broadcaster = Broadcaster(results)
    joined = broadcaster.join(Cursor.blank(1))
    assert joined is not None
    sub, _ = joined
    word = "héllo wörld ✓\n".encode()
    for i in range(len(word)):  # one byte at a time
        broadcaster.output(0, STDOUT, word[i : i + 1])
    broadcaster.output(0, STDOUT, "€".encode()[:2])
    broadcaster.output(0, STDERR, b"!")  # another stream: the cut character goes as it is
    events = []
    while sub.queued:
        event = await sub.next()
        assert event is not None
        events.append(event)
    texts = [json.loads(e.frame.decode().split("data: ", 1)[1])["Text"] for e in events if e.kind == "output"]
    assert "".join(texts[:-2]) == "héllo wörld ✓\n" and "\ufffd" not in "".join(texts[:-2])
    assert texts[-1] == "!"


def test_complete_utf8_finds_the_last_whole_character() -> None:
    euro = "€".encode()
    assert complete_utf8(b"ab") == 2
    assert complete_utf8(b"a" + euro[:1]) == 1 and complete_utf8(b"a" + euro[:2]) == 1
    assert complete_utf8(b"a" + euro) == 4
    assert complete_utf8("😀".encode()[:3]) == 0 and complete_utf8(b"") == 0


def test_cursor_ids_round_trip_and_stay_compact() -> None:
    cursor = Cursor.blank(200)
    for i in range(200):
        cursor.set_status(i, Status.STARTING)
    assert cursor.encode() == "1~~a*200"
    cursor.set_status(7, Status.RUNNING)
    cursor.advance(7, 123456)
    cursor.summary = "r,199,1,0,0,0"
    cursor.ended = True
    text = cursor.encode()
    assert text == "1~r,199,1,0,0,0~a*7.d2n9c.a*192~E"
    again = Cursor.decode(text, 200)
    assert again.encode() == text and again.offsets[7] == 123456 and again.statuses[7] is Status.RUNNING
    with pytest.raises(InvalidInput):
        Cursor.decode(text, 199)  # another execution's id
    for bad in (
        "1~~a*201",
        "1~~a*0",
        "1~~a*-1.a",
        "1~~a+1*200",
        "1~~ -1*200",
        "1~x~a*200",
        "1~~a*200~X",
        "1~~a*1_99.a",
    ):
        with pytest.raises(InvalidInput):
            Cursor.decode(bad, 200)


async def test_a_follow_of_one_target_ends_at_its_final_status(store: SqliteStore) -> None:
    execution, results = await execution_of(store, 2)
    broadcaster = Broadcaster(results)
    run = Run(store, results, broadcaster)
    await run.sinks[1].write(STDOUT, b"early\n")
    await run.sinks[1].flush()
    feed = Feed(store, execution, lambda: broadcaster, only=1)
    got: list[Event] = []

    async def follow() -> None:
        async for event in feed.events():
            got.append(event)
            if event.kind == "target" and event.index == 1 and event.final:
                return

    follower = asyncio.create_task(follow())
    await run.sinks[1].write(STDOUT, b"late\n")
    await run.sinks[0].write(STDOUT, b"other\n")
    await run.sinks[1].close()
    await run.save(1, Status.CREATE_FAILED, error="x", end_reason=EndReason.STOPPED)
    await follower
    assert b"".join(e.raw for e in got if e.index == 1) == b"early\nlate\n"
