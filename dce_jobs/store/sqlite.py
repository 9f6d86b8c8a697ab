"""Embedded default store: SQLite in the data directory, driven from one worker thread."""

from __future__ import annotations

import asyncio
import functools
import json
import os
import queue
import sqlite3
import time
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

from ..errors import Conflict, NotFound, StoreUnavailable
from ..models import (
    FINAL_STATUSES,
    AuditEntry,
    ContainerResult,
    Execution,
    ExecutionEntry,
    FollowUp,
    Job,
    OutputChunk,
    Status,
    TaskState,
    pick_stream,
)
from ..queries import AuditQuery, ExecutionQuery, JobQuery, Page
from ..stats import PERCENTILES, ExecutionStats, StatsQuery, nearest_rank
from ..timings import Timings
from . import sqlite_lists as lists
from .base import (
    chunk_runs,
    execution_from_doc,
    execution_to_doc,
    follow_up_from_doc,
    follow_up_to_doc,
    job_from_doc,
    job_to_doc,
    last_run_from,
    result_from_doc,
    result_to_doc,
)
from .ranges import ByteRange, ChunkSize, OutputRange, cut, plan, tail_of, tail_starts
from .sqlite_files import Key, OutputFiles
from .sqlite_schedules import SCHEMA as SCHEDULES_SCHEMA
from .sqlite_schedules import SqliteSchedules
from .sqlite_schema import create_schema, fill_execution_apps

T = TypeVar("T")

#: columns added after the first release: (table, column, type), added to an older file at open
_ADDED_COLUMNS = (
    ("output", "streams", "TEXT"),
    ("executions", "state", "TEXT"),
    ("executions", "ended_at", "REAL"),
    ("executions", "duration_s", "REAL"),
    ("output", "size", "INTEGER"),
    ("output", "file_offset", "INTEGER"),
)
_INDEXES = (
    # covering indexes of the statistics: counts per hour and state by a range scan of the first, duration
    # percentiles by walking the second in duration order (no sort, no table reads)
    "CREATE INDEX IF NOT EXISTS executions_created ON executions (created_at, state, duration_s)",
    "CREATE INDEX IF NOT EXISTS executions_duration ON executions (duration_s, created_at)",
    "CREATE INDEX IF NOT EXISTS executions_job_created ON executions (job_id, created_at)",
    # the statistics of one AppName (the executions' own, as the history filters): a range scan of this one
    "CREATE INDEX IF NOT EXISTS executions_app_stats ON executions (app_name, created_at, state, duration_s)",
)
#: the tables that hold an execution's records, removed with it
_EXECUTION_TABLES = ("executions", "results", "output", "follow_ups")

_BATCH_CHUNKS = 16
#: reader connections: lists, inspect and statistics read beside the one writer (WAL) instead of queueing behind
#: its batches, and their SQL runs while the event loop works (sqlite3 releases the GIL inside SQLite)
_READERS = 3
#: targets whose output tails one query reads (two bound values each)
_TAILS_PER_QUERY = 500
#: how long a write waits for another process's transaction on the same file (replicas sharing one store)
_BUSY_TIMEOUT_S = 30.0
#: pages of new files: a 64 KiB output chunk spans 4 pages instead of 16, which halves the CPU per stored byte
_PAGE_BYTES = 16 * 1024
#: checkpoint the WAL past 64 MiB rather than 4 MiB: fewer checkpoints (each one syncs) under heavy output
_WAL_CHECKPOINT_PAGES = 4096
_WAL_KEEP_BYTES = 64 * 1024 * 1024
#: chunks from this size on are appended to the target's output file (sqlite_files.py), smaller ones stay rows
_FILE_MIN_BYTES = 16 * 1024
_RESULT_ROW = "INSERT OR REPLACE INTO results (job_id, executor_id, idx, status, doc) VALUES (?, ?, ?, ?, ?)"
_OUTPUT_ROW = (
    "INSERT OR REPLACE INTO output (job_id, executor_id, idx, seq, data, streams, size, file_offset)"
    " VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
)
#: a chunk's size: a row of a chunk in a file has it, a BLOB's length() comes from its record header
_SIZE = "COALESCE(size, length(data))"


