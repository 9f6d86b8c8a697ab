"""The MongoDB store's schedules, fires and leases (a part of MongoStore; the driver stays in mongo.py)."""

from __future__ import annotations

from contextlib import AbstractContextManager
from typing import Any

from ..errors import Conflict, NotFound
from ..models import Lease
from ..schedule import Fire, Schedule
from .docs import fire_from_doc, fire_to_doc, lease_from_doc, lease_to_doc, schedule_from_doc, schedule_to_doc

_NO_ID = {"_id": False}
_ASC = 1

# (collection, keys, unique)
INDEXES: tuple[tuple[str, list[tuple[str, int]], bool], ...] = (
    ("schedules", [("schedule_id", _ASC)], True),
    ("schedules", [("job_id", _ASC)], False),
    ("fires", [("schedule_id", _ASC), ("due_s", _ASC)], True),  # one claim per due time, whichever replica
    ("fires", [("job_id", _ASC)], False),
    ("leases", [("owner_id", _ASC)], True),
)


def _schedule_not_found(schedule_id: str) -> NotFound:
    return NotFound(schedule_id, error_id="schedule_id_not_found")


class MongoSchedules:
    """Schedules with their fires, and the owners' leases; `_col` and `_errors` are MongoStore's."""

    def _col(self, name: str) -> Any:
        raise NotImplementedError

    def _errors(self, conflict: Conflict | None = None) -> AbstractContextManager[None]:
        raise NotImplementedError

    async def take_over_execution(self, job_id: str, executor_id: str, *, from_owner: str, to_owner: str) -> bool:
        """Compare-and-set the execution's owner."""
        query: dict[str, Any] = {"job_id": job_id, "executor_id": executor_id}
        query["owner_id"] = from_owner if from_owner else {"$in": [None, ""]}
        with self._errors():
            outcome = await self._col("executions").update_one(query, {"$set": {"owner_id": to_owner}})
        return bool(outcome.modified_count == 1)

    async def renew_lease(self, lease: Lease) -> None:
        """Insert or replace a lease."""
        with self._errors():
            await self._col("leases").replace_one({"owner_id": lease.owner_id}, lease_to_doc(lease), upsert=True)

    async def drop_lease(self, owner_id: str) -> None:
        """Remove a lease."""
        with self._errors():
            await self._col("leases").delete_one({"owner_id": owner_id})

    async def list_leases(self) -> list[Lease]:
        """Every lease."""
        with self._errors():
            docs = await self._col("leases").find({}, _NO_ID).to_list()
        return [lease_from_doc(d) for d in docs]

    async def create_schedule(self, schedule: Schedule) -> None:
        """Insert a schedule of an existing job (undone when the job went away meanwhile)."""
        with self._errors():
            if await self._col("jobs").find_one({"job_id": schedule.job_id}, {"_id": True}) is None:
                raise NotFound(schedule.job_id, error_id="job_id_not_found")
            await self._col("schedules").insert_one(schedule_to_doc(schedule))
            if await self._col("jobs").find_one({"job_id": schedule.job_id}, {"_id": True}) is None:
                await self._col("schedules").delete_one({"schedule_id": schedule.schedule_id})
                raise NotFound(schedule.job_id, error_id="job_id_not_found")

    async def get_schedule(self, job_id: str, schedule_id: str) -> Schedule:
        """One schedule of a job."""
        with self._errors():
            doc = await self._col("schedules").find_one({"job_id": job_id, "schedule_id": schedule_id}, _NO_ID)
        if doc is None:
            raise _schedule_not_found(schedule_id)
        return schedule_from_doc(doc)

    async def list_schedules(self, *, job_id: str | None = None) -> list[Schedule]:
        """Every schedule (of one job), oldest first."""
        query = {} if job_id is None else {"job_id": job_id}
        order = [("created_at", _ASC), ("schedule_id", _ASC)]
        with self._errors():
            docs = await self._col("schedules").find(query, _NO_ID).sort(order).to_list()
        return [schedule_from_doc(d) for d in docs]

    async def update_schedule(self, schedule: Schedule) -> None:
        """Replace a schedule's document."""
        key = {"job_id": schedule.job_id, "schedule_id": schedule.schedule_id}
        with self._errors():
            outcome = await self._col("schedules").replace_one(key, schedule_to_doc(schedule))
        if outcome.matched_count == 0:
            raise _schedule_not_found(schedule.schedule_id)

    async def delete_schedule(self, job_id: str, schedule_id: str) -> None:
        """Remove a schedule, then its fires."""
        with self._errors():
            outcome = await self._col("schedules").delete_one({"job_id": job_id, "schedule_id": schedule_id})
            if outcome.deleted_count == 0:
                raise _schedule_not_found(schedule_id)
            await self._col("fires").delete_many({"schedule_id": schedule_id})

    async def claim_fire(self, fire: Fire) -> bool:
        """Insert the fire; the unique (schedule_id, due_s) index refuses a second claim of the same due time."""
        clash = Conflict(fire.schedule_id, error_id="fire_claimed")
        key = {"schedule_id": fire.schedule_id, "due_s": fire.due_s}
        try:
            with self._errors(clash):
                await self._col("fires").insert_one(fire_to_doc(fire))
        except Conflict:
            return False
        with self._errors():
            if await self._col("schedules").find_one({"schedule_id": fire.schedule_id}, {"_id": True}) is None:
                await self._col("fires").delete_one(key)  # its schedule was deleted meanwhile
                return False
        return True

    async def update_fire(self, fire: Fire) -> None:
        """Replace a claimed fire's document (never inserts one)."""
        key = {"schedule_id": fire.schedule_id, "due_s": fire.due_s}
        with self._errors():
            await self._col("fires").replace_one(key, fire_to_doc(fire))

    async def last_fires(self, *, job_id: str | None = None) -> dict[str, Fire]:
        """The fire with the latest due time of each schedule."""
        query = {} if job_id is None else {"job_id": job_id}
        latest: dict[str, Fire] = {}
        with self._errors():
            async for doc in self._col("fires").find(query, _NO_ID).sort("due_s", _ASC):
                fire = fire_from_doc(doc)
                latest[fire.schedule_id] = fire
        return latest
