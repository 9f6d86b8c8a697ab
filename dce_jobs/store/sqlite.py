"""Embedded default store: SQLite in the data directory, driven from one worker thread."""

from __future__ import annotations

import asyncio
import functools
import json
import os
import sqlite3
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

from ..errors import Conflict, NotFound, StoreUnavailable
from ..models import FINAL_STATUSES, ContainerResult, Execution, FollowUp, Job, TaskState, pick_stream
from .base import (
    chunk_runs,
    execution_from_doc,
    execution_to_doc,
    follow_up_from_doc,
    follow_up_to_doc,
    job_from_doc,
    job_to_doc,
    result_from_doc,
    result_to_doc,
)

T = TypeVar("T")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS jobs (
    job_id TEXT PRIMARY KEY, app_name TEXT NOT NULL, name TEXT NOT NULL,
    created_at REAL NOT NULL, doc TEXT NOT NULL, UNIQUE (app_name, name));
CREATE TABLE IF NOT EXISTS executions (
    job_id TEXT NOT NULL, executor_id TEXT NOT NULL, created_at REAL NOT NULL, doc TEXT NOT NULL,
    PRIMARY KEY (job_id, executor_id));
CREATE TABLE IF NOT EXISTS results (
    job_id TEXT NOT NULL, executor_id TEXT NOT NULL, idx INTEGER NOT NULL, status TEXT NOT NULL,
    doc TEXT NOT NULL, PRIMARY KEY (job_id, executor_id, idx));
CREATE INDEX IF NOT EXISTS results_status ON results (status);
CREATE TABLE IF NOT EXISTS output (
    job_id TEXT NOT NULL, executor_id TEXT NOT NULL, idx INTEGER NOT NULL, seq INTEGER NOT NULL,
    data BLOB NOT NULL, streams TEXT, PRIMARY KEY (job_id, executor_id, idx, seq));
CREATE TABLE IF NOT EXISTS follow_ups (
    task_id TEXT PRIMARY KEY, job_id TEXT NOT NULL, executor_id TEXT NOT NULL, state TEXT NOT NULL,
    due_at REAL NOT NULL, created_at REAL NOT NULL, doc TEXT NOT NULL, claim_until REAL NOT NULL DEFAULT 0);