class SqliteStore(SqliteSchedules):
    """Store in one SQLite file (WAL mode): writes run on one dedicated thread, reads on a few reader threads."""

    def __init__(self, path: Path, *, file_min_bytes: int = _FILE_MIN_BYTES) -> None:
        """A store in the file at `path`; output chunks of `file_min_bytes` or more go to files beside it."""
        self._path = path
        self._files = OutputFiles(path.with_name(path.name + "-output"))
        self._file_min_bytes = file_min_bytes
        self._db: sqlite3.Connection | None = None
        self._thread: ThreadPoolExecutor | None = None
        self._readers: ThreadPoolExecutor | None = None
        self._reader_dbs: queue.SimpleQueue[sqlite3.Connection] = queue.SimpleQueue()
        self._decoded = lists.DecodedJobs()
        self.timings = Timings()  #: every call's time on the store threads, queueing included

    def __repr__(self) -> str:
        return f"SqliteStore({str(self._path)!r})"

    async def _run(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        if self._db is None or self._thread is None:
            raise StoreUnavailable("the SQLite store is not open")
        db = self._db
        started = time.perf_counter()
        try:
            return await asyncio.get_running_loop().run_in_executor(self._thread, fn, db)
        except sqlite3.IntegrityError as e:
            raise Conflict(f"the store refused a duplicate record: {e}", error_id="conflict") from e
        except sqlite3.Error as e:
            raise StoreUnavailable(f"SQLite store error: {e}") from e
        except OSError as e:
            raise StoreUnavailable(f"SQLite store's output files: {e}") from e
        finally:
            self.timings.observe(time.perf_counter() - started)

    async def _read(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        """Run a read on a reader connection, in one read transaction: one snapshot, whatever commits meanwhile."""
        if self._readers is None:
            raise StoreUnavailable("the SQLite store is not open")
        readers, dbs = self._readers, self._reader_dbs

        def read() -> T:
            db = dbs.get()  # as many connections as threads: there is always one free
            try:
                db.execute("BEGIN")
                try:
                    return fn(db)
                finally:
                    db.execute("COMMIT")
            finally:
                dbs.put(db)

        started = time.perf_counter()
        try:
            return await asyncio.get_running_loop().run_in_executor(readers, read)
        except sqlite3.Error as e:
            raise StoreUnavailable(f"SQLite store error: {e}") from e
        except OSError as e:  # reads of output files, as on the writer
            raise StoreUnavailable(f"SQLite store's output files: {e}") from e
        finally:
            self.timings.observe(time.perf_counter() - started)

    async def open(self) -> None:
        """Open the file and create the tables."""
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sqlite")

        def connect() -> sqlite3.Connection:
            _make_private(self._path)
            db = sqlite3.connect(self._path, check_same_thread=False, isolation_level=None, timeout=_BUSY_TIMEOUT_S)
            db.execute(f"PRAGMA page_size={_PAGE_BYTES}")  # takes effect on a new file only
            # takes effect on a new file only (an older one keeps reusing its free pages, see reclaim_space)
            db.execute("PRAGMA auto_vacuum=INCREMENTAL")
            db.execute("PRAGMA journal_mode=WAL")
            db.execute(f"PRAGMA wal_autocheckpoint={_WAL_CHECKPOINT_PAGES}")
            db.execute(f"PRAGMA journal_size_limit={_WAL_KEEP_BYTES}")
            db.execute("PRAGMA synchronous=NORMAL")
            db.execute("PRAGMA foreign_keys=ON")
            create_schema(db)
            db.executescript(SCHEDULES_SCHEMA)
            for table, column, kind in _ADDED_COLUMNS:  # a file from before these were kept
                if column not in {row[1] for row in db.execute(f"PRAGMA table_info({table})")}:
                    db.execute(f"ALTER TABLE {table} ADD COLUMN {column} {kind}")
            for index in _INDEXES:
                db.execute(index)
            fill_execution_apps(db)
            return db

        def connect_reader() -> sqlite3.Connection:
            db = sqlite3.connect(self._path, check_same_thread=False, isolation_level=None, timeout=_BUSY_TIMEOUT_S)
            db.execute("PRAGMA query_only=ON")
            return db

        loop = asyncio.get_running_loop()
        try:
            self._db = await loop.run_in_executor(self._thread, connect)
            for _ in range(_READERS):
                self._reader_dbs.put(await loop.run_in_executor(self._thread, connect_reader))
        except (sqlite3.Error, OSError) as e:
            raise StoreUnavailable(f"cannot open SQLite store {self._path}: {e}") from e
        self._readers = ThreadPoolExecutor(max_workers=_READERS, thread_name_prefix="sqlite-read")

    async def close(self) -> None:
        """Close the file and the store threads."""
        if self._readers is not None:
            self._readers.shutdown(wait=True)
            self._readers = None
        while not self._reader_dbs.empty():
            self._reader_dbs.get().close()
        if self._db is not None:

            def shut(db: sqlite3.Connection) -> None:
                self._files.close()
                db.close()

            await self._run(shut)
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

    async def create_job(self, job: Job, *, audit: AuditEntry | None = None) -> None:
        """Insert a new job with its audit entry, in one transaction; a duplicate name in the same app is a Conflict."""
        doc = json.dumps(job_to_doc(job))

        def insert(db: sqlite3.Connection) -> None:
            with _transaction(db):
                try:
                    db.execute(
                        "INSERT INTO jobs (job_id, app_name, name, created_at, doc, service_name, updated_at,"
                        " name_fold) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                        (
                            job.job_id,
                            job.app_name,
                            job.name,
                            job.created_at,
                            doc,
                            job.service_name,
                            job.updated_at,
                            job.name.casefold(),
                        ),
                    )
                except sqlite3.IntegrityError as e:
                    raise Conflict(job.name, error_id="jobs_name_duplicated_error") from e
                lists.insert_audit(db, audit)

        await self._run(insert)

    async def get_job(self, job_id: str) -> Job:
        """One job with its executors."""

        def fetch(db: sqlite3.Connection) -> Job:
            row = db.execute(
                "SELECT doc, last_executor_id, last_state, last_ended_at FROM jobs WHERE job_id = ?", (job_id,)
            ).fetchone()
            if row is None:
                raise NotFound(job_id, error_id="job_id_not_found")
            executors = [
                r[0]
                for r in db.execute(
                    "SELECT executor_id FROM executions WHERE job_id = ? ORDER BY created_at, executor_id",
                    (job_id,),
                )
            ]
            return job_from_doc(json.loads(row[0]), executors, last_run_from(*row[1:]))

        return await self._read(fetch)

    async def list_jobs(self, *, app_name: str | None = None) -> list[Job]:
        """All jobs (of one AppName), oldest first."""

        return await self._read(functools.partial(lists.all_jobs, app_name=app_name, decoded=self._decoded))

    async def find_jobs(self, query: JobQuery) -> Page[Job]:
        """A page of the jobs matching `query` (filtered, ordered and counted in SQL)."""
        return await self._read(functools.partial(lists.find_jobs, query=query, decoded=self._decoded))

    async def update_job(self, job: Job, *, audit: AuditEntry | None = None) -> None:
        """Replace a job's definition, with its audit entry in the same transaction."""
        doc = json.dumps(job_to_doc(job))
        row = (job.app_name, job.name, doc, job.service_name, job.updated_at, job.name.casefold(), job.job_id)

        def update(db: sqlite3.Connection) -> None:
            with _transaction(db):
                try:
                    cursor = db.execute(
                        "UPDATE jobs SET app_name = ?, name = ?, doc = ?, service_name = ?, updated_at = ?,"
                        " name_fold = ? WHERE job_id = ?",
                        row,
                    )
                except sqlite3.IntegrityError as e:
                    raise Conflict(job.name, error_id="jobs_name_duplicated_error") from e
                if cursor.rowcount == 0:
                    raise NotFound(job.job_id, error_id="job_id_not_found")
                lists.insert_audit(db, audit)

        await self._run(update)

    async def delete_job(self, job_id: str, *, audit: AuditEntry | None = None) -> None:
        """Remove a job with everything recorded for it, in one transaction with its audit entry."""

        def delete(db: sqlite3.Connection) -> None:
            with _transaction(db):
                if db.execute("DELETE FROM jobs WHERE job_id = ?", (job_id,)).rowcount == 0:
                    raise NotFound(job_id, error_id="job_id_not_found")
                for table in (*_EXECUTION_TABLES, "schedules", "fires"):
                    db.execute(f"DELETE FROM {table} WHERE job_id = ?", (job_id,))
                lists.insert_audit(db, audit)
            self._files.remove_job(job_id)

        await self._run(delete)

    # -- executions and results ---------------------------------------------------------------------

    async def create_execution(
        self, execution: Execution, results: list[ContainerResult], *, audit: AuditEntry | None = None
    ) -> None:
        """Insert an execution, its initial results and its audit entry atomically; it is its job's LastRun."""
        doc = json.dumps(execution_to_doc(execution))
        e = execution
        row = (e.job_id, e.executor_id, e.created_at, doc, e.app_name, e.service_name, e.trigger, e.started_by)

        def insert(db: sqlite3.Connection) -> None:
            with _transaction(db):
                # another replica may have deleted the job since this one read it
                if db.execute("SELECT 1 FROM jobs WHERE job_id = ?", (execution.job_id,)).fetchone() is None:
                    raise NotFound(execution.job_id, error_id="job_id_not_found")
                try:
                    db.execute(
                        "INSERT INTO executions (job_id, executor_id, created_at, doc, app_name, service_name,"
                        " trigger, started_by, state) VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'running')",
                        row,
                    )
                except sqlite3.IntegrityError as error:
                    raise Conflict(execution.executor_id, error_id="executor_id_taken") from error
                db.execute(
                    "UPDATE jobs SET last_executor_id = ?, last_state = 'running', last_ended_at = NULL,"
                    " last_started_at = ? WHERE job_id = ?",
                    (e.executor_id, e.created_at, e.job_id),
                )
                lists.insert_audit(db, audit)
                db.executemany(
                    "INSERT INTO results (job_id, executor_id, idx, status, doc) VALUES (?, ?, ?, ?, ?)",
                    [(r.job_id, r.executor_id, r.index, r.status.value, json.dumps(result_to_doc(r))) for r in results],
                )

        await self._run(insert)

    async def find_executions(self, query: ExecutionQuery) -> Page[ExecutionEntry]:
        """A page of the executions matching `query`, newest first (filtered and counted in SQL)."""
        return await self._read(functools.partial(lists.find_executions, query=query))

    async def add_audit(self, entry: AuditEntry) -> None:
        """Append one entry to the audit trail."""
        await self._run(functools.partial(lists.insert_audit, entry=entry))

    async def find_audit(self, query: AuditQuery) -> Page[AuditEntry]:
        """A page of the audit trail, newest first."""
        return await self._read(functools.partial(lists.find_audit, query=query))

    async def get_execution(self, job_id: str, executor_id: str) -> Execution:
        """One execution."""

        def fetch(db: sqlite3.Connection) -> Execution:
            row = db.execute(
                "SELECT doc FROM executions WHERE job_id = ? AND executor_id = ?", (job_id, executor_id)
            ).fetchone()
            if row is None:
                raise NotFound(executor_id, error_id="executor_id_not_found")
            return execution_from_doc(json.loads(row[0]))

        return await self._read(fetch)

    async def list_results(self, job_id: str, executor_id: str) -> list[ContainerResult]:
        """The results of one execution, in target order."""

        def fetch(db: sqlite3.Connection) -> list[ContainerResult]:
            rows = db.execute(
                "SELECT doc FROM results WHERE job_id = ? AND executor_id = ? ORDER BY idx", (job_id, executor_id)
            )
            return [result_from_doc(json.loads(r[0])) for r in rows]

        return await self._read(fetch)

    async def end_execution(
        self, execution: Execution, *, state: str, ended_at: float, counts: Mapping[str, int] | None = None
    ) -> None:
        """Record how an execution ended (state, end, duration, counts), also as its job's LastRun if the newest."""
        key = (execution.job_id, execution.executor_id)
        counts_json = None if counts is None else json.dumps(dict(counts))

        def update(db: sqlite3.Connection) -> None:
            with _transaction(db):
                db.execute(
                    "UPDATE executions SET state = ?, ended_at = ?, duration_s = MAX(0, ? - created_at), counts = ?"
                    " WHERE job_id = ? AND executor_id = ?",
                    (state, ended_at, ended_at, counts_json, *key),
                )
                db.execute(
                    "UPDATE jobs SET last_state = ?, last_ended_at = ? WHERE job_id = ? AND last_executor_id = ?",
                    (state, ended_at, *key),
                )

        await self._run(update)

    async def execution_stats(self, query: StatsQuery) -> ExecutionStats:
        """Executions per (UTC hour, state) and duration percentiles, computed by SQL."""
        return await self._read(functools.partial(_execution_stats, query=query))

    async def save_result(self, result: ContainerResult) -> None:
        """Insert or replace one result."""
        row = _result_row(result)
        await self._run(lambda db: db.execute(_RESULT_ROW, row))

    async def list_unfinished_results(self, *, job_id: str | None = None) -> list[ContainerResult]:
        """Every result not in a final status (of one job)."""
        # IN the open statuses, not NOT IN the final ones: results_status then bounds the scan to the open results
        # (NOT IN walked every result ever stored, 0.4 s at 100,000, at every lease renewal)
        opened = tuple(s.value for s in Status if s not in FINAL_STATUSES)
        of_job, params = (" AND job_id = ?", (*opened, job_id)) if job_id is not None else ("", opened)

        def fetch(db: sqlite3.Connection) -> list[ContainerResult]:
            marks = ",".join("?" * len(opened))
            rows = db.execute(
                f"SELECT doc FROM results WHERE status IN ({marks}){of_job} ORDER BY job_id, executor_id, idx", params
            )
            return [result_from_doc(json.loads(r[0])) for r in rows]

        return await self._read(fetch)

    # -- output -------------------------------------------------------------------------------------

    async def append_output(
        self, result: ContainerResult, seq: int, data: bytes, *, streams: Sequence[tuple[int, int]] = ()
    ) -> None:
        """Store one output chunk with its runs of (stream, length)."""
        chunk = OutputChunk(result.job_id, result.executor_id, result.index, seq, data, tuple(streams))
        await self.write_batch([chunk], [])

    async def write_batch(self, chunks: Sequence[OutputChunk], results: Sequence[ContainerResult]) -> None:
        """Store output chunks and results in one transaction (one commit for many targets' writes)."""
        result_rows = [_result_row(r) for r in results]
        in_files = [c for c in chunks if len(c.data or b"") >= self._file_min_bytes]

        def write(db: sqlite3.Connection) -> None:
            # the bytes first: a committed row never points past what its file holds
            offsets = self._files.append([((c.job_id, c.executor_id, c.index), c.data) for c in in_files])
            at = {id(c): offset for c, offset in zip(in_files, offsets, strict=True)}
            output_rows = [_output_row(c, at.get(id(c))) for c in chunks]
            with _transaction(db):
                db.executemany(_OUTPUT_ROW, output_rows)
                db.executemany(_RESULT_ROW, result_rows)
            for result in results:
                if result.status.is_final:
                    self._files.done((result.job_id, result.executor_id, result.index))

        if chunks or result_rows:
            await self._run(write)

    async def iter_output(
        self, job_id: str, executor_id: str, index: int, *, stream: int | None = None
    ) -> AsyncIterator[bytes]:
        """Yield one target's chunks in order (only one stream's bytes when given), fetching a few at a time."""
        last_seq = -1
        while True:
            rows = await self._read(
                functools.partial(_output_batch, self._files, (job_id, executor_id, index), last_seq)
            )
            for seq, chunk, runs in rows:
                last_seq = seq
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
            rows = await self._read(
                functools.partial(_output_batch, self._files, (job_id, executor_id, index), last_seq)
            )
            for seq, chunk, runs in rows:
                last_seq = seq
                yield seq, chunk, chunk_runs(chunk, json.loads(runs) if runs else None)
            if len(rows) < _BATCH_CHUNKS:
                return

    async def tail_output(self, job_id: str, executor_id: str, index: int, *, max_bytes: int) -> tuple[bytes, bool]:
        """The last `max_bytes` of one target's output, and whether earlier bytes were left out."""
        return await self._read(
            functools.partial(_tail, self._files, key=(job_id, executor_id, index), max_bytes=max_bytes)
        )

    async def tail_outputs(
        self, job_id: str, executor_id: str, indexes: Sequence[int], *, max_bytes: int
    ) -> dict[int, tuple[bytes, bool]]:
        """The last `max_bytes` of several targets' output (and whether earlier bytes were left out), in one query."""
        return await self._read(
            functools.partial(_tails, self._files, key=(job_id, executor_id), indexes=set(indexes), max_bytes=max_bytes)
        )

    async def read_output_range(
        self, job_id: str, executor_id: str, index: int, *, wanted: ByteRange, stream: int | None = None
    ) -> OutputRange:
        """A byte range of one target's output (in `stream`'s bytes when given), reading only its chunks."""
        return await self._read(
            functools.partial(_read_range, self._files, key=(job_id, executor_id, index), wanted=wanted, stream=stream)
        )

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
        """Remove one execution with everything recorded for it, in one transaction (its audit entries stay).

        A job whose LastRun it was gets its newest remaining execution as LastRun (none left: never run).
        """

        def delete(db: sqlite3.Connection) -> None:
            with _transaction(db):
                for table in _EXECUTION_TABLES:
                    db.execute(f"DELETE FROM {table} WHERE job_id = ? AND executor_id = ?", (job_id, executor_id))
                lists.forget_last_run(db, job_id, executor_id)
            self._files.remove_execution(job_id, executor_id)

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

        return await self._read(fetch)


def _read_range(
    files: OutputFiles, db: sqlite3.Connection, *, key: Key, wanted: ByteRange, stream: int | None
) -> OutputRange:
    where = "job_id = ? AND executor_id = ? AND idx = ?"
    # the sizes come from the rows alone: the chunks' bytes are not read for the plan
    sizes = [
        ChunkSize(seq, size, _runs(runs))
        for seq, size, runs in db.execute(f"SELECT seq, {_SIZE}, streams FROM output WHERE {where} ORDER BY seq", key)
    ]
    seqs, first_offset, start, stop = plan(sizes, wanted, stream)
    rows = (
        db.execute(
            f"SELECT seq, data, file_offset, size, streams FROM output WHERE {where} AND seq BETWEEN ? AND ?"
            " ORDER BY seq",
            (*key, seqs[0], seqs[-1]),
        ).fetchall()
        if seqs
        else []
    )
    wanted_rows = [row for row in rows if row[0] in set(seqs)]
    datas = _chunk_bytes(files, key, [row[1:4] for row in wanted_rows])
    chunks = [(data, _runs(row[4])) for data, row in zip(datas, wanted_rows, strict=True)]
    total = sum(c.size_of(stream) for c in sizes)
    return OutputRange(cut(chunks, first_offset, start, stop, stream), start, total)


def _tails(
    files: OutputFiles, db: sqlite3.Connection, *, key: tuple[str, str], indexes: set[int], max_bytes: int
) -> dict[int, tuple[bytes, bool]]:
    # the chunks' sizes first (from the rows alone, the bytes stay on disk), then the bytes of the newest chunks
    # each tail reaches, and of those only, in one query per _TAILS_PER_QUERY targets
    sizes: dict[int, list[tuple[int, int]]] = {}
    for idx, seq, size in db.execute(
        f"SELECT idx, seq, {_SIZE} FROM output WHERE job_id = ? AND executor_id = ? ORDER BY idx, seq", key
    ):
        if idx in indexes:
            sizes.setdefault(idx, []).append((seq, size))
    tails = {idx: (b"", False) for idx in indexes}
    firsts = list(tail_starts(sizes, max_bytes).items())
    parts: dict[int, list[tuple[int, Any, int | None, int | None]]] = {}
    for start in range(0, len(firsts), _TAILS_PER_QUERY):
        some = firsts[start : start + _TAILS_PER_QUERY]
        values = ",".join("(?, ?)" for _ in some)
        rows = db.execute(
            f"WITH wanted(idx, seq) AS (VALUES {values}) SELECT o.idx, o.seq, o.data, o.file_offset, o.size"
            " FROM wanted JOIN output o"
            " ON o.job_id = ? AND o.executor_id = ? AND o.idx = wanted.idx AND o.seq >= wanted.seq",
            [*(n for pair in some for n in pair), *key],
        )
        for idx, seq, data, offset, size in rows:  # no ORDER BY: sorting would copy every blob (tail_of orders them)
            parts.setdefault(idx, []).append((seq, data, offset, size))
    for idx, rows_of in parts.items():
        datas = _chunk_bytes(files, (*key, idx), [row[1:] for row in rows_of])
        chunks = [(row[0], data) for row, data in zip(rows_of, datas, strict=True)]
        tails[idx] = tail_of(chunks, sum(size for _, size in sizes[idx]), max_bytes)
    return tails


def _runs(text: str | None) -> list[tuple[int, int]]:
    return [(int(k), int(n)) for k, n in json.loads(text)] if text else []


def _make_private(path: Path) -> None:
    """Create the database file 0600 in a 0700 folder (SQLite gives its -wal and -shm files the same mode)."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    os.close(os.open(path, os.O_RDWR | os.O_CREAT, 0o600))
    for part in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
        if part.exists() and part.stat().st_mode & 0o077:
            part.chmod(0o600)  # tighten a file an older version created world-readable


def _tail(files: OutputFiles, db: sqlite3.Connection, *, key: Key, max_bytes: int) -> tuple[bytes, bool]:
    rows: list[tuple[Any, ...]] = []
    size = 0
    cursor = db.execute(
        f"SELECT data, file_offset, size, {_SIZE} FROM output WHERE job_id = ? AND executor_id = ? AND idx = ?"
        " ORDER BY seq DESC",
        key,
    )
    for row in cursor:
        rows.append(row[:3])
        size += row[3]
        if size >= max_bytes:
            break
    cut = size > max_bytes or cursor.fetchone() is not None
    joined = b"".join(_chunk_bytes(files, key, rows[::-1]))
    return joined[-max_bytes:] if max_bytes else b"", cut


def _result_row(result: ContainerResult) -> tuple[str, str, int, str, str]:
    return (result.job_id, result.executor_id, result.index, result.status.value, json.dumps(result_to_doc(result)))


def _runs_text(streams: Sequence[tuple[int, int]]) -> str | None:
    return json.dumps([list(run) for run in streams]) if streams else None


def _output_row(chunk: OutputChunk, file_offset: int | None) -> tuple[Any, ...]:
    """The row of a chunk: its bytes as a BLOB, or (in its file at `file_offset`) its size."""
    head = (chunk.job_id, chunk.executor_id, chunk.index, chunk.seq)
    if file_offset is None:
        return (*head, chunk.data, _runs_text(chunk.streams), None, None)
    return (*head, b"", _runs_text(chunk.streams), len(chunk.data), file_offset)


def _chunk_bytes(files: OutputFiles, key: Key, rows: Sequence[Sequence[Any]]) -> list[bytes]:
    """The bytes of one target's chunks from their rows' (data, file_offset, size)."""
    if all(offset is None for _, offset, _ in rows):
        return [bytes(data) for data, _, _ in rows]
    with files.reader(key) as reader:
        return [bytes(data) if offset is None else reader.read(offset, size) for data, offset, size in rows]


def _output_batch(files: OutputFiles, key: Key, after_seq: int, db: sqlite3.Connection) -> list[Any]:
    """(seq, bytes, streams) of up to _BATCH_CHUNKS chunks of one target after `after_seq`."""
    rows = db.execute(
        "SELECT seq, data, file_offset, size, streams FROM output"
        f" WHERE job_id = ? AND executor_id = ? AND idx = ? AND seq > ? ORDER BY seq LIMIT {_BATCH_CHUNKS}",
        (*key, after_seq),
    ).fetchall()
    datas = _chunk_bytes(files, key, [row[1:4] for row in rows])
    return [(row[0], data, row[4]) for row, data in zip(rows, datas, strict=True)]


def _execution_stats(db: sqlite3.Connection, *, query: StatsQuery) -> ExecutionStats:
    where = "e.created_at >= ? AND e.created_at < ?"
    params: list[Any] = [query.since_s, query.until_s]
    if query.job_id is not None:
        where += " AND e.job_id = ?"
        params.append(query.job_id)
    if query.app_name is not None:  # the AppName the job had when the execution started (as GET /api/executors)
        where += " AND e.app_name = ?"
        params.append(query.app_name)
    # one pass over executions_created: the counts per hour and state, and how many ended (COUNT of a column
    # counts its non-null values)
    per_hour: dict[tuple[int, str], int] = {}
    count = 0
    for hour, state, n, ended in db.execute(
        f"SELECT CAST(e.created_at / 3600 AS INTEGER), COALESCE(e.state, 'unknown'), COUNT(*), COUNT(e.duration_s)"
        f" FROM executions e WHERE {where} GROUP BY 1, 2",
        params,
    ):
        per_hour[(int(hour), state)] = int(n)
        count += int(ended)
    return ExecutionStats(per_hour, count, _durations(db, where=where, params=params, count=count))


def _durations(db: sqlite3.Connection, *, where: str, params: list[Any], count: int) -> dict[int, float]:
    """Duration percentiles of the `count` ended executions that `where` selects (nearest rank)."""
    if not count:
        return {}
    ended = f"{where} AND e.duration_s IS NOT NULL"
    if len(params) == 2 and count * 3 >= _rowid_bound(db):
        # most of the whole service's executions: walk executions_duration in order up to each rank, no sort
        return {
            p: db.execute(
                f"SELECT e.duration_s FROM executions e INDEXED BY executions_duration WHERE {ended}"
                " ORDER BY e.duration_s LIMIT 1 OFFSET ?",
                [*params, nearest_rank(count, p)],
            ).fetchone()[0]
            for p in PERCENTILES
        }
    # one job, one app or a short window: a subset, sorted once (not once per percentile)
    rows = db.execute(f"SELECT e.duration_s FROM executions e WHERE {ended} ORDER BY e.duration_s", params)
    durations = [row[0] for row in rows]
    return {p: durations[min(nearest_rank(count, p), len(durations) - 1)] for p in PERCENTILES}


def _rowid_bound(db: sqlite3.Connection) -> int:
    """At least the number of executions stored, read from the end of the table's b-tree (no count)."""
    return int(db.execute("SELECT max(rowid) FROM executions").fetchone()[0] or 0)


class _transaction:
    """BEGIN IMMEDIATE ... COMMIT, ROLLBACK on error (the connection is in autocommit mode)."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self._db = db

    def __enter__(self) -> None:
        self._db.execute("BEGIN IMMEDIATE")

    def __exit__(self, exc_type: object, *_: object) -> None:
        self._db.execute("ROLLBACK" if exc_type else "COMMIT")
