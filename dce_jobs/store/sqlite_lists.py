"""The SQL of the lists (jobs, execution histories, audit): filters, order, page and total in the database."""

from __future__ import annotations

import json
import sqlite3
from typing import Any

from ..models import AuditEntry, ExecutionEntry, Job
from ..queries import AuditQuery, ExecutionQuery, JobQuery, Page, TimeRange, Window
from .base import audit_from_doc, audit_to_doc, entry_from_doc, job_from_doc, last_run_from

_JOB_COLUMNS = "job_id, doc, last_executor_id, last_state, last_ended_at"
_ENTRY_COLUMNS = "doc, state, ended_at, counts"


class _Where:
    """WHERE clauses with their parameters (values always bound, never spliced into the SQL)."""

    def __init__(self) -> None:
        self.clauses: list[str] = []
        self.params: list[Any] = []

    def add(self, clause: str, *params: Any) -> None:
        self.clauses.append(clause)
        self.params.extend(params)

    def equal(self, column: str, value: str | None) -> None:
        if value is not None:
            self.add(f"{column} = ?", value)

    def within(self, column: str, span: TimeRange) -> None:
        if span.after is not None:
            self.add(f"{column} >= ?", span.after)
        if span.before is not None:
            self.add(f"{column} <= ?", span.before)

    def sql(self) -> str:
        return f"WHERE {' AND '.join(self.clauses)}" if self.clauses else ""


def _limit(window: Window) -> str:
    return "" if window.size is None else f" LIMIT {int(window.size)} OFFSET {int(window.offset)}"


def _count(db: sqlite3.Connection, table: str, where: _Where) -> int:
    return int(db.execute(f"SELECT count(*) FROM {table} {where.sql()}", where.params).fetchone()[0])


def all_jobs(db: sqlite3.Connection, app_name: str | None, decoded: DecodedJobs) -> list[Job]:
    """Every job (of one app), oldest first, with its executor ids (the seed's list)."""
    where = _Where()
    where.equal("app_name", app_name)
    rows = db.execute(f"SELECT {_JOB_COLUMNS} FROM jobs {where.sql()} ORDER BY created_at, job_id", where.params)
    jobs = rows.fetchall()
    # walking executions_job groups each job's executors in (created_at, executor_id) order, with no sort
    inner = "" if app_name is None else " WHERE job_id IN (SELECT job_id FROM jobs WHERE app_name = ?)"
    grouped = db.execute(
        f"SELECT job_id, group_concat(executor_id) FROM executions INDEXED BY executions_job{inner} GROUP BY job_id",
        where.params,
    )
    executors = {job_id: ids.split(",") for job_id, ids in grouped}
    return [decoded.job(row, executors.get(row[0], [])) for row in jobs]


class DecodedJobs:
    """Jobs decoded from their stored document, by its text (the same text always decodes to the same job).

    The lists read the same jobs again and again, and decoding a document costs more than all the rest a list does
    with a job. At most MAX_JOBS are kept, and documents of MAX_CHARS in all (a job may hold hundreds of KiB of Env
    and Cmd); past either the memo starts again.
    """

    MAX_JOBS = 16_384
    MAX_CHARS = 64 * 2**20

    def __init__(self) -> None:
        self._jobs: dict[str, Job] = {}
        self._chars = 0

    def job(self, row: tuple[Any, ...], executors: list[str]) -> Job:
        """The job of a row of _JOB_COLUMNS with its executors."""
        _, doc, last_id, last_state, last_end = row
        decoded = self._jobs.get(doc)
        if decoded is None:
            if len(self._jobs) >= self.MAX_JOBS or self._chars + len(doc) > self.MAX_CHARS:
                self._jobs.clear()
                self._chars = 0
            decoded = self._jobs[doc] = job_from_doc(json.loads(doc), [])
            self._chars += len(doc)
        return decoded.with_runs(tuple(executors), last_run_from(last_id, last_state, last_end))


def executors_of(db: sqlite3.Connection, job_ids: list[str]) -> dict[str, list[str]]:
    """Executor ids per job, oldest first, for a page of jobs (one joined string a job, in executions_job order)."""
    grouped: dict[str, list[str]] = {job_id: [] for job_id in job_ids}
    if not job_ids:
        return grouped
    marks = ",".join("?" * len(job_ids))
    sql = "SELECT job_id, group_concat(executor_id) FROM executions INDEXED BY executions_job"
    for job_id, ids in db.execute(f"{sql} WHERE job_id IN ({marks}) GROUP BY job_id", job_ids):
        grouped[job_id] = ids.split(",")
    return grouped


