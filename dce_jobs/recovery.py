"""Recovery after a restart: no result stays STARTING, CREATED or RUNNING; each is reconciled with its engine.

A recovered target is a `TargetRun` like any other, owned by the runner's execution, so stop, delete and shutdown
reach it the same way: a still-running exec is watched by polling its record, and `stop` terminates it.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from .errors import DceJobsError, NodeUnreachable
from .execs import inspect_exec, masked_record
from .models import EndReason, Status
from .target_run import TargetRun, killed_with_container

RESTARTED = "the service restarted while this target ran; output after the restart was not captured"
NOT_STARTED = "the service restarted before this target started"
# Docker cancels the attach of an exec whose client went away; a process that then writes ends with 126,
# a silent one keeps running (and is watched here).
ENDED_WITH_CLIENT = (
    "the service stopped while this target ran and Docker ended the exec with its connection (exit code 126);"
    " output after that was not captured"
)


class RecoveredTarget(TargetRun):
    """A target a previous process left unfinished."""

    watch_interval_s = 1.0
    node_lost_s = 10.0

    async def _body(self) -> None:
        """Reconcile the record with its engine (the failure guard is TargetRun.run's)."""
        result = self.result
        if result.status is Status.STARTING or not result.exec_id:
            await self.end_before_start(NOT_STARTED, EndReason.INTERRUPTED)
            return
        try:
            self.engine = await self._ctx.nodes.engine_for(result.node_id)
            record = await inspect_exec(self.engine, result.exec_id)
        except DceJobsError as e:
            lost = isinstance(e, NodeUnreachable)
            where = "node unreachable" if lost else "exec or container gone"
            reason = EndReason.NODE_LOST if lost else EndReason.CONTAINER_GONE
            await self.end_unfinished(f"{where} after the service restarted: {e.message}", reason)
            return
        if result.status is Status.CREATED:
            if not record.get("Running") and record.get("ExitCode") is None:
                await self.end_before_start(NOT_STARTED, EndReason.INTERRUPTED)
                return
            await self.save(Status.RUNNING)
        self.kill_if_stopped()  # stopped while it was being looked up
        record, error, reason = await self._watch(record)
        # masks come from the run itself: the job's SecretArgs may have been edited since
        shown = masked_record(record, self._ctx.execution.secret_lengths) if record else None
        fields = {"exit_code": record.get("ExitCode"), "inspect": shown}
        if error:
            await self.save(Status.RUNNING_FAILED, error=error, end_reason=reason, **fields)
        else:
            await self.save(Status.FINISHED, error=RESTARTED, **fields)

    async def _watch(self, record: dict[str, Any]) -> tuple[dict[str, Any], str, EndReason]:
        """Poll a still-running exec until it ends, is stopped, times out or its node is lost."""
        assert self.engine is not None
        execution = self._ctx.execution
        lost_since: float | None = None
        while record.get("Running"):
            started_at = self.result.started_at or execution.created_at
            if execution.timeout_s and time.time() - started_at >= execution.timeout_s:
                self.stop(f"timed out after {execution.timeout_s:g} s", EndReason.TIMED_OUT)
            if self.stop_reason:
                return (await self.stopped_record()) or record, self.stop_reason, self._stop_end
            try:
                await asyncio.wait_for(self.stop_requested.wait(), timeout=self.watch_interval_s)
                continue
            except TimeoutError:
                pass
            try:
                record = await inspect_exec(self.engine, self.result.exec_id)
                lost_since = None
            except DceJobsError as e:
                lost_since = lost_since or time.monotonic()
                if time.monotonic() - lost_since >= self.node_lost_s:
                    return record, f"lost the exec after the service restarted: {e.message}", EndReason.NODE_LOST
        if record.get("ExitCode") == 126 and record.get("Pid"):
            return record, ENDED_WITH_CLIENT, EndReason.INTERRUPTED
        killed = await killed_with_container(self.engine, self.result.container_id, record.get("ExitCode"))
        return record, killed, EndReason.CONTAINER_GONE
