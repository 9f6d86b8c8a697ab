"""The SQLite store's schedules, fires and leases (a part of SqliteStore)."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable
from typing import Any, TypeVar

from ..errors import NotFound
from ..models import Lease
from ..schedule import Fire, Schedule
from .docs import fire_from_doc, fire_to_doc, lease_from_doc, lease_to_doc, schedule_from_doc, schedule_to_doc

T = TypeVar("T")

SCHEMA = """
CREATE TABLE IF NOT EXISTS schedules (
    schedule_id TEXT PRIMARY KEY, job_id TEXT NOT NULL, created_at REAL NOT NULL, doc TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS schedules_job ON schedules (job_id);
CREATE TABLE IF NOT EXISTS fires (
    schedule_id TEXT NOT NULL, due_s REAL NOT NULL, job_id TEXT NOT NULL, doc TEXT NOT NULL,
    PRIMARY KEY (schedule_id, due_s));
CREATE INDEX IF NOT EXISTS fires_job ON fires (job_id);
CREATE TABLE IF NOT EXISTS leases (owner_id TEXT PRIMARY KEY, expires_at REAL NOT NULL, doc TEXT NOT NULL);
"""


def _schedule_not_found(schedule_id: str) -> NotFound:
    return NotFound(schedule_id, error_id="schedule_id_not_found")


class SqliteSchedules:
    """Schedules with their fires, and the owners' leases; `_run` is SqliteStore's."""

    async def _run(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        raise NotImplementedError

    async def take_over_execution(self, job_id: str, executor_id: str, *, from_owner: str, to_owner: str) -> bool:
        """Compare-and-set the owner recorded in the execution's document."""
        sql = (
            "UPDATE executions SET doc = json_set(doc, '$.owner_id', ?) WHERE job_id = ? AND executor_id = ?"
            " AND coalesce(json_extract(doc, '$.owner_id'), '') = ?"
        )
        return await self._run(lambda db: db.execute(sql, (to_owner, job_id, executor_id, from_owner)).rowcount == 1)

    async def renew_lease(self, lease: Lease) -> None:
        """Insert or replace a lease."""
        row = (lease.owner_id, lease.expires_at, json.dumps(lease_to_doc(lease)))
        await self._run(lambda db: db.execute("INSERT OR REPLACE INTO leases VALUES (?, ?, ?)", row))

    async def drop_lease(self, owner_id: str) -> None:
        """Remove a lease."""
        await self._run(lambda db: db.execute("DELETE FROM leases WHERE owner_id = ?", (owner_id,)))

    async def list_leases(self) -> list[Lease]:
        """Every lease."""
        rows = await self._run(lambda db: db.execute("SELECT doc FROM leases").fetchall())
        return [lease_from_doc(json.loads(r[0])) for r in rows]

    async def create_schedule(self, schedule: Schedule) -> None:
        """Insert a schedule if its job exists, in one transaction."""
        row = (schedule.schedule_id, schedule.job_id, schedule.created_at, json.dumps(schedule_to_doc(schedule)))

        def insert(db: sqlite3.Connection) -> None:
            cursor = db.execute(
                "INSERT INTO schedules SELECT ?, ?, ?, ? WHERE EXISTS (SELECT 1 FROM jobs WHERE job_id = ?)",
                (*row, schedule.job_id),
            )
            if cursor.rowcount == 0:
                raise NotFound(schedule.job_id, error_id="job_id_not_found")

        await self._run(insert)

    async def get_schedule(self, job_id: str, schedule_id: str) -> Schedule:
        """One schedule of a job."""
        query = "SELECT doc FROM schedules WHERE job_id = ? AND schedule_id = ?"
        row = await self._run(lambda db: db.execute(query, (job_id, schedule_id)).fetchone())
        if row is None:
            raise _schedule_not_found(schedule_id)
        return schedule_from_doc(json.loads(row[0]))

    async def list_schedules(self, *, job_id: str | None = None) -> list[Schedule]:
        """Every schedule (of one job), oldest first."""
        where, params = ("WHERE job_id = ?", (job_id,)) if job_id is not None else ("", ())
        query = f"SELECT doc FROM schedules {where} ORDER BY created_at, schedule_id"
        rows = await self._run(lambda db: db.execute(query, params).fetchall())
        return [schedule_from_doc(json.loads(r[0])) for r in rows]

    async def update_schedule(self, schedule: Schedule) -> None:
        """Replace a schedule's document."""
        row = (json.dumps(schedule_to_doc(schedule)), schedule.job_id, schedule.schedule_id)
        sql = "UPDATE schedules SET doc = ? WHERE job_id = ? AND schedule_id = ?"
        if await self._run(lambda db: db.execute(sql, row).rowcount) == 0:
            raise _schedule_not_found(schedule.schedule_id)

    async def delete_schedule(self, job_id: str, schedule_id: str) -> None:
        """Remove a schedule and its fires in one transaction."""

        def delete(db: sqlite3.Connection) -> None:
            db.execute("BEGIN IMMEDIATE")
            try:
                sql = "DELETE FROM schedules WHERE job_id = ? AND schedule_id = ?"
                if db.execute(sql, (job_id, schedule_id)).rowcount == 0:
                    raise _schedule_not_found(schedule_id)
                db.execute("DELETE FROM fires WHERE schedule_id = ?", (schedule_id,))
            except BaseException:
                db.execute("ROLLBACK")
                raise
            db.execute("COMMIT")

        await self._run(delete)

    async def claim_fire(self, fire: Fire) -> bool:
        """INSERT OR IGNORE on the (schedule, due time) key, only while the schedule exists."""
        row = (fire.schedule_id, fire.due_s, fire.job_id, json.dumps(fire_to_doc(fire)), fire.schedule_id)
        sql = (
            "INSERT OR IGNORE INTO fires SELECT ?, ?, ?, ? WHERE EXISTS (SELECT 1 FROM schedules WHERE schedule_id = ?)"
        )
        return await self._run(lambda db: db.execute(sql, row).rowcount == 1)

    async def update_fire(self, fire: Fire) -> None:
        """Replace a claimed fire's document (a no-op once its schedule was deleted)."""
        row = (json.dumps(fire_to_doc(fire)), fire.schedule_id, fire.due_s)
        await self._run(lambda db: db.execute("UPDATE fires SET doc = ? WHERE schedule_id = ? AND due_s = ?", row))

    async def last_fires(self, *, job_id: str | None = None) -> dict[str, Fire]:
        """The fire with the latest due time of each schedule."""
        latest = "due_s = (SELECT MAX(due_s) FROM fires g WHERE g.schedule_id = f.schedule_id)"
        where, params = (f"job_id = ? AND {latest}", (job_id,)) if job_id is not None else (latest, ())
        query = f"SELECT doc FROM fires f WHERE {where}"
        rows: list[Any] = await self._run(lambda db: db.execute(query, params).fetchall())
        fires = [fire_from_doc(json.loads(r[0])) for r in rows]
        return {f.schedule_id: f for f in fires}
