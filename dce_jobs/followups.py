"""What follows an execution, through an outbox in the store: automatic retries and StatusHook deliveries.

Each follow-up is a store record (pending, due at a time) before anything is attempted, so a restart neither
loses one nor carries out one twice: pending ones are picked up at start-up. A hook delivery in flight when
the process died is sent again with the same delivery id (receivers deduplicate on it).
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
import uuid
from collections.abc import Callable, Coroutine
from typing import Any

from .config import Config
from .errors import DceJobsError, NotFound, ServiceUnavailable
from .hooks import HookSender
from .models import STARTED_BY_RETRY, ContainerResult, EndReason, Execution, FollowUp, Job, TaskState, summarize
from .runner import Runner
from .schemas import HookView, dump_hook_body
from .store import Store

log = logging.getLogger("dce_jobs.followups")

RETRY, HOOK = "retry", "hook"
#: a follow-up whose handler failed unexpectedly waits this long before the next try
_FAULT_PAUSE_S = 30.0


class FollowUps:
    """Records the follow-ups of each execution's start, end and stop, and carries them out when due."""

    def __init__(
        self,
        *,
        config: Config,
        store: Store,
        runner: Runner,
        sender: HookSender,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._config = config
        self._store = store
        self._runner = runner
        self._sender = sender
        self._clock = clock
        self._wake = asyncio.Event()
        self._writes: set[asyncio.Task[None]] = set()
        self._inflight: dict[str, asyncio.Task[None]] = {}
        self._loop_task: asyncio.Task[None] | None = None
        runner.listen(self._on_event)

    def start(self) -> None:
        """Begin carrying out due follow-ups (those left pending by a previous process first)."""
        self._loop_task = asyncio.create_task(self._loop(), name="follow-ups")

    async def close(self) -> None:
        """Record what the last events asked for, then stop; deliveries in flight stay pending in the store."""
        if self._writes:
            await asyncio.wait(set(self._writes), timeout=10)
        tasks = [t for t in (self._loop_task, *self._inflight.values()) if t is not None]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await self._sender.close()

    async def idle(self) -> None:
        """Wait until the events so far are recorded (for tests and shutdown)."""
        while self._writes:
            await asyncio.wait(set(self._writes))

    # -- recording ----------------------------------------------------------------------------------

    def _on_event(self, event: str, execution: Execution, results: list[ContainerResult]) -> None:
        self._spawn(self._record(event, execution, results))

    def _spawn(self, work: Coroutine[Any, Any, None]) -> None:
        task = asyncio.create_task(work)
        self._writes.add(task)
        task.add_done_callback(self._written)

    def _written(self, task: asyncio.Task[None]) -> None:
        self._writes.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("recording a follow-up failed", exc_info=task.exception())
        self._wake.set()

    async def _record(self, event: str, execution: Execution, results: list[ContainerResult]) -> None:
        if event == "stop":
            await self._cancel_retries(execution)
            return
        try:
            job = await self._store.get_job(execution.job_id)
        except NotFound:
            return  # deleted meanwhile: nothing follows
        if job.status_hook and event in job.status_hook_events:
            await self._store.save_follow_up(self._delivery(event, job, execution, results))
        if event == "end" and _wants_retry(job, execution, results):
            due_at = self._clock() + job.retry_delay_s
            task = self._task(RETRY, f"retry:{execution.job_id}:{execution.executor_id}", execution, due_at)
            await self._store.save_follow_up(task.replace(payload={"attempt": execution.retry_attempt + 1}))
            log.info(
                "execution %s of job %s: automatic retry %d of %d due in %g s",
                execution.executor_id,
                job.job_id,
                execution.retry_attempt + 1,
                job.retries,
                job.retry_delay_s,
            )

    def _task(self, kind: str, task_id: str, execution: Execution, due_at: float) -> FollowUp:
        return FollowUp(
            kind=kind,
            task_id=task_id,
            job_id=execution.job_id,
            executor_id=execution.executor_id,
            due_at=due_at,
            created_at=self._clock(),
        )

    def _delivery(self, event: str, job: Job, execution: Execution, results: list[ContainerResult]) -> FollowUp:
        view = HookView(event, job, execution, summarize(results), results)
        # the body is fixed now: every attempt sends (and signs) the same bytes
        body = json.dumps(dump_hook_body(view), ensure_ascii=False, separators=(",", ":"))
        task = self._task(HOOK, uuid.uuid4().hex, execution, self._clock())
        return task.replace(payload={"event": event, "url": job.status_hook, "body": body})

    async def _cancel_retries(self, execution: Execution) -> None:
        for task in await self._store.list_follow_ups(execution.job_id, execution.executor_id):
            if task.kind == RETRY and task.state is TaskState.PENDING:
                await self._store.save_follow_up(task.replace(state=TaskState.CANCELLED))
                log.info("execution %s stopped: its automatic retry is cancelled", execution.executor_id)

    # -- carrying out -------------------------------------------------------------------------------

    async def _loop(self) -> None:
        while True:
            self._wake.clear()
            try:
                pending = await self._store.list_pending_follow_ups()
            except DceJobsError as e:
                log.warning("cannot read pending follow-ups: %s", e.message)
                pending = []
            now = self._clock()
            wait_s = self._config.follow_up_poll_s
            for task in pending:
                if task.task_id in self._inflight:
                    continue
                if task.due_at <= now:
                    # another replica on the same store may be carrying it out: take it first
                    if await self._claim(task, now):
                        self._inflight[task.task_id] = asyncio.create_task(self._carry_out(task))
                else:
                    wait_s = min(wait_s, task.due_at - now)
            try:  # asyncio.timeout, not wait_for: 3.11's wait_for can swallow the cancel of close()
                async with asyncio.timeout(max(wait_s, 0.0)):
                    await self._wake.wait()
            except TimeoutError:
                pass

    async def _claim(self, task: FollowUp, now: float) -> bool:
        # past the claim (an attempt's timeout and a margin) a process that died holding it is taken over
        until = now + self._config.hook_timeout_s + self._config.docker_timeout_s + 5
        try:
            return await self._store.claim_follow_up(task.task_id, now=now, until=until)
        except DceJobsError as e:
            log.warning("cannot claim follow-up %s: %s", task.task_id, e.message)
            return False

    async def _carry_out(self, task: FollowUp) -> None:
        try:
            if not await self._execution_exists(task):
                # recorded just as its job was deleted (or its execution swept): drop it, never act on it
                await self._store.delete_execution(task.job_id, task.executor_id)
                return
            updated = await (self._retry(task) if task.kind == RETRY else self._deliver(task))
            if updated is not None:
                await self._save_unless_gone(updated)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("follow-up %s of execution %s failed", task.task_id, task.executor_id)
            await self._save_unless_gone(task.replace(due_at=self._clock() + _FAULT_PAUSE_S))
        finally:
            self._inflight.pop(task.task_id, None)
            self._wake.set()

    async def _execution_exists(self, task: FollowUp) -> bool:
        try:
            await self._store.get_execution(task.job_id, task.executor_id)
        except NotFound:
            return False
        return True

    async def _save_unless_gone(self, task: FollowUp) -> None:
        if await self._execution_exists(task):  # deleted or swept meanwhile: its follow-ups went with it
            await self._store.save_follow_up(task)

    async def _retry(self, task: FollowUp) -> FollowUp | None:
        attempt = int(task.payload.get("attempt", 1))
        try:
            job = await self._store.get_job(task.job_id)
            previous = await self._store.get_execution(task.job_id, task.executor_id)
        except NotFound:
            return None
        if previous.retried_by:  # retried already (by hand, or just before a crash)
            return task.replace(state=TaskState.DONE)
        try:
            execution = await self._runner.retry(job, task.executor_id, attempt=attempt, started_by=STARTED_BY_RETRY)
        except ServiceUnavailable:
            return None  # shutting down: it stays pending for the next process
        except DceJobsError as e:
            log.warning("automatic retry of %s could not start: %s", task.executor_id, e.message)
            record = {"at": self._clock(), "error": e.message}
            return task.replace(state=TaskState.FAILED, attempts=(*task.attempts, record))
        record = {"at": self._clock(), "executor_id": execution.executor_id}
        return task.replace(state=TaskState.DONE, attempts=(*task.attempts, record))

    async def _deliver(self, task: FollowUp) -> FollowUp:
        payload = task.payload
        outcome = await self._sender.post(
            payload["url"], payload["body"].encode(), delivery_id=task.task_id, event=payload["event"]
        )
        attempts = (*task.attempts, outcome.record)
        if outcome.ok:
            return task.replace(state=TaskState.DONE, attempts=attempts)
        config = self._config
        backoff_s = min(config.hook_backoff_s * 2 ** (len(attempts) - 1), config.hook_max_backoff_s)
        due_at = self._clock() + backoff_s
        if outcome.final or due_at - task.created_at > config.hook_retry_window_s:
            return task.replace(state=TaskState.FAILED, attempts=attempts)
        return task.replace(attempts=attempts, due_at=due_at)


def _wants_retry(job: Job, execution: Execution, results: list[ContainerResult]) -> bool:
    """True when failed targets are left, retries remain on this chain, and no user stopped the execution."""
    if not results or execution.retry_attempt >= job.retries or execution.retried_by:
        return False
    if any(r.end_reason is EndReason.STOPPED for r in results):
        return False  # a stop on request means: no automatic retry of this execution
    return any(not r.succeeded for r in results)