CREATE INDEX IF NOT EXISTS follow_ups_state ON follow_ups (state, due_at);
CREATE INDEX IF NOT EXISTS follow_ups_execution ON follow_ups (job_id, executor_id);
"""

#: the tables that hold an execution's records, removed with it
_EXECUTION_TABLES = ("executions", "results", "output", "follow_ups")

_BATCH_CHUNKS = 16


class SqliteStore:
    """Store in one SQLite file (WAL mode); every call runs on a single dedicated thread."""

    def __init__(self, path: Path) -> None:
        self._path = path
        self._db: sqlite3.Connection | None = None
        self._thread: ThreadPoolExecutor | None = None

    def __repr__(self) -> str:
        return f"SqliteStore({str(self._path)!r})"

    async def _run(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        if self._db is None or self._thread is None:
            raise StoreUnavailable("the SQLite store is not open")
        db = self._db
        try:
            return await asyncio.get_running_loop().run_in_executor(self._thread, fn, db)
        except sqlite3.IntegrityError as e:
            raise Conflict(f"the store refused a duplicate record: {e}", error_id="conflict") from e
        except sqlite3.Error as e:
            raise StoreUnavailable(f"SQLite store error: {e}") from e

    async def open(self) -> None:
        """Open the file and create the tables."""
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sqlite")

        def connect() -> sqlite3.Connection:
            _make_private(self._path)
            db = sqlite3.connect(self._path, check_same_thread=False, isolation_level=None)
            # takes effect on a new file only (an older one keeps reusing its free pages, see reclaim_space)
            db.execute("PRAGMA auto_vacuum=INCREMENTAL")
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=NORMAL")
            db.execute("PRAGMA foreign_keys=ON")
            db.executescript(_SCHEMA)
            if "streams" not in {row[1] for row in db.execute("PRAGMA table_info(output)")}:
                db.execute("ALTER TABLE output ADD COLUMN streams TEXT")  # a file from before streams were kept
            return db

        try:
            self._db = await asyncio.get_running_loop().run_in_executor(self._thread, connect)
        except (sqlite3.Error, OSError) as e:
            raise StoreUnavailable(f"cannot open SQLite store {self._path}: {e}") from e

    async def close(self) -> None:
        """Close the file and the worker thread."""
        if self._db is not None:
            await self._run(lambda db: db.close())
            self._db = None
        if self._thread is not None:
            self._thread.shutdown(wait=True)
            self._thread = None

    async def ping(self) -> None:
        """Run a trivial query."""
        try:
            await self._run(lambda db: db.execute("SELECT 1").fetchone())
        except sqlite3.Error as e:
            raise StoreUnavailable(f"SQLite store unavailable: {e}") from e

    # -- jobs ---------------------------------------------------------------------------------------

    async def create_job(self, job: Job) -> None:
        """Insert a new job; a duplicate name in the same app is a Conflict."""
        doc = json.dumps(job_to_doc(job))

        def insert(db: sqlite3.Connection) -> None:
            try:
                db.execute(
                    "INSERT INTO jobs (job_id, app_name, name, created_at, doc) VALUES (?, ?, ?, ?, ?)",
                    (job.job_id, job.app_name, job.name, job.created_at, doc),
                )
            except sqlite3.IntegrityError as e:
                raise Conflict(job.name, error_id="jobs_name_duplicated_error") from e

        await self._run(insert)

    async def get_job(self, job_id: str) -> Job:
        """One job with its executors."""

        def fetch(db: sqlite3.Connection) -> Job:
            row = db.execute("SELECT doc FROM jobs WHERE job_id = ?", (job_id,)).fetchone()
            if row is None:
                raise NotFound(job_id, error_id="job_id_not_found")
            executors = [
                r[0]
                for r in db.execute(
                    "SELECT executor_id FROM executions WHERE job_id = ? ORDER BY created_at, executor_id",
                    (job_id,),
                )
            ]
            return job_from_doc(json.loads(row[0]), executors)

        return await self._run(fetch)

    async def list_jobs(self, *, app_name: str | None = None) -> list[Job]:
        """All jobs (of one AppName), oldest first."""

        def fetch(db: sqlite3.Connection) -> list[Job]:
            where, params = ("WHERE app_name = ?", (app_name,)) if app_name is not None else ("", ())
            rows = db.execute(f"SELECT job_id, doc FROM jobs {where} ORDER BY created_at, job_id", params).fetchall()
            executors: dict[str, list[str]] = {job_id: [] for job_id, _ in rows}
            join = "SELECT e.job_id, e.executor_id FROM executions e JOIN jobs j ON j.job_id = e.job_id"
            join += " WHERE j.app_name = ?" if app_name is not None else ""
            for job_id, executor_id in db.execute(f"{join} ORDER BY e.created_at, e.executor_id", params):
                executors[job_id].append(executor_id)
            return [job_from_doc(json.loads(doc), executors[job_id]) for job_id, doc in rows]

        return await self._run(fetch)

    async def update_job(self, job: Job) -> None:
        """Replace a job's definition."""
        doc = json.dumps(job_to_doc(job))

        def update(db: sqlite3.Connection) -> None:
            try:
                cursor = db.execute(
                    "UPDATE jobs SET app_name = ?, name = ?, doc = ? WHERE job_id = ?",
                    (job.app_name, job.name, doc, job.job_id),
                )
            except sqlite3.IntegrityError as e:
                raise Conflict(job.name, error_id="jobs_name_duplicated_error") from e
            if cursor.rowcount == 0:
                raise NotFound(job.job_id, error_id="job_id_not_found")

        await self._run(update)

    async def delete_job(self, job_id: str) -> None:
        """Remove a job with everything recorded for it, in one transaction."""

        def delete(db: sqlite3.Connection) -> None:
            with _transaction(db):
                if db.execute("DELETE FROM jobs WHERE job_id = ?", (job_id,)).rowcount == 0:
                    raise NotFound(job_id, error_id="job_id_not_found")
                for table in _EXECUTION_TABLES:
                    db.execute(f"DELETE FROM {table} WHERE job_id = ?", (job_id,))

        await self._run(delete)

    # -- executions and results ---------------------------------------------------------------------

    async def create_execution(self, execution: Execution, results: list[ContainerResult]) -> None:
        """Insert an execution and its initial results atomically."""
        doc = json.dumps(execution_to_doc(execution))

        def insert(db: sqlite3.Connection) -> None:
            with _transaction(db):
                try:
                    db.execute(
                        "INSERT INTO executions (job_id, executor_id, created_at, doc) VALUES (?, ?, ?, ?)",
                        (execution.job_id, execution.executor_id, execution.created_at, doc),
                    )
                except sqlite3.IntegrityError as e:
                    raise Conflict(execution.executor_id, error_id="executor_id_taken") from e
                db.executemany(
                    "INSERT INTO results (job_id, executor_id, idx, status, doc) VALUES (?, ?, ?, ?, ?)",
                    [(r.job_id, r.executor_id, r.index, r.status.value, json.dumps(result_to_doc(r))) for r in results],
                )

        await self._run(insert)

    async def get_execution(self, job_id: str, executor_id: str) -> Execution:
        """One execution."""

        def fetch(db: sqlite3.Connection) -> Execution:
            row = db.execute(
                "SELECT doc FROM executions WHERE job_id = ? AND executor_id = ?", (job_id, executor_id)
            ).fetchone()
            if row is None:
                raise NotFound(executor_id, error_id="executor_id_not_found")
            return execution_from_doc(json.loads(row[0]))

        return await self._run(fetch)

    async def list_results(self, job_id: str, executor_id: str) -> list[ContainerResult]:
        """The results of one execution, in target order."""

        def fetch(db: sqlite3.Connection) -> list[ContainerResult]:
            rows = db.execute(
                "SELECT doc FROM results WHERE job_id = ? AND executor_id = ? ORDER BY idx", (job_id, executor_id)
            )
            return [result_from_doc(json.loads(r[0])) for r in rows]

        return await self._run(fetch)

    async def save_result(self, result: ContainerResult) -> None:
        """Insert or replace one result."""
        row = (result.job_id, result.executor_id, result.index, result.status.value, json.dumps(result_to_doc(result)))
        await self._run(
            lambda db: db.execute(
                "INSERT OR REPLACE INTO results (job_id, executor_id, idx, status, doc) VALUES (?, ?, ?, ?, ?)", row
            )
        )

    async def list_unfinished_results(self) -> list[ContainerResult]:
        """Every result not in a final status."""
        finals = tuple(s.value for s in FINAL_STATUSES)

        def fetch(db: sqlite3.Connection) -> list[ContainerResult]:
            marks = ",".join("?" * len(finals))
            rows = db.execute(
                f"SELECT doc FROM results WHERE status NOT IN ({marks}) ORDER BY job_id, executor_id, idx", finals
            )
            return [result_from_doc(json.loads(r[0])) for r in rows]

        return await self._run(fetch)

    # -- output -------------------------------------------------------------------------------------

    async def append_output(
        self, result: ContainerResult, seq: int, data: bytes, *, streams: Sequence[tuple[int, int]] = ()
    ) -> None:
        """Store one output chunk with its runs of (stream, length)."""
        runs = json.dumps([list(run) for run in streams]) if streams else None
        row = (result.job_id, result.executor_id, result.index, seq, data, runs)
        await self._run(
            lambda db: db.execute(
                "INSERT OR REPLACE INTO output (job_id, executor_id, idx, seq, data, streams)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                row,
            )
        )

    async def iter_output(
        self, job_id: str, executor_id: str, index: int, *, stream: int | None = None
    ) -> AsyncIterator[bytes]:
        """Yield one target's chunks in order (only one stream's bytes when given), fetching a few at a time."""
        last_seq = -1
        while True:
            rows = await self._run(functools.partial(_output_batch, key=(job_id, executor_id, index, last_seq)))
            for seq, data, runs in rows:
                last_seq = seq
                chunk = bytes(data)
                if stream is not None:
                    chunk = pick_stream(chunk, json.loads(runs) if runs else (), stream)
                if chunk:
                    yield chunk
            if len(rows) < _BATCH_CHUNKS:
                return

    async def iter_chunks(
        self, job_id: str, executor_id: str, index: int, *, after_seq: int = -1
    ) -> AsyncGenerator[tuple[int, bytes, tuple[tuple[int, int], ...]], None]:
        """Yield (seq, data, runs) of the chunks after `after_seq`, fetching a few at a time."""
        last_seq = after_seq
        while True:
            rows = await self._run(functools.partial(_output_batch, key=(job_id, executor_id, index, last_seq)))
            for seq, data, runs in rows:
                last_seq = seq
                chunk = bytes(data)
                yield seq, chunk, chunk_runs(chunk, json.loads(runs) if runs else None)
            if len(rows) < _BATCH_CHUNKS:
                return

    async def tail_output(self, job_id: str, executor_id: str, index: int, *, max_bytes: int) -> tuple[bytes, bool]:
        """The last `max_bytes` of one target's output, and whether earlier bytes were left out."""

        def fetch(db: sqlite3.Connection) -> tuple[bytes, bool]:
            parts: list[bytes] = []
            size = 0
            cursor = db.execute(
                "SELECT data FROM output WHERE job_id = ? AND executor_id = ? AND idx = ? ORDER BY seq DESC",
                (job_id, executor_id, index),
            )
            for (data,) in cursor:
                parts.append(bytes(data))
                size += len(data)
                if size >= max_bytes:
                    break
            cut = size > max_bytes or cursor.fetchone() is not None
            joined = b"".join(reversed(parts))
            return joined[-max_bytes:] if max_bytes else b"", cut

        return await self._run(fetch)

    # -- executions after the fact and their follow-ups ----------------------------------------------

    async def update_execution(self, execution: Execution) -> None:
        """Replace an execution's record."""
        doc = json.dumps(execution_to_doc(execution))

        def update(db: sqlite3.Connection) -> None:
            cursor = db.execute(
                "UPDATE executions SET doc = ? WHERE job_id = ? AND executor_id = ?",
                (doc, execution.job_id, execution.executor_id),
            )
            if cursor.rowcount == 0:
                raise NotFound(execution.executor_id, error_id="executor_id_not_found")

        await self._run(update)

    async def delete_execution(self, job_id: str, executor_id: str) -> None:
        """Remove one execution with everything recorded for it, in one transaction."""

        def delete(db: sqlite3.Connection) -> None:
            with _transaction(db):
                for table in _EXECUTION_TABLES:
                    db.execute(f"DELETE FROM {table} WHERE job_id = ? AND executor_id = ?", (job_id, executor_id))

        await self._run(delete)

    async def reclaim_space(self) -> None:
        """Fold the WAL into the file and truncate it; on an incremental-vacuum file also return the free pages.

        No full VACUUM: it rewrites the whole file while every other store call waits. A file made before
        auto_vacuum was set keeps its free pages and reuses them for new records instead of growing.
        """

        def reclaim(db: sqlite3.Connection) -> None:
            if db.execute("PRAGMA auto_vacuum").fetchone()[0] == 2:  # INCREMENTAL
                # executescript steps the pragma to its end (execute would free one page only)
                db.executescript("PRAGMA incremental_vacuum;")
            db.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()

        await self._run(reclaim)

    async def save_follow_up(self, task: FollowUp) -> None:
        """Insert or replace a follow-up task."""
        row = (task.task_id, task.job_id, task.executor_id, task.state.value, task.due_at, task.created_at)
        doc = json.dumps(follow_up_to_doc(task))
        await self._run(
            lambda db: db.execute(
                "INSERT OR REPLACE INTO follow_ups (task_id, job_id, executor_id, state, due_at, created_at, doc)"
                " VALUES (?, ?, ?, ?, ?, ?, ?)",
                (*row, doc),
            )
        )

    async def list_pending_follow_ups(self) -> list[FollowUp]:
        """Every pending follow-up, soonest due first."""

        def fetch(db: sqlite3.Connection) -> list[FollowUp]:
            rows = db.execute(
                "SELECT doc FROM follow_ups WHERE state = ? ORDER BY due_at, task_id", (TaskState.PENDING.value,)
            )
            return [follow_up_from_doc(json.loads(r[0])) for r in rows]

        return await self._run(fetch)

    async def claim_follow_up(self, task_id: str, *, now: float, until: float) -> bool:
        """Take a pending follow-up unless another process holds it past `now`."""
        cursor = await self._run(
            lambda db: db.execute(
                "UPDATE follow_ups SET claim_until = ? WHERE task_id = ? AND state = ? AND claim_until <= ?",
                (until, task_id, TaskState.PENDING.value, now),
            )
        )
        return cursor.rowcount == 1

    async def list_follow_ups(self, job_id: str, executor_id: str) -> list[FollowUp]:
        """The follow-ups of one execution, oldest first."""

        def fetch(db: sqlite3.Connection) -> list[FollowUp]:
            rows = db.execute(
                "SELECT doc FROM follow_ups WHERE job_id = ? AND executor_id = ? ORDER BY created_at, task_id",
                (job_id, executor_id),
            )
            return [follow_up_from_doc(json.loads(r[0])) for r in rows]

        return await self._run(fetch)


def _make_private(path: Path) -> None:
    """Create the database file 0600 in a 0700 folder (SQLite gives its -wal and -shm files the same mode)."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    os.close(os.open(path, os.O_RDWR | os.O_CREAT, 0o600))
    for part in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
        if part.exists() and part.stat().st_mode & 0o077:
            part.chmod(0o600)  # tighten a file an older version created world-readable


def _output_batch(db: sqlite3.Connection, *, key: tuple[str, str, int, int]) -> list[Any]:
    return db.execute(
        "SELECT seq, data, streams FROM output WHERE job_id = ? AND executor_id = ? AND idx = ? AND seq > ?"
        f" ORDER BY seq LIMIT {_BATCH_CHUNKS}",
        key,
    ).fetchall()


class _transaction:
    """BEGIN IMMEDIATE ... COMMIT, ROLLBACK on error (the connection is in autocommit mode)."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self._db = db

    def __enter__(self) -> None:
        self._db.execute("BEGIN IMMEDIATE")

    def __exit__(self, exc_type: object, *_: object) -> None:
        self._db.execute("ROLLBACK" if exc_type else "COMMIT")
