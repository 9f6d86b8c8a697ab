"""Recovery after a restart: no result stays STARTING, CREATED or RUNNING; each is reconciled with its engine.

The runner registers each recovered execution as one of its runs, so stop, delete and shutdown reach a
recovered target like any other: a still-running exec gets a live handle that `TargetRunner.terminate` stops.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

from .errors import DceJobsError, NodeUnreachable, NotFound
from .execs import inspect_exec, masked_record, run_marker, wait_exit
from .models import ContainerResult, Status
from .nodes import NodePool
from .store import Store
from .store.base import end_unfinished, save_transition
from .target_run import LiveTarget, RunState, TargetRunner, killed_with_container

log = logging.getLogger("dce_jobs.recovery")

RESTARTED = "the service restarted while this target ran; output after the restart was not captured"
NOT_STARTED = "the service restarted before this target started"
# Docker ends an attached exec when its client disconnects and the process then writes (the daemon cancels
# the attach and reports 126), so a crash of this service ends the execs it was streaming that still print.
ENDED_WITH_CLIENT = (
    "the service stopped while this target ran and Docker ended the exec with its connection (exit code 126);"
    " output after that was not captured"
)


class Recovery:
    """Reconciles the results a previous process left unfinished, one recovered execution at a time."""

    def __init__(
        self,
        *,
        store: Store,
        nodes: NodePool,
        targets: TargetRunner,
        watch_interval_s: float = 1.0,
        node_lost_s: float = 10.0,
    ) -> None:
        self._store = store
        self._nodes = nodes
        self._targets = targets
        self._watch_interval_s = watch_interval_s
        self._node_lost_s = node_lost_s

    async def reconcile(self, run: RunState, results: list[ContainerResult]) -> None:
        """Bring every unfinished result of one execution to a final status."""
        await asyncio.gather(*(self._guarded(run, r) for r in results))

    async def _guarded(self, run: RunState, result: ContainerResult) -> None:
        state = {"result": result}
        try:
            await self._reconcile(run, state)
        except NotFound:
            return  # the job was deleted meanwhile
        except asyncio.CancelledError:
            raise
        except Exception as e:
            log.exception("recovery of %s/%s failed", result.executor_id, result.container_id[:12])
            await end_unfinished(self._store, state["result"], f"recovery failed: {type(e).__name__}")
        finally:
            run.live.pop(result.index, None)

    async def _reconcile(self, run: RunState, state: dict[str, ContainerResult]) -> None:
        result = state["result"]
        if result.status is Status.STARTING or not result.exec_id:
            state["result"] = await self._save(result, Status.CREATE_FAILED, error=NOT_STARTED)
            return
        try:
            engine = await self._nodes.engine_for(result.node_id)
            record = await inspect_exec(self._nodes, engine, result.exec_id)
        except DceJobsError as e:
            where = "node unreachable" if isinstance(e, NodeUnreachable) else "exec or container gone"
            failed = Status.CREATE_FAILED if result.status is Status.CREATED else Status.RUNNING_FAILED
            state["result"] = await self._save(
                result, failed, error=f"{where} after the service restarted: {e.message}"
            )
            return
        if result.status is Status.CREATED:
            if not record.get("Running") and record.get("ExitCode") is None:
                state["result"] = await self._save(result, Status.CREATE_FAILED, error=NOT_STARTED)
                return
            result = state["result"] = await self._save(result, Status.RUNNING)
        marker = run_marker(result.job_id, result.executor_id, result.index)
        live = run.live[result.index] = LiveTarget(engine, result.container_id, result.exec_id, marker, None)
        if run.stop_reason:
            self._targets.terminate(live, run.stop_reason)
        record, error = await self._watch(run, result, live, record)
        status = Status.RUNNING_FAILED if error else Status.FINISHED
        # masks come from the run itself: the job's SecretArgs may have been edited since
        shown = masked_record(record, run.execution.secret_lengths) if record else None
        state["result"] = await self._save(
            result, status, error=error or RESTARTED, exit_code=record.get("ExitCode"), inspect=shown
        )

    async def _watch(
        self, run: RunState, result: ContainerResult, live: LiveTarget, record: dict[str, Any]
    ) -> tuple[dict[str, Any], str]:
        """Poll a still-running exec until it ends, is stopped, times out or its node is lost."""
        execution = run.execution
        lost_since: float | None = None
        while record.get("Running"):
            started_at = result.started_at or execution.created_at
            if execution.timeout_s and time.time() - started_at >= execution.timeout_s:
                self._targets.terminate(live, f"timed out after {execution.timeout_s:g} s")
            if live.stop_reason:
                return await self._stopped(live, record)
            try:
                await asyncio.wait_for(live.stop_requested.wait(), timeout=self._watch_interval_s)
                continue
            except TimeoutError:
                pass
            try:
                record = await inspect_exec(self._nodes, live.engine, result.exec_id)
                lost_since = None
            except DceJobsError as e:
                lost_since = lost_since or time.monotonic()
                if time.monotonic() - lost_since >= self._node_lost_s:
                    return record, f"lost the exec after the service restarted: {e.message}"
        if record.get("ExitCode") != 126 or not record.get("Pid"):
            return record, await killed_with_container(
                self._nodes, live.engine, live.container_id, record.get("ExitCode")
            )
        return record, ENDED_WITH_CLIENT

    async def _stopped(self, live: LiveTarget, record: dict[str, Any]) -> tuple[dict[str, Any], str]:
        """Wait for the termination under way and return the final record with the stop reason."""
        if live.terminating is not None:
            await asyncio.shield(live.terminating)
        try:
            record = await wait_exit(self._nodes, live.engine, live.exec_id, timeout_s=1.0)
        except DceJobsError:
            pass  # keep the last record; the reason says what happened
        return record, live.stop_reason

    async def _save(self, result: ContainerResult, status: Status, **changes: Any) -> ContainerResult:
        return await save_transition(self._store, result, status, **changes)
