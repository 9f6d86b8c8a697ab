"""The SQLite tables, their indexes, and the upgrade of files written by older versions."""

from __future__ import annotations

import json
import sqlite3

from ..models import ContainerResult, summarize
from .base import result_from_doc, summary_to_doc

SCHEMA = """
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
CREATE TABLE IF NOT EXISTS audit (
    audit_id INTEGER PRIMARY KEY AUTOINCREMENT, at REAL NOT NULL, user TEXT NOT NULL, action TEXT NOT NULL,
    job_id TEXT NOT NULL, doc TEXT NOT NULL);
"""

#: columns added after the first release: (table, column, type); guarded like `output.streams`
_ADDED_COLUMNS = (
    ("output", "streams", "TEXT"),
    ("jobs", "service_name", "TEXT"),
    ("jobs", "updated_at", "REAL"),
    ("jobs", "name_fold", "TEXT"),
    ("jobs", "last_executor_id", "TEXT"),
    ("jobs", "last_state", "TEXT"),
    ("jobs", "last_ended_at", "REAL"),
    ("jobs", "last_started_at", "REAL"),  # the CreateTime of LastRun: the job list's LastRunTime order
    ("executions", "app_name", "TEXT"),
    ("executions", "service_name", "TEXT"),
    ("executions", "trigger", "TEXT"),
    ("executions", "started_by", "TEXT"),
    ("executions", "state", "TEXT"),
    ("executions", "ended_at", "REAL"),
    ("executions", "counts", "TEXT"),
    ("executions", "duration_s", "REAL"),  # the statistics' (also in the store's own list): filled below
)

_INDEXES = """
CREATE INDEX IF NOT EXISTS jobs_created ON jobs (created_at, job_id);
CREATE INDEX IF NOT EXISTS jobs_updated ON jobs (updated_at, job_id);
CREATE INDEX IF NOT EXISTS jobs_name ON jobs (name_fold, job_id);
CREATE INDEX IF NOT EXISTS jobs_app_created ON jobs (app_name, created_at, job_id);
CREATE INDEX IF NOT EXISTS jobs_last_state ON jobs (last_state, created_at);
CREATE INDEX IF NOT EXISTS jobs_last_run ON jobs (last_started_at, job_id);
CREATE INDEX IF NOT EXISTS executions_job ON executions (job_id, created_at, executor_id);
CREATE INDEX IF NOT EXISTS executions_newest ON executions (created_at, executor_id);
CREATE INDEX IF NOT EXISTS executions_app ON executions (app_name, created_at);
CREATE INDEX IF NOT EXISTS executions_state ON executions (state, created_at);
CREATE INDEX IF NOT EXISTS audit_at ON audit (at, audit_id);
CREATE INDEX IF NOT EXISTS audit_job ON audit (job_id, at);
CREATE INDEX IF NOT EXISTS audit_user ON audit (user, at);
"""

#: executions given their job's AppName per transaction at open
_APP_BATCH = 1000

#: PRAGMA user_version once the columns above are filled for records of older versions (2: last_started_at)
_VERSION = 2


def create_schema(db: sqlite3.Connection) -> None:
    """Create the tables and indexes, upgrading a file of an older version once."""
    db.executescript(SCHEMA)
    for table, column, kind in _ADDED_COLUMNS:
        if column not in {row[1] for row in db.execute(f"PRAGMA table_info({table})")}:
            db.execute(f"ALTER TABLE {table} ADD COLUMN {column} {kind}")
    db.executescript(_INDEXES)
    version = db.execute("PRAGMA user_version").fetchone()[0]
    if version < _VERSION:
        db.execute("BEGIN IMMEDIATE")
        try:
            if version < 1:
                _fill_added_columns(db)
            _fill_last_started(db)
            db.execute(f"PRAGMA user_version = {_VERSION}")
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise


def fill_execution_apps(db: sqlite3.Connection) -> None:
    """Executions stored without their AppName ('') get their job's, _APP_BATCH a transaction.

    Idempotent, and one lookup of executions_app when there is none left; an execution whose job is gone keeps ''.
    """
    after = 0
    while True:
        rowids = [
            row[0]
            for row in db.execute(
                "SELECT rowid FROM executions WHERE (app_name = '' OR app_name IS NULL) AND rowid > ?"
                " ORDER BY rowid LIMIT ?",
                (after, _APP_BATCH),
            )
        ]
        if not rowids:
            return
        marks = ",".join("?" * len(rowids))
        db.execute("BEGIN IMMEDIATE")
        try:
            db.execute(
                "UPDATE executions SET app_name = (SELECT j.app_name FROM jobs j WHERE j.job_id = executions.job_id)"
                f" WHERE rowid IN ({marks}) AND EXISTS (SELECT 1 FROM jobs j WHERE j.job_id = executions.job_id)",
                rowids,
            )
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise
        after = rowids[-1]


def _fill_added_columns(db: sqlite3.Connection) -> None:
    """Give records of older versions what the lists need (their executions' ends come from their results)."""
    for job_id, doc in db.execute("SELECT job_id, doc FROM jobs WHERE name_fold IS NULL").fetchall():
        fields = json.loads(doc)
        db.execute(
            "UPDATE jobs SET service_name = ?, updated_at = ?, name_fold = ? WHERE job_id = ?",
            (fields["service_name"], fields["updated_at"], fields["name"].casefold(), job_id),
        )
    rows = db.execute("SELECT job_id, executor_id, doc FROM executions WHERE trigger IS NULL").fetchall()
    for job_id, executor_id, doc in rows:
        fields = json.loads(doc)
        job = db.execute("SELECT app_name, service_name FROM jobs WHERE job_id = ?", (job_id,)).fetchone()
        results = [
            result_from_doc(json.loads(r[0]))
            for r in db.execute(
                "SELECT doc FROM results WHERE job_id = ? AND executor_id = ? ORDER BY idx", (job_id, executor_id)
            )
        ]
        final = _final_columns(results)
        # a file of the statistics' version has state, ended_at and duration_s of its ended executions already
        db.execute(
            "UPDATE executions SET app_name = ?, service_name = ?, trigger = ?, started_by = '',"
            " state = COALESCE(state, ?), ended_at = COALESCE(ended_at, ?), counts = ?"
            " WHERE job_id = ? AND executor_id = ?",
            (job[0] if job else "", job[1] if job else "", _old_trigger(fields), *final, job_id, executor_id),
        )
    db.execute(
        "UPDATE executions SET duration_s = MAX(0, ended_at - created_at)"
        " WHERE duration_s IS NULL AND ended_at IS NOT NULL AND state != 'running'"
    )
    db.execute(
        "UPDATE jobs SET last_executor_id = (SELECT executor_id FROM executions e WHERE e.job_id = jobs.job_id"
        " ORDER BY e.created_at DESC, e.executor_id DESC LIMIT 1) WHERE last_executor_id IS NULL"
    )
    db.execute(
        "UPDATE jobs SET (last_state, last_ended_at) = (SELECT state, ended_at FROM executions e"
        " WHERE e.job_id = jobs.job_id AND e.executor_id = jobs.last_executor_id) WHERE last_executor_id IS NOT NULL"
    )


def _fill_last_started(db: sqlite3.Connection) -> None:
    """Give the jobs that ran the start of their LastRun (a file of a version before the LastRunTime order)."""
    db.execute(
        "UPDATE jobs SET last_started_at = (SELECT created_at FROM executions e WHERE e.job_id = jobs.job_id"
        " AND e.executor_id = jobs.last_executor_id) WHERE last_executor_id IS NOT NULL AND last_started_at IS NULL"
    )


def _old_trigger(fields: dict[str, object]) -> str:
    """The Trigger of a record from before it was kept (as store.base reads one)."""
    return "retry" if fields.get("retry_of") else "schedule" if fields.get("schedule_id") else "manual"


def _final_columns(results: list[ContainerResult]) -> tuple[str, float | None, str | None]:
    """(state, ended_at, counts JSON) of an execution from its results; still running: no end, no counts."""
    summary = summary_to_doc(summarize(results))
    if summary["state"] in ("running", "paused"):
        return "running", None, None
    return summary["state"], summary["ended_at"], json.dumps(summary["counts"])
