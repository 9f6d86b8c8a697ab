"""One execution while it runs: its targets and their rollout (Parallelism, Delay, FailureAction), pause and stop."""

from __future__ import annotations

import asyncio
import logging

from .live import Broadcaster
from .models import EndReason, Execution, FailureAction, Status
from .target_run import TargetRun

log = logging.getLogger("dce_jobs.execution_run")


class ExecutionRun:
    """Owns the targets of one execution until every one of them has ended.

    Targets wait in STARTING for their turn: at most `Parallelism` run at once (0 = all), the next one starts
    `Delay` seconds after one ends, and once the failures pass `MaxFailureRatio` the `FailureAction` applies:
    `continue`, `pause` (running targets finish, none starts until `resume`) or `stop` (waiting targets end
    CREATE_FAILED, running ones finish).
    """

    def __init__(
        self,
        execution: Execution,
        targets: list[TargetRun],
        *,
        recovered: bool = False,
        broadcaster: Broadcaster | None = None,
    ) -> None:
        self.execution = execution
        self.broadcaster = broadcaster  #: publishes its events to live subscribers (none for a recovered one)
        self.targets = targets
        self.recovered = recovered  #: left by a previous process: reconciled at once, nothing is rolled out
        self.paused = False
        self.stop_reason = ""
        self.task: asyncio.Task[None] | None = None
        self._halt = ("", EndReason.STOPPED)  #: why waiting targets will not start
        self._changed = asyncio.Event()
        self._failed = 0

    @property
    def key(self) -> tuple[str, str]:
        """(JobId, ExecutorId)."""
        return self.execution.job_id, self.execution.executor_id

    async def run(self) -> None:
        """Start the waiting targets in order as the rollout allows, then wait for every target to end."""
        if self.recovered:
            await asyncio.gather(*(t.run() for t in self.targets))
            return
        active: set[asyncio.Future[None]] = set()
        waiting = self.targets
        limit = self.execution.rolling.parallelism or len(self.targets)
        for position, target in enumerate(waiting):
            while not self._halt[0] and (self.paused or self._running(active) >= limit):
                self._changed.clear()
                await self._changed.wait()
            if self._halt[0]:
                await self._end_waiting(waiting[position:])
                break
            active.add(asyncio.ensure_future(self._one(target)))
        if active:
            await asyncio.gather(*active)

    def _running(self, active: set[asyncio.Future[None]]) -> int:
        return sum(1 for task in active if not task.done())

    async def _one(self, target: TargetRun) -> None:
        try:
            await target.run()
            if not target.result.succeeded and target.result.end_reason is not EndReason.STOPPED:
                self._on_failure()
            delay_s = self.execution.rolling.delay_s
            if delay_s and self.execution.rolling.parallelism and not self._halt[0]:
                try:  # the slot stays taken for the delay; a stop ends the wait
                    await asyncio.wait_for(self._wait_halt(), timeout=delay_s)
                except TimeoutError:
                    pass
        finally:
            self._changed.set()

    async def _wait_halt(self) -> None:
        while not self._halt[0]:
            self._changed.clear()
            await self._changed.wait()

    def _on_failure(self) -> None:
        rolling = self.execution.rolling
        self._failed += 1
        if not rolling.too_many_failures(self._failed, len(self.targets)):
            return
        if rolling.failure_action is FailureAction.PAUSE and not self.paused:
            log.info("execution %s paused after %d failed targets", self.execution.executor_id, self._failed)
            self.paused = True
            if self.broadcaster is not None:
                self.broadcaster.set_paused(True)
        elif rolling.failure_action is FailureAction.STOP and not self._halt[0]:
            why = f"not started: {self._failed} target(s) failed and the failure action is stop"
            self._halt = (why, EndReason.NOT_STARTED)
            self._changed.set()

    async def _end_waiting(self, targets: list[TargetRun]) -> None:
        why, reason = self._halt
        for target in targets:
            if target.result.status is Status.STARTING:
                await target.end_before_start(why, reason)

    def resume(self) -> bool:
        """Let a paused execution start its waiting targets again; False when it was not paused."""
        if not self.paused:
            return False
        self.paused = False
        if self.broadcaster is not None:
            self.broadcaster.set_paused(False)
        self._changed.set()
        return True

    def stop(self, reason: str, end_reason: EndReason = EndReason.STOPPED) -> None:
        """Stop every target: waiting ones end CREATE_FAILED, running ones are terminated."""
        if not self.stop_reason:
            self.stop_reason = reason
        if not self._halt[0]:
            self._halt = (f"{reason} before start", end_reason)
        for target in self.targets:
            target.stop(reason, end_reason)
        self._changed.set()
