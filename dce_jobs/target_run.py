"""One target of an execution: create, start, stream and finish its exec; its timeout and termination."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field, replace
from typing import Any

from .cipher import Redactor
from .config import Config
from .errors import DceJobsError, EngineError, NodeUnreachable
from .execs import (
    ExecSpec,
    OutputStream,
    container_running,
    create_exec,
    masked_record,
    run_marker,
    start_exec,
    terminate,
    wait_exit,
)
from .models import ContainerResult, Execution, Status
from .nodes import Engine, NodePool
from .output import OutputSink, flush_ticker
from .store import Store
from .store.base import save_transition
from .watch import NodeWatch

STOP_GRACE_S = 3.0
#: exit codes of a process ended by a signal (128 + signal number)
_SIGNALLED = range(129, 160)
_CONTAINER_SETTLE_S = 2.0


async def killed_with_container(nodes: NodePool, engine: Engine, container_id: str, exit_code: int | None) -> str:
    """Why a target whose process died of a signal failed when its container stopped too, else ''."""
    if exit_code not in _SIGNALLED:
        return ""
    # the engine may report the exec's end a moment before it has noticed that the container died
    deadline = time.monotonic() + _CONTAINER_SETTLE_S
    try:
        while await container_running(nodes, engine, container_id):
            if time.monotonic() > deadline:
                return ""
            await asyncio.sleep(0.1)
    except EngineError:
        pass  # the container is gone altogether
    return f"container {container_id[:12]} stopped while this target ran (exit code {exit_code})"


@dataclass
class LiveTarget:
    """A target whose exec is running: what is needed to watch, stop or time it out."""

    engine: Engine
    container_id: str
    exec_id: str
    marker: str
    stream: OutputStream | None  #: None for an exec that recovery watches without its output
    stop_reason: str = ""
    terminating: asyncio.Task[None] | None = None
    stop_requested: asyncio.Event = field(default_factory=asyncio.Event)


@dataclass
class RunState:
    """Control state of one execution while it runs."""

    execution: Execution
    stop_reason: str = ""
    live: dict[int, LiveTarget] = field(default_factory=dict)
    task: asyncio.Task[None] | None = None


class TargetRunner:
    """Takes one target from STARTING to a final status; only `transition` changes its status."""

    def __init__(self, *, config: Config, store: Store, nodes: NodePool, watch: NodeWatch) -> None:
        self._config = config
        self._store = store
        self._nodes = nodes
        self._watch = watch

    async def run(self, run: RunState, state: dict[str, ContainerResult], spec: ExecSpec, secrets: list[str]) -> None:
        """Run one target; `state["result"]` always holds its latest record, for the caller's failure path."""
        result = state["result"]
        if run.stop_reason:
            state["result"] = await self._save(result, Status.CREATE_FAILED, error=f"{run.stop_reason} before start")
            return
        marker = run_marker(result.job_id, result.executor_id, result.index)
        try:
            engine = await self._nodes.engine_for(result.node_id)
            exec_id = await create_exec(
                self._nodes, engine, result.container_id, replace(spec, env=[*spec.env, marker])
            )
        except EngineError as e:
            if isinstance(e, NodeUnreachable):
                self._nodes.forget(result.node_id)  # re-resolve and re-verify it next time
            state["result"] = await self._save(result, Status.CREATE_FAILED, error=e.message)
            return
        result = state["result"] = await self._save(result, Status.CREATED, exec_id=exec_id)
        if run.stop_reason:
            state["result"] = await self._save(result, Status.CREATE_FAILED, error=f"{run.stop_reason} before start")
            return
        try:
            stream = await start_exec(self._nodes, engine, exec_id)
        except EngineError as e:
            state["result"] = await self._save(result, Status.RUNNING_FAILED, error=e.message)
            return
        result = state["result"] = await self._save(result, Status.RUNNING)
        live = run.live[result.index] = LiveTarget(engine, result.container_id, exec_id, marker, stream)
        timer = self._arm_timeout(run, live)
        redactor = Redactor(secrets)
        sink = OutputSink(
            self._store,
            result,
            redactor,
            limit_bytes=self._config.output_limit_bytes,
            chunk_bytes=self._config.output_chunk_bytes,
            flush_s=self._config.output_flush_s,
        )
        try:
            error = await self._pump(result.node_id, stream, sink)
        finally:
            if timer is not None:
                timer.cancel()
        await sink.close()
        state["result"] = await self._finish(result, live, error, sink, secrets, redactor)

    async def _finish(
        self,
        result: ContainerResult,
        live: LiveTarget,
        error: str,
        sink: OutputSink,
        secrets: list[str],
        redactor: Redactor,
    ) -> ContainerResult:
        output: dict[str, Any] = {"output_bytes": sink.stored_bytes, "output_truncated": sink.truncated}
        if live.terminating is not None:
            await asyncio.shield(live.terminating)
        if error and not live.stop_reason:
            return await self._save(result, Status.RUNNING_FAILED, error=error, **output)
        try:
            record = await wait_exit(self._nodes, live.engine, live.exec_id)
        except EngineError as e:
            reason = live.stop_reason or (
                f"the output ended, then the engine of node {result.node_id} could not say how the process ended"
                " (exit code unknown)"
            )
            return await self._save(result, Status.RUNNING_FAILED, error=f"{reason}: {e.message}", **output)
        inspect = masked_record(record, [len(x) for x in secrets], redactor.redact_text)
        exit_code = record.get("ExitCode")
        failure = live.stop_reason
        if not failure and record.get("Running"):
            failure = "the output ended but the engine still reports the process running; exit code unknown"
        elif not failure and record.get("Pid") == 0 and exit_code:
            # the runtime could not start the process (not found, not permitted): its message is the output
            failure = sink.head.decode(errors="replace").strip() or f"the process could not be started ({exit_code})"
        elif not failure:
            failure = await killed_with_container(self._nodes, live.engine, live.container_id, exit_code)
        if failure:
            return await self._save(
                result, Status.RUNNING_FAILED, error=failure, exit_code=exit_code, inspect=inspect, **output
            )
        return await self._save(result, Status.FINISHED, exit_code=exit_code, inspect=inspect, **output)

    async def _pump(self, node_id: str, stream: OutputStream, sink: OutputSink) -> str:
        """Copy the stream into the sink while a ticker flushes quiet output; return an error or ''."""
        quiet = asyncio.Event()
        ticker = asyncio.create_task(flush_ticker(sink, self._config.output_flush_s, quiet))
        try:
            with self._watch.watching(node_id, stream):
                async for chunk in stream.chunks():
                    await sink.write(chunk)
        except EngineError as e:
            return e.message
        finally:
            # never cancel the ticker: a flush it started holds a chunk that is not stored yet
            quiet.set()
            await ticker
        return ""

    # -- stopping and timeouts ----------------------------------------------------------------------

    def _arm_timeout(self, run: RunState, live: LiveTarget) -> asyncio.TimerHandle | None:
        timeout_s = run.execution.timeout_s
        if not timeout_s:
            return None
        return asyncio.get_running_loop().call_later(
            timeout_s, self.terminate, live, f"timed out after {timeout_s:g} s"
        )

    def terminate(self, live: LiveTarget, reason: str) -> None:
        """Stop one running target (idempotent): TERM, KILL after a grace; abort reading if that fails."""
        if live.stop_reason:
            return
        live.stop_reason = reason
        live.stop_requested.set()
        live.terminating = asyncio.create_task(self._kill(live, reason))

    async def _kill(self, live: LiveTarget, reason: str) -> None:
        try:
            await terminate(
                self._nodes, live.engine, live.container_id, live.exec_id, live.marker, grace_s=STOP_GRACE_S
            )
        except DceJobsError as e:
            live.stop_reason = f"{reason}; the process may still run: {e.message}"
            if live.stream is not None:
                live.stream.abort(live.stop_reason)

    async def _save(self, result: ContainerResult, status: Status, **changes: Any) -> ContainerResult:
        return await save_transition(self._store, result, status, **changes)
