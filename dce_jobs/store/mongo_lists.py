"""The MongoDB side of the lists (jobs, execution histories, audit): queries the indexes serve, server-side paging."""

from __future__ import annotations

import re
from typing import Any

from pymongo import ASCENDING, DESCENDING

from ..models import AuditEntry, ExecutionEntry, LastRun, summarize
from ..queries import AuditQuery, ExecutionQuery, JobQuery, Page, TimeRange, Window
from .base import audit_from_doc, entry_from_doc, last_run_from, result_from_doc, summary_to_doc

_NEWEST = [("created_at", DESCENDING), ("executor_id", DESCENDING)]
#: job ids per $in when the executors of many jobs are read (never one query naming every job)
_IDS_PER_QUERY = 500

#: JobQuery.sort values stored under another name in a job document
_SORT_FIELDS = {"last_started_at": "last_run.started_at"}

# (collection, keys, unique): each list's filter + order has an index that serves it
INDEXES: tuple[tuple[str, list[tuple[str, int]], bool], ...] = (
    ("jobs", [("created_at", ASCENDING), ("job_id", ASCENDING)], False),
    ("jobs", [("updated_at", ASCENDING), ("job_id", ASCENDING)], False),
    ("jobs", [("name_fold", ASCENDING), ("job_id", ASCENDING)], False),
    ("jobs", [("app_name", ASCENDING), ("created_at", ASCENDING), ("job_id", ASCENDING)], False),
    ("jobs", [("last_run.state", ASCENDING), ("created_at", ASCENDING)], False),
    ("jobs", [("last_run.started_at", ASCENDING), ("job_id", ASCENDING)], False),
    ("executions", [("job_id", ASCENDING), ("created_at", ASCENDING), ("executor_id", ASCENDING)], False),
    ("executions", [("created_at", ASCENDING), ("executor_id", ASCENDING)], False),
    ("executions", [("app_name", ASCENDING), ("created_at", ASCENDING), ("executor_id", ASCENDING)], False),
    ("executions", [("state", ASCENDING), ("created_at", ASCENDING), ("executor_id", ASCENDING)], False),
    ("audit", [("at", DESCENDING)], False),
    ("audit", [("job_id", ASCENDING), ("at", DESCENDING)], False),
    ("audit", [("user", ASCENDING), ("at", DESCENDING)], False),
)


def last_run(doc: dict[str, Any]) -> LastRun | None:
    """The LastRun kept in a job document (None: never ran)."""
    run = doc.get("last_run") or {}
    return last_run_from(run.get("executor_id"), run.get("state"), run.get("ended_at"))


def last_run_doc(executor_id: str, started_at: float, state: str, ended_at: float | None) -> dict[str, Any]:
    """A job's `last_run` field: its newest execution, with the start the LastRunTime order sorts on."""
    return {"executor_id": executor_id, "started_at": started_at, "state": state, "ended_at": ended_at}


def _within(query: dict[str, Any], field: str, span: TimeRange) -> None:
    bounds = {}
    if span.after is not None:
        bounds["$gte"] = span.after
    if span.before is not None:
        bounds["$lte"] = span.before
    if bounds:
        query[field] = bounds


def _equal(query: dict[str, Any], field: str, value: str | None) -> None:
    if value is not None:
        query[field] = value


async def _page(collection: Any, query: dict[str, Any], order: list[tuple[str, int]], window: Window) -> Any:
    cursor = collection.find(query, {"_id": False} if collection.name != "audit" else None).sort(order)
    if window.size is not None:
        cursor = cursor.skip(window.offset).limit(window.size)
    docs = await cursor.to_list()
    return docs, await collection.count_documents(query)


async def find_jobs(db: Any, query: JobQuery) -> tuple[list[dict[str, Any]], int]:
    """The job documents of one page of `query`, and how many match."""
    where: dict[str, Any] = {}
    _equal(where, "app_name", query.app_name)
    _equal(where, "service_name", query.service_name)
    if query.name_part:
        where["name_fold"] = {"$regex": re.escape(query.name_part)}  # escaped: a plain substring
    _within(where, "created_at", query.created)
    _within(where, "updated_at", query.updated)
    if query.last_state == "never":
        where["last_run"] = None  # also matches documents without the field
    elif query.last_state is not None:
        where["last_run.state"] = query.last_state
    direction = DESCENDING if query.descending else ASCENDING
    # a job that never ran has no last_run.started_at, which MongoDB orders before every number (as SQLite NULL)
    order = [(_SORT_FIELDS.get(query.sort, query.sort), direction), ("job_id", direction)]
    docs, total = await _page(db["jobs"], where, order, query.window)
    return docs, int(total)


