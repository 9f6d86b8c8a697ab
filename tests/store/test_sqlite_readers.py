"""What only SqliteStore promises about its threads: reads run beside the writer, each on one snapshot."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from pathlib import Path

from dce_jobs.queries import JobQuery, Window
from dce_jobs.store.sqlite import SqliteStore
from tests.store.records import make_job

#: a bound on waiting for something that must not wait at all (the old single thread: forever)
_NEVER_S = 60.0


async def test_a_read_does_not_queue_behind_a_write_under_way(tmp_path: Path) -> None:
    """Lists, inspect and statistics read beside the writer (WAL) instead of waiting for its batch to end."""
    store = SqliteStore(tmp_path / "s.db")
    await store.open()
    job = make_job()
    await store.create_job(job)
    release = threading.Event()
    writing = asyncio.ensure_future(store._run(lambda db: release.wait(_NEVER_S)))  # noqa: SLF001 - a stuck write
    try:
        page = await asyncio.wait_for(store.find_jobs(JobQuery(window=Window(size=10))), _NEVER_S)
        got = await asyncio.wait_for(store.get_job(job.job_id), _NEVER_S)
        assert not release.is_set() and not writing.done()
    finally:
        release.set()
        await writing
        await store.close()
    assert [j.job_id for j in page.items] == [job.job_id] and got == job


async def test_a_read_sees_one_snapshot_while_another_process_writes(tmp_path: Path) -> None:
    """The page and its total come from the same state of the file, whatever commits between the two queries."""
    path = tmp_path / "s.db"
    store = SqliteStore(path)
    await store.open()
    for name in ("a", "b"):
        await store.create_job(make_job(name))
    other = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    original = store._read  # noqa: SLF001 - a commit slipped in between the two queries of one read

    async def read_with_a_commit_between(fn):  # type: ignore[no-untyped-def]
        def between(db: sqlite3.Connection):  # type: ignore[no-untyped-def]
            rows = db.execute("SELECT count(*) FROM jobs").fetchone()[0]
            other.execute("DELETE FROM jobs WHERE name = 'a'")
            return rows, fn(db)

        return await original(between)

    store._read = read_with_a_commit_between  # type: ignore[method-assign]  # noqa: SLF001
    try:
        before, page = await store.find_jobs(JobQuery())  # type: ignore[misc]
    finally:
        other.close()
        await store.close()
    assert before == page.total == len(page.items) == 2


async def test_the_open_results_are_found_through_the_status_index(tmp_path: Path) -> None:
    """Recovery asks for every open result at each lease renewal: the query must not walk every result stored."""
    path = tmp_path / "s.db"
    store = SqliteStore(path)
    await store.open()
    statements: list[str] = []
    for _ in range(3):  # every reader connection traces what it runs
        db = store._reader_dbs.get()  # noqa: SLF001 - the connections the reads run on
        db.set_trace_callback(statements.append)
        store._reader_dbs.put(db)  # noqa: SLF001
    try:
        await store.list_unfinished_results()
    finally:
        await store.close()
    (query,) = [s for s in statements if "FROM results" in s]
    plan = " ".join(str(row[3]) for row in sqlite3.connect(path).execute(f"EXPLAIN QUERY PLAN {query}"))
    assert "results_status" in plan, plan
