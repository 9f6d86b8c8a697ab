"""Retention: a background sweep removes old executions with their results, output and follow-ups."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable

from .config import Config
from .errors import DceJobsError, NotFound
from .runner import Runner
from .store import Store

log = logging.getLogger("dce_jobs.retention")


class Sweeper:
    """Removes executions older than DCE_JOBS_RETENTION_DAYS and beyond the newest DCE_JOBS_KEEP_EXECUTIONS per job.

    An execution with a target that has not ended (running here, or left to recovery) is never removed.
    """

    def __init__(self, *, config: Config, store: Store, runner: Runner, clock: Callable[[], float] = time.time) -> None:
        self._config = config
        self._store = store
        self._runner = runner
        self._clock = clock
        self._task: asyncio.Task[None] | None = None

    @property
    def enabled(self) -> bool:
        """True when a retention limit is configured."""
        return self._config.retention_days > 0 or self._config.keep_executions > 0

    def start(self) -> None:
        """Sweep every DCE_JOBS_SWEEP_INTERVAL_S in the background (first one at once), when enabled."""
        if self.enabled:
            self._task = asyncio.create_task(self._loop(), name="retention")

    async def close(self) -> None:
        """Stop sweeping."""
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)

    async def _loop(self) -> None:
        while True:
            try:
                await self.sweep()
            except DceJobsError as e:
                log.warning("retention sweep failed: %s", e.message)
            await asyncio.sleep(self._config.sweep_interval_s)

    async def sweep(self) -> int:
        """One sweep: remove what retention allows, give the space back; return how many executions went."""
        unfinished = {(r.job_id, r.executor_id) for r in await self._store.list_unfinished_results()}
        removed = 0
        for job in await self._store.list_jobs():
            for executor_id in await self._expired(job.job_id, job.executors):
                key = (job.job_id, executor_id)
                if key in unfinished or self._runner.is_running(*key):
                    continue
                await self._store.delete_execution(*key)
                removed += 1
        if removed:
            await self._store.reclaim_space()
            log.info("retention sweep removed %d executions", removed)
        return removed

    async def _expired(self, job_id: str, executors: tuple[str, ...]) -> list[str]:
        """The executions of one job (oldest first) that retention no longer keeps."""
        keep = self._config.keep_executions
        doomed = list(executors[: len(executors) - keep]) if keep and len(executors) > keep else []
        if self._config.retention_days > 0:
            cutoff = self._clock() - self._config.retention_days * 86400
            for executor_id in executors[len(doomed) :]:
                if await self._created_at(job_id, executor_id) >= cutoff:
                    break  # oldest first: the rest are younger
                doomed.append(executor_id)
        return doomed

    async def _created_at(self, job_id: str, executor_id: str) -> float:
        try:
            return float(executor_id)  # the seed's ExecutorId is its creation timestamp
        except ValueError:
            pass
        try:
            return (await self._store.get_execution(job_id, executor_id)).created_at
        except NotFound:
            return self._clock()
