"""Fires due schedules: each due time claimed once in the store, whichever replica gets there first."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import time
import uuid
from collections import defaultdict
from collections.abc import Callable
from typing import Any

from .config import Config
from .errors import DceJobsError, InvalidInput, NotFound
from .jobs import check_runnable
from .models import STARTED_BY_SCHEDULE
from .params import resolve
from .runner import Runner
from .schedule import (
    ConcurrencyPolicy,
    Fire,
    FireOutcome,
    Schedule,
    check_cron,
    due_between,
    next_due,
    server_zone_name,
    zone,
)
from .store import Store

log = logging.getLogger("dce_jobs.scheduler")


class Scheduler:
    """Looks for due schedules every tick_s and fires them through the runner (as ordinary executions)."""

    def __init__(self, *, config: Config, store: Store, runner: Runner, clock: Callable[[], float] = time.time) -> None:
        self.clock = clock
        self._config = config
        self._store = store
        self._runner = runner
        self._task: asyncio.Task[None] | None = None
        #: held while a schedule fires in this process, and while it is edited or deleted
        self._locks: dict[str, asyncio.Lock] = defaultdict(asyncio.Lock)
        self._ticking = asyncio.Lock()  #: one tick at a time (the loop's, or one a caller runs)

    # -- the resource ------------------------------------------------------------------------------

    async def create(self, job_id: str, given: dict[str, Any]) -> Schedule:
        """Check and store a new schedule of an existing job."""
        job = await self._store.get_job(job_id)
        now_s = self.clock()
        schedule = Schedule(schedule_id=str(uuid.uuid4()), job_id=job_id, created_at=now_s)
        schedule = self._checked(schedule, given, now_s)
        resolve(job.params, schedule.params)  # a value the job would refuse at fire time is refused now
        await self._store.create_schedule(schedule)
        log.info("job %s: schedule %s created (%s)", job_id, schedule.schedule_id, _when(schedule))
        return schedule

    async def update(self, job_id: str, schedule_id: str, given: dict[str, Any]) -> Schedule:
        """Apply the given fields over the stored ones; due times are counted from now on."""
        async with self._locks[schedule_id]:
            current = await self._store.get_schedule(job_id, schedule_id)
            if "rolling" in given:
                given = {**given, "rolling": {**current.rolling, **given["rolling"]}}
            schedule = self._checked(current, given, self.clock())
            resolve((await self._store.get_job(job_id)).params, schedule.params)
            await self._store.update_schedule(schedule)
        log.info("job %s: schedule %s edited (%s)", job_id, schedule_id, _when(schedule))
        return schedule

    async def delete(self, job_id: str, schedule_id: str) -> None:
        """Remove a schedule; a fire of it under way in this process ends before (it has started, or never will)."""
        async with self._locks[schedule_id]:
            await self._store.delete_schedule(job_id, schedule_id)
        self._locks.pop(schedule_id, None)
        log.info("job %s: schedule %s deleted", job_id, schedule_id)

    def _checked(self, schedule: Schedule, given: dict[str, Any], now_s: float) -> Schedule:
        """`given` over `schedule`, checked: one of RunAt or Cron, a known TimeZone, a RunAt still ahead."""
        if given.get("cron") and given.get("run_at") is not None:
            raise InvalidInput("RunAt, Cron: Give exactly one of RunAt (epoch seconds) or Cron (5 fields).")
        if given.get("cron"):
            given = {**given, "run_at": None}
        elif given.get("run_at") is not None:
            given = {**given, "cron": ""}
        changed = schedule.replace(**given, anchor_s=now_s, updated_at=now_s)
        if (changed.run_at is None) == (not changed.cron):
            raise InvalidInput("RunAt, Cron: Give exactly one of RunAt (epoch seconds) or Cron (5 fields).")
        if changed.cron:
            check_cron(changed.cron)
        zone(changed.time_zone)
        if changed.run_at is not None and changed.run_at <= now_s and "run_at" in given:
            raise InvalidInput(f"RunAt: Must be in the future (it is {now_s - changed.run_at:.0f} s past).")
        return changed

    def view(self, schedule: Schedule, last_fire: Fire | None) -> tuple[float | None, str]:
        """When the schedule fires next (None: never again, or disabled) and the time zone in force."""
        after_s = max(schedule.anchor_s, last_fire.due_s if last_fire else schedule.anchor_s)
        upcoming = next_due(schedule, after_s) if schedule.enabled else None
        return upcoming, schedule.time_zone or server_zone_name()

    def start(self) -> None:
        """Tick in the background until close()."""
        self._task = asyncio.create_task(self._loop(), name="scheduler")

    async def close(self) -> None:
        """Stop ticking (a fire under way is cancelled with it; the runner's close stops what it started)."""
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None

    async def _loop(self) -> None:
        while True:
            try:
                await self.tick()
            except DceJobsError as e:
                log.warning("scheduler tick failed (retried in %g s): %s", self._config.scheduler_tick_s, e.message)
            except Exception:  # a fault of ours must not end the schedules for good
                log.exception("scheduler tick failed")
            await asyncio.sleep(self._config.scheduler_tick_s)

    async def tick(self) -> list[Fire]:
        """Handle every due time reached by now that no replica claimed yet; the fires this replica handled."""
        async with self._ticking:
            return await self._tick()

    async def _tick(self) -> list[Fire]:
        now_s = self.clock()
        last = await self._store.last_fires()
        handled = []
        for listed in await self._store.list_schedules():
            if self._due(listed, last.get(listed.schedule_id), now_s)[0] is None:
                continue
            async with self._locks[listed.schedule_id]:  # an edit or delete of it waits, or went first
                try:
                    schedule = await self._store.get_schedule(listed.job_id, listed.schedule_id)
                except NotFound:
                    continue
                due_s, count = self._due(schedule, last.get(schedule.schedule_id), now_s)
                if due_s is None:
                    continue
                fire = await self._claim(schedule, due_s, now_s)
                if fire is not None:
                    handled.append(await self._handle(schedule, fire, count, now_s))
        return handled

    @staticmethod
    def _due(schedule: Schedule, previous: Fire | None, now_s: float) -> tuple[float | None, int]:
        if not schedule.enabled:
            return None, 0
        after_s = max(schedule.anchor_s, previous.due_s if previous else schedule.anchor_s)
        return due_between(schedule, after_s, now_s)

    async def _claim(self, schedule: Schedule, due_s: float, now_s: float) -> Fire | None:
        fire = Fire(
            schedule_id=schedule.schedule_id,
            job_id=schedule.job_id,
            due_s=due_s,
            owner_id=self._runner.owner.owner_id,
            fired_at=now_s,
        )
        return fire if await self._store.claim_fire(fire) else None

    async def _handle(self, schedule: Schedule, fire: Fire, count: int, now_s: float) -> Fire:
        late_s = now_s - fire.due_s
        if late_s > self._config.missed_fire_s:
            earlier = f" and {count - 1}{'+' if count >= 1000 else ''} earlier due times" if count > 1 else ""
            why = (
                f"due {late_s:.0f} s ago{earlier} while no replica of the service ran; older than "
                f"DCE_JOBS_MISSED_FIRE_S={self._config.missed_fire_s:g} s"
            )
            return await self._record(fire, FireOutcome.MISSED, reason=why)
        if schedule.concurrency is ConcurrencyPolicy.SKIP:
            going = await self._store.list_unfinished_results(job_id=schedule.job_id)
            if going:
                why = f"execution {going[0].executor_id} of the job was still going (ConcurrencyPolicy Skip)"
                return await self._record(fire, FireOutcome.SKIPPED, reason=why)
        try:
            job = await self._store.get_job(schedule.job_id)
            check_runnable(job)
            rolling = dataclasses.replace(job.rolling, **schedule.rolling) if schedule.rolling else None
            execution = await self._runner.start(
                job,
                None,
                timeout_s=schedule.timeout_s,
                rolling=rolling,
                container_ids=None if schedule.container_ids is None else list(schedule.container_ids),
                schedule_id=schedule.schedule_id,
                params={name: str(value) for name, value in schedule.params.items()},
                started_by=STARTED_BY_SCHEDULE,
            )
        except NotFound as e:
            if e.error_id == "job_id_not_found":
                return fire  # the job was deleted meanwhile, its schedules and fires with it
            return await self._record(fire, FireOutcome.FAILED, reason=e.message)
        except DceJobsError as e:
            log.warning("schedule %s of job %s could not start: %s", schedule.schedule_id, schedule.job_id, e.message)
            return await self._record(fire, FireOutcome.FAILED, reason=e.message)
        log.info(
            "schedule %s of job %s fired execution %s on %d targets",
            schedule.schedule_id,
            schedule.job_id,
            execution.executor_id,
            len(execution.targets),
        )
        return await self._record(fire, FireOutcome.FIRED, executor_id=execution.executor_id)

    async def _record(self, fire: Fire, outcome: FireOutcome, *, reason: str = "", executor_id: str = "") -> Fire:
        done = fire.replace(outcome=outcome, reason=reason, executor_id=executor_id)
        if outcome is not FireOutcome.FIRED:
            log.info("schedule %s of job %s: %s (%s)", fire.schedule_id, fire.job_id, outcome, reason)
        await self._store.update_fire(done)
        return done


def _when(schedule: Schedule) -> str:
    if schedule.cron:
        return f"cron {schedule.cron!r} in {schedule.time_zone or server_zone_name()}"
    return f"once at {schedule.run_at}"