async def executors_of(db: Any, job_ids: list[str]) -> dict[str, list[str]]:
    """Executor ids per job, oldest first, a bounded number of job ids per query."""
    grouped: dict[str, list[str]] = {}
    for start in range(0, len(job_ids), _IDS_PER_QUERY):
        some = job_ids[start : start + _IDS_PER_QUERY]
        await _group(db, {"job_id": {"$in": some}} if len(some) > 1 else {"job_id": some[0]}, grouped)
    return grouped


async def all_executors(db: Any) -> dict[str, list[str]]:
    """Executor ids of every job, oldest first, in one pass over the (job_id, created_at, executor_id) index."""
    grouped: dict[str, list[str]] = {}
    await _group(db, {}, grouped)
    return grouped


async def _group(db: Any, query: dict[str, Any], grouped: dict[str, list[str]]) -> None:
    projection = {"_id": False, "job_id": True, "executor_id": True}
    order = [("job_id", ASCENDING), ("created_at", ASCENDING), ("executor_id", ASCENDING)]
    async for doc in db["executions"].find(query, projection).sort(order).batch_size(10_000):
        grouped.setdefault(doc["job_id"], []).append(doc["executor_id"])


async def find_executions(db: Any, query: ExecutionQuery) -> Page[ExecutionEntry]:
    """One page of executions, newest first, and how many match."""
    where: dict[str, Any] = {}
    _equal(where, "job_id", query.job_id)
    _equal(where, "app_name", query.app_name)
    _equal(where, "service_name", query.service_name)
    _equal(where, "state", query.state)
    _within(where, "created_at", query.created)
    docs, total = await _page(db["executions"], where, _NEWEST, query.window)
    names = await _job_names(db, [d["job_id"] for d in docs])
    return Page([entry_from_doc(d, d, job_name=names.get(d["job_id"])) for d in docs], int(total))


async def _job_names(db: Any, job_ids: list[str]) -> dict[str, str]:
    """The current names of the jobs of one page (a job no longer there has none), only those ids asked for."""
    distinct = sorted(set(job_ids))
    names: dict[str, str] = {}
    projection = {"_id": False, "job_id": True, "name": True}
    for start in range(0, len(distinct), _IDS_PER_QUERY):  # one query for a page of the API (at most 500 entries)
        some = distinct[start : start + _IDS_PER_QUERY]
        query = {"job_id": {"$in": some}} if len(some) > 1 else {"job_id": some[0]}
        names.update({doc["job_id"]: doc["name"] async for doc in db["jobs"].find(query, projection)})
    return names


async def find_audit(db: Any, query: AuditQuery) -> Page[AuditEntry]:
    """One page of the audit trail, newest first, and how many match."""
    where: dict[str, Any] = {}
    _equal(where, "job_id", query.job_id)
    _equal(where, "user", query.user)
    _equal(where, "action", query.action)
    _within(where, "at", query.at)
    docs, total = await _page(db["audit"], where, [("at", DESCENDING), ("_id", DESCENDING)], query.window)
    return Page([audit_from_doc(d, str(d["_id"])) for d in docs], int(total))