def find_jobs(db: sqlite3.Connection, query: JobQuery, decoded: DecodedJobs) -> Page[Job]:
    """A page of the jobs matching `query` and their total."""
    where = _Where()
    where.equal("app_name", query.app_name)
    where.equal("service_name", query.service_name)
    if query.name_part:
        where.add("instr(name_fold, ?) > 0", query.name_part)  # a plain substring: no LIKE wildcards
    where.within("created_at", query.created)
    where.within("updated_at", query.updated)
    if query.last_state == "never":
        where.add("last_executor_id IS NULL")
    elif query.last_state is not None:
        where.equal("last_state", query.last_state)
    direction = "DESC" if query.descending else "ASC"
    order = f"ORDER BY {query.sort} {direction}, job_id {direction}"  # sort: a whitelisted column name
    rows = db.execute(
        f"SELECT {_JOB_COLUMNS} FROM jobs {where.sql()} {order}{_limit(query.window)}", where.params
    ).fetchall()
    executors = executors_of(db, [row[0] for row in rows])
    return Page([decoded.job(row, executors[row[0]]) for row in rows], _count(db, "jobs", where))


def find_executions(db: sqlite3.Connection, query: ExecutionQuery) -> Page[ExecutionEntry]:
    """A page of the executions matching `query`, newest first, and their total."""
    where = _Where()
    where.equal("job_id", query.job_id)
    where.equal("app_name", query.app_name)
    where.equal("service_name", query.service_name)
    where.equal("state", query.state)
    where.within("created_at", query.created)
    # the page is cut first (walking an executions index), then only its rows look their job's current name up
    # by the jobs primary key: joined before the cut, every row skipped by OFFSET would be looked up too
    page = (
        f"SELECT job_id, executor_id, created_at, {_ENTRY_COLUMNS} FROM executions {where.sql()}"
        f" ORDER BY created_at DESC, executor_id DESC{_limit(query.window)}"
    )
    rows = db.execute(
        f"SELECT p.doc, p.state, p.ended_at, p.counts, j.name FROM ({page}) p LEFT JOIN jobs j ON j.job_id = p.job_id"
        " ORDER BY p.created_at DESC, p.executor_id DESC",
        where.params,
    ).fetchall()
    entries = [
        entry_from_doc(
            json.loads(doc),
            {"state": state, "ended_at": ended_at, "counts": json.loads(counts) if counts else None},
            job_name=name,
        )
        for doc, state, ended_at, counts, name in rows
    ]
    return Page(entries, _count(db, "executions", where))


def find_audit(db: sqlite3.Connection, query: AuditQuery) -> Page[AuditEntry]:
    """A page of the audit entries matching `query`, newest first, and their total."""
    where = _Where()
    where.equal("job_id", query.job_id)
    where.equal("user", query.user)
    where.equal("action", query.action)
    where.within("at", query.at)
    rows = db.execute(
        f"SELECT audit_id, doc FROM audit {where.sql()} ORDER BY at DESC, audit_id DESC{_limit(query.window)}",
        where.params,
    ).fetchall()
    return Page([audit_from_doc(json.loads(doc), str(i)) for i, doc in rows], _count(db, "audit", where))


def insert_audit(db: sqlite3.Connection, entry: AuditEntry | None) -> None:
    """Append an audit entry (inside the caller's transaction)."""
    if entry is None:
        return
    doc = audit_to_doc(entry)
    db.execute(
        "INSERT INTO audit (at, user, action, job_id, doc) VALUES (?, ?, ?, ?, ?)",
        (entry.at, entry.user, entry.action, entry.job_id, json.dumps(doc)),
    )


def forget_last_run(db: sqlite3.Connection, job_id: str, executor_id: str) -> None:
    """After `executor_id` was removed: if it was its job's LastRun, the newest remaining execution is (or none)."""
    db.execute(
        "UPDATE jobs SET (last_executor_id, last_state, last_ended_at, last_started_at) = (SELECT e.executor_id,"
        " e.state, e.ended_at, e.created_at FROM executions e WHERE e.job_id = jobs.job_id"
        " ORDER BY e.created_at DESC, e.executor_id DESC LIMIT 1)"
        " WHERE job_id = ? AND last_executor_id = ?",
        (job_id, executor_id),
    )
