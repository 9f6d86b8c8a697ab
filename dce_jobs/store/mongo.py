"""MongoDB store on PyMongo's async API; the only module that imports the Mongo driver."""

from __future__ import annotations

import time
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any
from urllib.parse import unquote, urlsplit

from bson import ObjectId
from pymongo import ASCENDING, DESCENDING, AsyncMongoClient, ReplaceOne, UpdateOne
from pymongo import timeout as operation_timeout
from pymongo.errors import BulkWriteError, DuplicateKeyError, PyMongoError

from ..errors import Conflict, DceJobsError, NotFound, StoreUnavailable
from ..models import (
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
from ..stats import PERCENTILES, STATES, ExecutionStats, StatsQuery, hour_of, nearest_rank
from ..timings import Timings
from . import mongo_lists as lists
from .base import (
    audit_to_doc,
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
from .mongo_schedules import INDEXES as SCHEDULE_INDEXES
from .mongo_schedules import MongoSchedules
from .ranges import ByteRange, ChunkSize, OutputRange, cut, plan, tail_of, tail_starts

_BATCH_CHUNKS = 16
#: targets whose output tails one query reads (a bounded $or, never one clause per target of a huge execution)
_TAILS_PER_QUERY = 100
_SERVER_SELECTION_TIMEOUT_MS = 5000
# a whole transaction with its retries; left to the driver it retries transient errors (a server that is
# down) for 120 s
_TRANSACTION_TIMEOUT_S = 30
_MAX_REASON_CHARS = 300
_DUPLICATE_KEY = 11000
_UNFINISHED = [s.value for s in Status if not s.is_final]
_NO_ID = {"_id": False}
_JOB_ORDER = [("created_at", ASCENDING), ("job_id", ASCENDING)]
_RESULT_KEY = [("job_id", ASCENDING), ("executor_id", ASCENDING), ("index", ASCENDING)]

# (collection, keys, unique)
_INDEXES: tuple[tuple[str, list[tuple[str, int]], bool], ...] = (
    ("jobs", [("app_name", ASCENDING), ("name", ASCENDING)], True),
    ("jobs", [("job_id", ASCENDING)], True),
    ("executions", [("job_id", ASCENDING), ("executor_id", ASCENDING)], True),
    ("executions", [("created_at", ASCENDING)], False),
    ("executions", [("job_id", ASCENDING), ("created_at", ASCENDING)], False),
    # the statistics' duration percentiles: walked in duration order up to each rank instead of a sort in memory
    ("executions", [("duration_s", ASCENDING), ("created_at", ASCENDING)], False),
    # the same of one AppName (the executions' own app_name, as the history filters): equality, then that order
    ("executions", [("app_name", ASCENDING), ("duration_s", ASCENDING), ("created_at", ASCENDING)], False),
    ("results", _RESULT_KEY, True),
    ("results", [("status", ASCENDING)], False),
    ("output", [*_RESULT_KEY, ("seq", ASCENDING)], True),
    *lists.INDEXES,
    ("follow_ups", [("task_id", ASCENDING)], True),
    ("follow_ups", [("state", ASCENDING), ("due_at", ASCENDING)], False),
    ("follow_ups", [("job_id", ASCENDING), ("executor_id", ASCENDING)], False),
)


def _chunk_key(job_id: str, executor_id: str, index: int) -> dict[str, Any]:
    return {"job_id": job_id, "executor_id": executor_id, "index": index}


def _result_key(result: ContainerResult) -> dict[str, Any]:
    return _chunk_key(result.job_id, result.executor_id, result.index)


def _execution_doc(execution: Execution) -> dict[str, Any]:
    """The execution's document with the fields statistics group on: its UTC hour and its state."""
    return {**execution_to_doc(execution), "hour": hour_of(execution.created_at), "state": "running"}


def _stored_runs(doc: dict[str, Any]) -> list[tuple[int, int]]:
    return [(int(k), int(n)) for k, n in doc.get("streams") or ()]


def _chunk_size(doc: dict[str, Any]) -> ChunkSize:
    return ChunkSize(int(doc["seq"]), int(doc["size"]), _stored_runs(doc))


def _chunk_upsert(chunk: OutputChunk) -> tuple[dict[str, Any], dict[str, Any]]:
    """Filter and update of one chunk's upsert: $set rather than a replacement, same outcome, and wire servers
    that cannot replace a document holding binary data (nx-27017) can still update one."""
    key = {**_chunk_key(chunk.job_id, chunk.executor_id, chunk.index), "seq": chunk.seq}
    fields = {
        "data": bytes(chunk.data),
        "size": len(chunk.data),
        "streams": [list(run) for run in chunk.streams] or None,
    }
    return key, {"$set": fields}


def _job_not_found(job_id: str) -> NotFound:
    return NotFound(job_id, error_id="job_id_not_found")


def _is_duplicate_key(error: PyMongoError) -> bool:
    """True for a unique-index clash, also when insert_many reports it as a BulkWriteError."""
    if isinstance(error, BulkWriteError):
        write_errors = error.details.get("writeErrors") or [{}]
        return all(w.get("code") == _DUPLICATE_KEY for w in write_errors)
    return isinstance(error, DuplicateKeyError)


def _name_taken(job: Job) -> Conflict:
    return Conflict(job.name, error_id="jobs_name_duplicated_error")


class _UrlParts:
    """The credential-free parts of a MongoDB URL, for messages."""

    def __init__(self, url: str) -> None:
        userinfo, _, hosts = urlsplit(url).netloc.rpartition("@")
        self.hosts = hosts or "?"
        password = userinfo.partition(":")[2]
        self._secrets = [s for s in {password, unquote(password)} if s]

    def scrub(self, text: str) -> str:
        """`text` with any password of the URL masked."""
        for secret in self._secrets:
            text = text.replace(secret, "***")
        return text


def _has_transactions(hello: dict[str, Any]) -> bool:
    """True when a `hello` reply comes from a replica set member or a mongos: multi-document transactions."""
    return "setName" in hello or hello.get("msg") == "isdbgrid"


class MongoStore(MongoSchedules):
    """Store in one MongoDB database: jobs, executions, results and output chunks.

    Writes that touch several documents (create_execution; delete_job once the output is gone) run in one
    transaction when the server has them (replica set, sharded cluster); on a standalone server step by step.
    `transactions` overrides what the server's `hello` says (None: ask the server).
    """

    def __init__(
        self,
        url: str,
        *,
        db_name: str = "dce_jobs",
        client_factory: Callable[..., Any] | None = None,
        transactions: bool | None = None,
    ) -> None:
        self._url = url
        self._transactions_wanted = transactions
        self.transactions = False  #: whether multi-document writes run in a transaction (known once open)
        self._url_parts = _UrlParts(url)
        self._db_name = db_name
        self._client_factory = client_factory or AsyncMongoClient
        # Any: the client is an AsyncMongoClient or a test double with the same methods
        self._client: Any = None
        self._db: Any = None
        self.timings = Timings()  #: every driver call's time

    def __repr__(self) -> str:
        return f"MongoStore(hosts={self._url_parts.hosts!r}, db_name={self._db_name!r})"

    @contextmanager
    def _errors(self, conflict: Conflict | None = None) -> Iterator[None]:
        """Translate driver errors into domain errors at this one boundary (and time the calls inside)."""
        started = time.perf_counter()
        try:
            yield
        except PyMongoError as e:
            if conflict is not None and _is_duplicate_key(e):
                raise conflict from e
            # the driver appends a full topology dump to selection timeouts: keep the first cause only
            reason = str(e).split(", Topology Description:")[0][:_MAX_REASON_CHARS]
            detail = self._url_parts.scrub(f"{type(e).__name__}: {reason}")
            raise StoreUnavailable(f"MongoDB at {self._url_parts.hosts} failed: {detail}") from e
        finally:
            self.timings.observe(time.perf_counter() - started)

    def _col(self, name: str) -> Any:
        if self._db is None:
            raise StoreUnavailable("the MongoDB store is not open")
        return self._db[name]

    async def open(self) -> None:
        """Connect and create the indexes."""
        with self._errors():
            self._client = self._client_factory(
                self._url, serverSelectionTimeoutMS=_SERVER_SELECTION_TIMEOUT_MS, tz_aware=False
            )
            self._db = self._client[self._db_name]
            for name, keys, unique in (*_INDEXES, *SCHEDULE_INDEXES):
                await self._col(name).create_index(keys, unique=unique)
            await lists.upgrade_old_records(self._db)  # before the statistics' own: it reads a missing state
            await lists.add_last_run_starts(self._db)
            await lists.fill_execution_apps(self._db)
            await self._add_stat_fields()
            if self._transactions_wanted is None:
                self.transactions = _has_transactions(await self._client.admin.command("hello"))
            else:
                self.transactions = self._transactions_wanted

    async def _add_stat_fields(self) -> None:
        """Give executions stored before statistics were kept their hour (their state stays unknown)."""
        executions = self._col("executions")
        async for doc in executions.find({"hour": {"$exists": False}}, {"_id": True, "created_at": True}):
            await executions.update_one({"_id": doc["_id"]}, {"$set": {"hour": hour_of(doc["created_at"])}})

    async def close(self) -> None:
        """Close the client."""
        client, self._client, self._db = self._client, None, None
        if client is not None:
            with self._errors():
                await client.close()

    async def ping(self) -> None:
        """Run the `ping` admin command."""
        if self._client is None:
            raise StoreUnavailable("the MongoDB store is not open")
        with self._errors():
            await self._client.admin.command("ping")

    # -- jobs ---------------------------------------------------------------------------------------

    async def _audited(self, audit: AuditEntry | None, write: Callable[[], Awaitable[None]]) -> None:
        """Write the audit entry, then run `write`; if that fails, remove the entry again and raise.

        Entry first: a store that cannot take the entry refuses the operation before anything changed.
        """
        if audit is None:
            await write()
            return
        oid = ObjectId()
        with self._errors():
            await self._col("audit").insert_one({"_id": oid, **audit_to_doc(audit)})
        try:
            await write()
        except BaseException:
            with self._errors():
                await self._col("audit").delete_one({"_id": oid})
            raise

    async def create_job(self, job: Job, *, audit: AuditEntry | None = None) -> None:
        """Insert a new job (and its audit entry); a duplicate name in the same app is a Conflict."""

        async def insert() -> None:
            with self._errors(_name_taken(job)):
                await self._col("jobs").insert_one(job_to_doc(job))

        await self._audited(audit, insert)

    async def get_job(self, job_id: str) -> Job:
        """One job with its executors (oldest first)."""
        with self._errors():
            doc = await self._col("jobs").find_one({"job_id": job_id}, _NO_ID)
            if doc is None:
                raise _job_not_found(job_id)
            executors = await lists.executors_of(self._db, [job_id])
        return job_from_doc(doc, executors.get(job_id, []), lists.last_run(doc))

    async def list_jobs(self, *, app_name: str | None = None) -> list[Job]:
        """All jobs (of one AppName), oldest first, with their executors."""
        query = {} if app_name is None else {"app_name": app_name}
        with self._errors():
            docs = await self._col("jobs").find(query, _NO_ID).sort(_JOB_ORDER).to_list()
            if app_name is None:
                executors = await lists.all_executors(self._db)
            else:
                executors = await lists.executors_of(self._db, [d["job_id"] for d in docs])
        return [job_from_doc(d, executors.get(d["job_id"], []), lists.last_run(d)) for d in docs]

    async def find_jobs(self, query: JobQuery) -> Page[Job]:
        """A page of the jobs matching `query` (filtered, ordered, paged and counted by the server)."""
        with self._errors():
            docs, total = await lists.find_jobs(self._db, query)
            executors = await lists.executors_of(self._db, [d["job_id"] for d in docs])
        return Page([job_from_doc(d, executors.get(d["job_id"], []), lists.last_run(d)) for d in docs], total)

    async def update_job(self, job: Job, *, audit: AuditEntry | None = None) -> None:
        """Replace a job's definition (not its executions, nor its LastRun)."""
        outcome: list[Any] = []

        async def update() -> None:
            with self._errors(_name_taken(job)):
                outcome.append(await self._col("jobs").update_one({"job_id": job.job_id}, {"$set": job_to_doc(job)}))
            if outcome[0].matched_count == 0:
                raise _job_not_found(job.job_id)

        await self._audited(audit, update)

    async def _in_transaction(self, writes: Callable[[Any], Awaitable[None]]) -> None:
        """Run `writes(session)` in one transaction (retried on transient errors) or, without them, as is."""
        if not self.transactions:
            await writes(None)
            return
        with operation_timeout(_TRANSACTION_TIMEOUT_S):
            async with self._client.start_session() as session:
                await session.with_transaction(writes)

    async def delete_job(self, job_id: str, *, audit: AuditEntry | None = None) -> None:
        """Remove a job's output, then its results, executions and the job (in one transaction where possible)."""
        await self._audited(audit, lambda: self._delete_job(job_id))

    async def _delete_job(self, job_id: str) -> None:
        query = {"job_id": job_id}

        async def delete(session: Any) -> None:
            for name in ("fires", "schedules", "follow_ups", "results", "executions", "jobs"):
                await self._col(name).delete_many(query, session=session)

        # children first: an interrupted delete leaves the job visible, so deleting it again finishes the
        # work and nothing is left that no job owns; the output (the bulk) stays out of the transaction
        with self._errors():
            if await self._col("jobs").find_one(query, {"_id": True}) is None:
                raise _job_not_found(job_id)
            await self._col("output").delete_many(query)
            await self._in_transaction(delete)

    # -- executions and results ---------------------------------------------------------------------

    async def create_execution(
        self, execution: Execution, results: list[ContainerResult], *, audit: AuditEntry | None = None
    ) -> None:
        """Insert an execution and its initial results (all or none, with the audit entry); it is its job's LastRun."""

        async def insert() -> None:
            await self._insert_execution(execution, results)
            last_run = lists.last_run_doc(execution.executor_id, execution.created_at, "running", None)
            with self._errors():
                await self._col("jobs").update_one({"job_id": execution.job_id}, {"$set": {"last_run": last_run}})

        await self._audited(audit, insert)

    async def _insert_execution(self, execution: Execution, results: list[ContainerResult]) -> None:
        taken = Conflict(execution.executor_id, error_id="executor_id_taken")

        async def insert(session: Any) -> None:
            await self._col("executions").insert_one(_running(execution), session=session)
            if results:
                await self._col("results").insert_many([result_to_doc(r) for r in results], session=session)

        if self.transactions:
            with self._errors(taken):
                await self._in_transaction(insert)
            return
        with self._errors(taken):
            execution_doc = {"_id": ObjectId(), **_running(execution)}
            await self._col("executions").insert_one(execution_doc)
        if results:
            await self._insert_results_or_undo(execution_doc["_id"], results, taken)

    async def _insert_results_or_undo(
        self, execution_oid: ObjectId, results: list[ContainerResult], taken: Conflict
    ) -> None:
        """Insert the results; if that fails (maybe part-way), remove what this call inserted and raise."""
        docs = [{"_id": ObjectId(), **result_to_doc(r)} for r in results]
        try:
            with self._errors(taken):
                await self._col("results").insert_many(docs)
        except DceJobsError:
            # by _id: exactly the documents of this call, never an older one that clashed with them
            with self._errors():
                await self._col("results").delete_many({"_id": {"$in": [d["_id"] for d in docs]}})
                await self._col("executions").delete_one({"_id": execution_oid})
            raise

    async def find_executions(self, query: ExecutionQuery) -> Page[ExecutionEntry]:
        """A page of the executions matching `query`, newest first (filtered, paged and counted by the server)."""
        with self._errors():
            return await lists.find_executions(self._db, query)

    async def add_audit(self, entry: AuditEntry) -> None:
        """Append one entry to the audit trail."""
        with self._errors():
            await self._col("audit").insert_one(audit_to_doc(entry))

    async def find_audit(self, query: AuditQuery) -> Page[AuditEntry]:
        """A page of the audit trail, newest first."""
        with self._errors():
            return await lists.find_audit(self._db, query)

    async def get_execution(self, job_id: str, executor_id: str) -> Execution:
        """One execution (NotFound `executor_id_not_found`)."""
        with self._errors():
            doc = await self._col("executions").find_one({"job_id": job_id, "executor_id": executor_id}, _NO_ID)
        if doc is None:
            raise NotFound(executor_id, error_id="executor_id_not_found")
        return execution_from_doc(doc)

    async def list_results(self, job_id: str, executor_id: str) -> list[ContainerResult]:
        """The results of one execution, in target order."""
        query = {"job_id": job_id, "executor_id": executor_id}
        with self._errors():
            docs = await self._col("results").find(query, _NO_ID).sort("index", ASCENDING).to_list()
        return [result_from_doc(d) for d in docs]

    async def end_execution(
        self, execution: Execution, *, state: str, ended_at: float, counts: Mapping[str, int] | None = None
    ) -> None:
        """Record how an execution ended (state, end, duration, counts), also as its job's LastRun if the newest.

        One transaction where the server has them; the execution's `hour` (statistics) stays as inserted.
        """
        key = {"job_id": execution.job_id, "executor_id": execution.executor_id}
        fields = {
            "state": state,
            "ended_at": ended_at,
            "duration_s": max(0.0, ended_at - execution.created_at),
            "counts": None if counts is None else dict(counts),
        }
        last_run = lists.last_run_doc(execution.executor_id, execution.created_at, state, ended_at)
        newest = {"job_id": execution.job_id, "last_run.executor_id": execution.executor_id}

        async def update(session: Any) -> None:
            await self._col("executions").update_one(key, {"$set": fields}, session=session)
            await self._col("jobs").update_one(newest, {"$set": {"last_run": last_run}}, session=session)

        with self._errors():
            await self._in_transaction(update)

    async def execution_stats(self, query: StatsQuery) -> ExecutionStats:
        """Executions per (UTC hour, state) by one aggregation, duration percentiles by sorted index reads."""
        match: dict[str, Any] = {"created_at": {"$gte": query.since_s, "$lt": query.until_s}}
        with self._errors():
            # AppName: the one the job had when the execution started (as GET /api/executors filters)
            if query.app_name is not None:
                match["app_name"] = query.app_name
            if query.job_id is not None:
                match["job_id"] = query.job_id
            per_hour = await self._per_hour(match)
            ended = {**match, "duration_s": {"$type": "number"}}
            count = await self._col("executions").count_documents(ended)
            durations: dict[int, float] = {}
            for p in PERCENTILES if count else ():
                cursor = self._col("executions").find(ended, {"_id": False, "duration_s": True})
                docs = await cursor.sort("duration_s", ASCENDING).skip(nearest_rank(count, p)).limit(1).to_list()
                durations[p] = float(docs[0]["duration_s"])
        return ExecutionStats(per_hour, count, durations)

    async def _per_hour(self, match: dict[str, Any]) -> dict[tuple[int, str], int]:
        # one grouping on the stored hour per state: a compound group key (or $facet) would do on MongoDB,
        # but not correctly on every wire server the store is tested against
        known = [s for s in STATES if s != "unknown"]
        per_hour: dict[tuple[int, str], int] = {}
        for state in STATES:
            which = {"$nin": known} if state == "unknown" else state
            pipeline = [{"$match": {**match, "state": which}}, {"$group": {"_id": "$hour", "n": {"$sum": 1}}}]
            for group in await (await self._col("executions").aggregate(pipeline)).to_list():
                per_hour[(int(group["_id"]), state)] = int(group["n"])
        return per_hour

    async def save_result(self, result: ContainerResult) -> None:
        """Write one result (keyed by job, executor and index)."""
        with self._errors():
            await self._col("results").replace_one(_result_key(result), result_to_doc(result), upsert=True)

    async def list_unfinished_results(self, *, job_id: str | None = None) -> list[ContainerResult]:
        """Every result not in a final status, across all jobs or of one (for recovery and Skip)."""
        # $in on the open statuses (not $nin on the final ones) so the status index bounds the scan
        query: dict[str, Any] = {"status": {"$in": _UNFINISHED}}
        if job_id is not None:
            query["job_id"] = job_id
        with self._errors():
            docs = await self._col("results").find(query, _NO_ID).sort(_RESULT_KEY).to_list()
        return [result_from_doc(d) for d in docs]

    # -- output -------------------------------------------------------------------------------------

    async def append_output(
        self, result: ContainerResult, seq: int, data: bytes, *, streams: Sequence[tuple[int, int]] = ()
    ) -> None:
        """Store output chunk number `seq` of one target (writing the same seq again replaces it)."""
        chunk = OutputChunk(result.job_id, result.executor_id, result.index, seq, data, tuple(streams))
        with self._errors():
            await self._col("output").update_one(*_chunk_upsert(chunk), upsert=True)

    async def write_batch(self, chunks: Sequence[OutputChunk], results: Sequence[ContainerResult]) -> None:
        """Store output chunks, then results, each kind in one ordered bulk write (upserts: a retry replaces)."""
        with self._errors():
            if chunks:
                await self._col("output").bulk_write([UpdateOne(*_chunk_upsert(c), upsert=True) for c in chunks])
            if results:
                writes = [ReplaceOne(_result_key(r), result_to_doc(r), upsert=True) for r in results]
                await self._col("results").bulk_write(writes)

    async def iter_output(
        self, job_id: str, executor_id: str, index: int, *, stream: int | None = None
    ) -> AsyncIterator[bytes]:
        """Yield one target's stored output in order (only `stream`'s bytes when given), a few chunks at a time."""
        # one short query per batch (keyed on seq) rather than one cursor: a slow reader cannot
        # outlive the server's idle-cursor timeout
        last_seq: int | None = None
        while True:
            batch = await self._output_batch(job_id, executor_id, index, after_seq=last_seq)
            for doc in batch:
                last_seq = doc["seq"]
                chunk = bytes(doc["data"])
                if stream is not None:
                    chunk = pick_stream(chunk, [tuple(run) for run in doc.get("streams") or ()], stream)
                if chunk:
                    yield chunk
            if len(batch) < _BATCH_CHUNKS:
                return

    async def iter_chunks(
        self, job_id: str, executor_id: str, index: int, *, after_seq: int = -1
    ) -> AsyncGenerator[tuple[int, bytes, tuple[tuple[int, int], ...]], None]:
        """Yield (seq, data, runs) of the chunks after `after_seq`, a few at a time."""
        last_seq = after_seq
        while True:
            batch = await self._output_batch(job_id, executor_id, index, after_seq=last_seq)
            for doc in batch:
                last_seq = doc["seq"]
                chunk = bytes(doc["data"])
                yield last_seq, chunk, chunk_runs(chunk, doc.get("streams"))
            if len(batch) < _BATCH_CHUNKS:
                return

    async def tail_outputs(
        self, job_id: str, executor_id: str, indexes: Sequence[int], *, max_bytes: int
    ) -> dict[int, tuple[bytes, bool]]:
        """The last `max_bytes` of several targets' output (and whether earlier bytes were left out).

        Two queries per _TAILS_PER_QUERY targets rather than one per target: the chunks' sizes, then the chunks
        each tail reaches. Targets with chunks stored before sizes were kept are read one by one.
        """
        wanted = set(indexes)
        key = {"job_id": job_id, "executor_id": executor_id}
        sizes: dict[int, list[tuple[int, int]]] = {}
        unsized: set[int] = set()
        with self._errors():
            cursor = self._col("output").find(key, {"_id": False, "index": True, "seq": True, "size": True})
            async for doc in cursor.sort([("index", ASCENDING), ("seq", ASCENDING)]):
                index = int(doc["index"])
                if index in wanted and doc.get("size") is None:
                    unsized.add(index)
                elif index in wanted:
                    sizes.setdefault(index, []).append((int(doc["seq"]), int(doc["size"])))
            starts = list(tail_starts({i: c for i, c in sizes.items() if i not in unsized}, max_bytes).items())
            parts: dict[int, list[tuple[int, bytes]]] = {}
            for first in range(0, len(starts), _TAILS_PER_QUERY):
                some = [{"index": i, "seq": {"$gte": seq}} for i, seq in starts[first : first + _TAILS_PER_QUERY]]
                query = {**key, "$or": some} if len(some) > 1 else {**key, **some[0]}
                async for doc in self._col("output").find(
                    query, {"_id": False, "index": True, "seq": True, "data": True}
                ):
                    parts.setdefault(int(doc["index"]), []).append((int(doc["seq"]), bytes(doc["data"])))
        tails = {i: (b"", False) for i in wanted}
        for index, chunks in parts.items():
            tails[index] = tail_of(chunks, sum(size for _, size in sizes[index]), max_bytes)
        for index in unsized:
            tails[index] = await self.tail_output(job_id, executor_id, index, max_bytes=max_bytes)
        return tails

    async def read_output_range(
        self, job_id: str, executor_id: str, index: int, *, wanted: ByteRange, stream: int | None = None
    ) -> OutputRange:
        """A byte range of one target's output (in `stream`'s bytes when given), reading only its chunks."""
        key = _chunk_key(job_id, executor_id, index)
        with self._errors():
            sizes = [_chunk_size(doc) for doc in await self._chunk_sizes(key)]
            seqs, first_offset, start, stop = plan(sizes, wanted, stream)
            docs = []
            if seqs:
                query = {**key, "seq": {"$gte": seqs[0], "$lte": seqs[-1]}}
                projection = {"_id": False, "seq": True, "data": True, "streams": True}
                docs = await self._col("output").find(query, projection).sort("seq", ASCENDING).to_list()
        chunks = [(bytes(d["data"]), _stored_runs(d)) for d in docs if d["seq"] in set(seqs)]
        total = sum(c.size_of(stream) for c in sizes)
        return OutputRange(cut(chunks, first_offset, start, stop, stream), start, total)

    async def _chunk_sizes(self, key: dict[str, Any]) -> list[dict[str, Any]]:
        """Each chunk's seq, size and runs; the data only of chunks stored before their size was kept."""
        projection = {"_id": False, "seq": True, "size": True, "streams": True}
        docs: list[dict[str, Any]] = await self._col("output").find(key, projection).sort("seq", ASCENDING).to_list()
        for doc in docs:
            if doc.get("size") is None:
                old = await self._col("output").find_one({**key, "seq": doc["seq"]}, {"_id": False, "data": True})
                doc["size"] = len(old["data"]) if old else 0
        return docs

    async def _output_batch(
        self, job_id: str, executor_id: str, index: int, *, after_seq: int | None
    ) -> list[dict[str, Any]]:
        query = _chunk_key(job_id, executor_id, index)
        if after_seq is not None:
            query["seq"] = {"$gt": after_seq}
        projection = {"_id": False, "seq": True, "data": True, "streams": True}
        with self._errors():
            cursor = self._col("output").find(query, projection).sort("seq", ASCENDING).limit(_BATCH_CHUNKS)
            batch: list[dict[str, Any]] = await cursor.to_list()
        return batch

    async def tail_output(self, job_id: str, executor_id: str, index: int, *, max_bytes: int) -> tuple[bytes, bool]:
        """The last `max_bytes` of one target's output, and whether earlier bytes were left out."""
        parts = await self._chunks_from_end(job_id, executor_id, index, more_than=max_bytes)
        data = b"".join(reversed(parts))
        if len(data) <= max_bytes:
            return data, False
        return data[len(data) - max_bytes :], True

    async def _chunks_from_end(self, job_id: str, executor_id: str, index: int, *, more_than: int) -> list[bytes]:
        """Chunks newest first until their size passes `more_than` (or the output ends)."""
        parts: list[bytes] = []
        size = 0
        projection = {"_id": False, "data": True}
        with self._errors():
            cursor = self._col("output").find(_chunk_key(job_id, executor_id, index), projection)
            cursor = cursor.sort("seq", DESCENDING).batch_size(_BATCH_CHUNKS)
            try:
                async for doc in cursor:
                    parts.append(bytes(doc["data"]))
                    size += len(parts[-1])
                    if size > more_than:
                        break
            finally:
                await cursor.close()
        return parts

    # -- executions after the fact and their follow-ups ----------------------------------------------

    async def update_execution(self, execution: Execution) -> None:
        """Rewrite an execution's record (its results stay, and so do the statistics fields kept beside it)."""
        key = {"job_id": execution.job_id, "executor_id": execution.executor_id}
        with self._errors():
            outcome = await self._col("executions").update_one(key, {"$set": execution_to_doc(execution)})
        if outcome.matched_count == 0:
            raise NotFound(execution.executor_id, error_id="executor_id_not_found")

    async def delete_execution(self, job_id: str, executor_id: str) -> None:
        """Remove one execution: its output first, then its follow-ups, results and the execution itself.

        Its audit entries stay; a job whose LastRun it was gets its newest remaining execution (or none).
        """
        # as delete_job: children first, so an interrupted sweep leaves the execution to be swept again
        query = {"job_id": job_id, "executor_id": executor_id}

        async def delete(session: Any) -> None:
            for name in ("follow_ups", "results", "executions"):
                await self._col(name).delete_many(query, session=session)
            await lists.forget_last_run(self._db, job_id, executor_id, session=session)

        with self._errors():
            await self._col("output").delete_many(query)
            await self._in_transaction(delete)

    async def reclaim_space(self) -> None:
        """Nothing to do: the server reuses the space of removed documents."""

    async def save_follow_up(self, task: FollowUp) -> None:
        """Insert or replace a follow-up task (keyed by its task_id)."""
        with self._errors():
            await self._col("follow_ups").replace_one({"task_id": task.task_id}, follow_up_to_doc(task), upsert=True)

    async def list_pending_follow_ups(self) -> list[FollowUp]:
        """Every pending follow-up, soonest due first."""
        order = [("due_at", ASCENDING), ("task_id", ASCENDING)]
        with self._errors():
            docs = await self._col("follow_ups").find({"state": TaskState.PENDING.value}, _NO_ID).sort(order).to_list()
        return [follow_up_from_doc(d) for d in docs]

    async def claim_follow_up(self, task_id: str, *, now: float, until: float) -> bool:
        """Take a pending follow-up unless another process holds it past `now` (one conditional update)."""
        query = {"task_id": task_id, "state": TaskState.PENDING.value, "claim_until": {"$lte": now}}
        with self._errors():
            outcome = await self._col("follow_ups").update_one(query, {"$set": {"claim_until": until}})
        return bool(outcome.modified_count == 1)

    async def list_follow_ups(self, job_id: str, executor_id: str) -> list[FollowUp]:
        """The follow-ups of one execution, oldest first."""
        order = [("created_at", ASCENDING), ("task_id", ASCENDING)]
        query = {"job_id": job_id, "executor_id": executor_id}
        with self._errors():
            docs = await self._col("follow_ups").find(query, _NO_ID).sort(order).to_list()
        return [follow_up_from_doc(d) for d in docs]


def _running(execution: Execution) -> dict[str, Any]:
    """A new execution's document: running until end_execution says how it ended."""
    return {**_execution_doc(execution), "ended_at": None, "counts": None}
