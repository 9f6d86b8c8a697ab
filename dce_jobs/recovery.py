"""Recovery after a restart: no result stays STARTING, CREATED or RUNNING; each is reconciled with its engine."""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

from .errors import DceJobsError, NodeUnreachable, NotFound
from .execs import inspect_exec, masked_record, run_marker, terminate
from .models import ContainerResult, Execution, Job, Status
from .nodes import NodePool
from .store import Store
from .store.base import end_unfinished, save_transition

log = logging.getLogger("dce_jobs.recovery")

RESTARTED = "the service restarted while this target ran; output after the restart was not captured"
# Docker ends an attached exec when its client disconnects (the daemon cancels the attach and reports 126),
# so a crash of this service ends the execs it was streaming.
ENDED_WITH_CLIENT = (
    "the service stopped while this target ran and Docker ended the exec with its connection (exit code 126);"
    " output after that was not captured"
)


class Recovery:
    """Reconciles the results a previous process left unfinished."""

    def __init__(
        self, *, store: Store, nodes: NodePool, watch_interval_s: float = 1.0, node_lost_s: float = 10.0
    ) -> None:
        self._store = store
        self._nodes = nodes
        self._watch_interval_s = watch_interval_s
        self._node_lost_s = node_lost_s
        self._contexts: dict[tuple[str, str], asyncio.Future[tuple[Job, Execution]]] = {}

    async def run(self) -> int:
        """Reconcile every unfinished result concurrently; return how many there were."""
        pending = await self._store.list_unfinished_results()
        if pending:
            log.warning("recovering %d unfinished results left by a previous run", len(pending))
        await asyncio.gather(*(self._guarded(r) for r in pending))
        return len(pending)

    async def _guarded(self, result: ContainerResult) -> None:
        state = {"result": result}
        try:
            await self._reconcile(state)
        except NotFound:
            return  # the job was deleted meanwhile
        except Exception as e:
            log.exception("recovery of %s/%s failed", result.executor_id, result.container_id[:12])
            await end_unfinished(self._store, state["result"], f"recovery failed: {type(e).__name__}")

    async def _reconcile(self, state: dict[str, ContainerResult]) -> None:
        result = state["result"]
        if result.status is Status.STARTING or not result.exec_id:
            state["result"] = await self._save(
                result, Status.CREATE_FAILED, error="the service restarted before this target started"
            )
            return
        job, execution = await self._context(result)
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
                state["result"] = await self._save(
                    result, Status.CREATE_FAILED, error="the service restarted before this target started"
                )
                return
            result = state["result"] = await self._save(result, Status.RUNNING)
        record, error = await self._watch(job, execution, result, engine, record)
        shown = masked_record(record, [s.length for s in job.secret_args]) if record else None
        exit_code = record.get("ExitCode")
        if not error and exit_code == 126 and record.get("Pid"):
            error = ENDED_WITH_CLIENT
        status = Status.RUNNING_FAILED if error else Status.FINISHED
        state["result"] = await self._save(result, status, error=error or RESTARTED, exit_code=exit_code, inspect=shown)

    async def _context(self, result: ContainerResult) -> tuple[Job, Execution]:
        """The job and execution of a result, read once per execution (results of one run share them)."""
        key = (result.job_id, result.executor_id)
        if key not in self._contexts:
            self._contexts[key] = asyncio.ensure_future(self._read_context(result.job_id, result.executor_id))
        return await self._contexts[key]

    async def _read_context(self, job_id: str, executor_id: str) -> tuple[Job, Execution]:
        return await self._store.get_job(job_id), await self._store.get_execution(job_id, executor_id)

    async def _watch(
        self, job: Job, execution: Execution, result: ContainerResult, engine: Any, record: dict[str, Any]
    ) -> tuple[dict[str, Any], str]:
        """Poll a still-running exec until it ends, its timeout passes or its node is lost."""
        lost_since: float | None = None
        while record.get("Running"):
            started_at = result.started_at or execution.created_at
            if execution.timeout_s and time.time() - started_at >= execution.timeout_s:
                marker = run_marker(result.job_id, result.executor_id, result.index)
                reason = f"timed out after {execution.timeout_s:g} s"
                try:
                    record = await terminate(
                        self._nodes, engine, result.container_id, result.exec_id, marker, grace_s=3.0
                    )
                except DceJobsError as e:
                    return record, f"{reason}; the process may still run: {e.message}"
                return record, reason
            await asyncio.sleep(self._watch_interval_s)
            try:
                record = await inspect_exec(self._nodes, engine, result.exec_id)
                lost_since = None
            except DceJobsError as e:
                lost_since = lost_since or time.monotonic()
                if time.monotonic() - lost_since >= self._node_lost_s:
                    return record, f"lost the exec after the service restarted: {e.message}"
        return record, ""

    async def _save(self, result: ContainerResult, status: Status, **changes: Any) -> ContainerResult:
        return await save_transition(self._store, result, status, **changes)