async def upgrade_old_records(db: Any) -> None:
    """Give records of older versions what the lists need (once: the fields stay set afterwards)."""
    async for doc in db["jobs"].find({"name_fold": {"$exists": False}}, {"job_id": True, "name": True}):
        newest = await db["executions"].find_one(
            {"job_id": doc["job_id"]}, {"_id": False, "executor_id": True, "created_at": True}, sort=_NEWEST
        )
        fields: dict[str, Any] = {"name_fold": doc["name"].casefold()}
        if newest is not None:
            fields["last_run"] = last_run_doc(newest["executor_id"], newest["created_at"], "running", None)
        await db["jobs"].update_one({"_id": doc["_id"]}, {"$set": fields})
    # app_name is the lists' own field: documents of the statistics' version have a state (and an end) already
    async for doc in db["executions"].find({"app_name": {"$exists": False}}):
        key = {"job_id": doc["job_id"], "executor_id": doc["executor_id"]}
        results = [result_from_doc(r) async for r in db["results"].find(key, {"_id": False})]
        final = summary_to_doc(summarize(results))
        if final["state"] in ("running", "paused"):
            final = {"state": "running", "ended_at": None, "counts": None}
        if doc.get("state") not in (None, "running"):
            final = {**final, "state": doc["state"], "ended_at": doc.get("ended_at", final["ended_at"])}
        job = await db["jobs"].find_one({"job_id": doc["job_id"]}, {"app_name": True, "service_name": True}) or {}
        fields = {
            **final,
            "app_name": job.get("app_name", ""),
            "service_name": job.get("service_name", ""),
            "trigger": _old_trigger(doc),
        }
        if final["ended_at"] is not None and doc.get("duration_s") is None:
            fields["duration_s"] = max(0.0, float(final["ended_at"]) - float(doc["created_at"]))
        await db["executions"].update_one({"_id": doc["_id"]}, {"$set": fields})
        await db["jobs"].update_one(
            {"job_id": doc["job_id"], "last_run.executor_id": doc["executor_id"]},
            {"$set": {"last_run.state": final["state"], "last_run.ended_at": final["ended_at"]}},
        )


async def add_last_run_starts(db: Any) -> None:
    """Give each job's last_run the start of that execution where an older version did not keep it.

    Idempotent and bounded: only jobs with a last_run and no started_at are read (none once done), a batch at a time.
    """
    query = {"last_run": {"$ne": None}, "last_run.started_at": {"$exists": False}}
    while True:
        cursor = db["jobs"].find(query, {"_id": True, "job_id": True, "last_run": True}).limit(_IDS_PER_QUERY)
        docs = await cursor.to_list()
        for doc in docs:
            run = doc["last_run"]
            execution = await db["executions"].find_one(
                {"job_id": doc["job_id"], "executor_id": run["executor_id"]}, {"_id": False, "created_at": True}
            )
            # a last_run whose execution is gone (cannot happen but in a damaged database) sorts as never run
            started = execution["created_at"] if execution is not None else None
            await db["jobs"].update_one({"_id": doc["_id"]}, {"$set": {"last_run.started_at": started}})
        if len(docs) < _IDS_PER_QUERY:
            return


async def fill_execution_apps(db: Any) -> None:
    """Executions stored without their AppName ('') get their job's, the jobs of a bounded batch at a time.

    Idempotent, and one indexed lookup when there is none left; an execution whose job is gone keeps ''.
    """
    unnamed: dict[str, Any] = {"app_name": {"$in": ["", None]}}
    after = ""
    while True:
        cursor = db["executions"].find({**unnamed, "job_id": {"$gt": after}}, {"_id": False, "job_id": True})
        job_ids = sorted(
            {doc["job_id"] for doc in await cursor.sort("job_id", ASCENDING).limit(_IDS_PER_QUERY).to_list()}
        )
        if not job_ids:
            return
        query = {"job_id": {"$in": job_ids}} if len(job_ids) > 1 else {"job_id": job_ids[0]}
        async for job in db["jobs"].find(query, {"_id": False, "job_id": True, "app_name": True}):
            await db["executions"].update_many(
                {**unnamed, "job_id": job["job_id"]}, {"$set": {"app_name": job["app_name"]}}
            )
        after = job_ids[-1]


def _old_trigger(doc: dict[str, Any]) -> str:
    return "retry" if doc.get("retry_of") else "schedule" if doc.get("schedule_id") else "manual"


async def forget_last_run(db: Any, job_id: str, executor_id: str, session: Any = None) -> None:
    """After `executor_id` was removed: if it was its job's LastRun, the newest remaining execution is (or none)."""
    newest = await db["executions"].find_one(
        {"job_id": job_id},
        {"_id": False, "executor_id": True, "created_at": True, "state": True, "ended_at": True},
        sort=_NEWEST,
        session=session,
    )
    last_run = None
    if newest is not None:
        last_run = last_run_doc(
            newest["executor_id"], newest["created_at"], newest.get("state") or "running", newest.get("ended_at")
        )
    await db["jobs"].update_one(
        {"job_id": job_id, "last_run.executor_id": executor_id}, {"$set": {"last_run": last_run}}, session=session
    )
