"""One target of an execution as one object: its result record, its live exec, its stop reason, its failure guard."""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, replace
from typing import Any

from .config import Config
from .errors import ContainerUnavailable, DceJobsError, EngineError, NodeUnreachable
from .execs import ExecSpec, container_running, create_exec, masked_record, run_marker, terminate, wait_exit
from .live import Broadcaster
from .models import ContainerResult, EndReason, Execution, Status, transition
from .nodes import EngineHandle, NodePool
from .output import OutputSink, flush_ticker
from .store import Store
from .stream import OutputStream, start_attached
from .watch import NodeWatch
from .writer import StoreWriter

log = logging.getLogger("dce_jobs.target_run")

STOP_GRACE_S = 3.0
#: exit codes of a process ended by a signal (128 + signal number)
_SIGNALLED = range(129, 160)
_CONTAINER_SETTLE_S = 2.0


@dataclass
class RunContext:
    """What the targets of one execution share."""

    execution: Execution
    config: Config
    store: Store
    nodes: NodePool
    watch: NodeWatch
    writer: StoreWriter  #: every result save and output chunk of the run goes through it, in order
    spec: ExecSpec | None = None  #: None for a recovered execution (its process was started by a previous run)
    secrets: tuple[str, ...] = ()
    running: asyncio.Semaphore | None = None  #: bounds the execs running at once (DCE_JOBS_MAX_RUNNING)
    broadcaster: Broadcaster | None = None  #: hears status changes and output as they happen (event streams)


class TargetRun:
    """Takes one target to a final status; `stop` reaches it whether it waits, runs or was recovered."""

    def __init__(self, result: ContainerResult, ctx: RunContext) -> None:
        self.result = result
        self._ctx = ctx
        self.engine: EngineHandle | None = None
        self.stream: OutputStream | None = None
        self.stop_reason = ""
        self._stop_end = EndReason.STOPPED
        self._terminating: asyncio.Task[None] | None = None
        self.stop_requested = asyncio.Event()
        self._doomed: tuple[str, EndReason] | None = None  #: known before the run that it cannot start

    def cannot_start(self, error: str, end_reason: EndReason) -> None:
        """Mark a target that will end CREATE_FAILED with this error when its turn comes (gone, no secrets)."""
        self._doomed = (error, end_reason)

    @property
    def marker(self) -> str:
        """The environment entry that identifies this target's processes in its container."""
        return run_marker(self.result.job_id, self.result.executor_id, self.result.index)

    @property
    def live(self) -> bool:
        """True while an exec of this target is known to run."""
        return self.engine is not None and self.result.status in (Status.CREATED, Status.RUNNING)

    # -- the one entry point of each path, guarded ---------------------------------------------------

    async def run(self) -> None:
        """Run the target; whatever goes wrong, it ends in a final status."""
        try:
            await self._body()
        except asyncio.CancelledError:
            raise
        except Exception as e:
            log.exception("target %s of %s failed unexpectedly", self.result.container_id[:12], self.result.executor_id)
            await self.end_unfinished(f"internal error: {type(e).__name__}", EndReason.INTERNAL_ERROR)

    # -- stopping -----------------------------------------------------------------------------------

    def stop(self, reason: str, end_reason: EndReason = EndReason.STOPPED) -> None:
        """Stop this target (idempotent): before it starts it ends CREATE_FAILED; a running one is terminated."""
        if self.stop_reason:
            return
        self.stop_reason, self._stop_end = reason, end_reason
        self.stop_requested.set()
        self.kill_if_stopped()

    def kill_if_stopped(self) -> None:
        """Terminate the exec of a target stopped before its exec was known to run (once)."""
        if self.stop_reason and self.live and self._terminating is None:
            self._terminating = asyncio.create_task(self._kill())

    async def _kill(self) -> None:
        assert self.engine is not None
        try:
            await terminate(
                self.engine, self.result.container_id, self.result.exec_id, self.marker, grace_s=STOP_GRACE_S
            )
        except DceJobsError as e:
            self.stop_reason = f"{self.stop_reason}; the process may still run: {e.message}"
            if self.stream is not None:
                self.stream.abort(self.stop_reason)

    async def stopped_record(self) -> dict[str, Any] | None:
        """After a stop: wait for the termination under way, then the exec's last record (None if unknown)."""
        if self._terminating is not None:
            await asyncio.shield(self._terminating)
        if self.engine is None:
            return None
        try:
            return await wait_exit(self.engine, self.result.exec_id, timeout_s=1.0)
        except DceJobsError:
            return None

    # -- saving -------------------------------------------------------------------------------------

    async def save(self, status: Status, **changes: Any) -> None:
        """Move the record to `status` through the state machine and store it (batched with other targets')."""
        self.result = transition(self.result, status, **changes)
        await self._ctx.writer.save_result(self.result)
        if self._ctx.broadcaster is not None:
            self._ctx.broadcaster.status(self.result)

    async def end_before_start(self, error: str, end_reason: EndReason) -> None:
        """End a target that never started (waiting, or its exec only created)."""
        await self.save(Status.CREATE_FAILED, error=error, end_reason=end_reason)

    async def end_unfinished(self, error: str, end_reason: EndReason) -> None:
        """End the record if it is not final yet: CREATE_FAILED before its exec was created, else RUNNING_FAILED."""
        if not self.result.status.is_final:
            failed = Status.CREATE_FAILED if self.result.status is Status.STARTING else Status.RUNNING_FAILED
            await self.save(failed, error=error, end_reason=end_reason)

    # -- the live path ------------------------------------------------------------------------------

    async def _body(self) -> None:
        if self._doomed is not None:
            await self.end_before_start(*self._doomed)
            return
        running = self._ctx.running
        if running is None:
            await self._run_exec()
            return
        if not await self._acquire_unless_stopped(running):
            await self.end_before_start(f"{self.stop_reason} before start", self._stop_end)
            return
        try:
            await self._run_exec()
        finally:
            running.release()

    async def _acquire_unless_stopped(self, running: asyncio.Semaphore) -> bool:
        """Wait for a running slot; False (holding none) when the target is stopped first."""
        acquire = asyncio.ensure_future(running.acquire())
        stopped = asyncio.ensure_future(self.stop_requested.wait())
        await asyncio.wait({acquire, stopped}, return_when=asyncio.FIRST_COMPLETED)
        stopped.cancel()
        if not acquire.done():
            acquire.cancel()
        await asyncio.wait({acquire})  # let the cancellation land (or the acquisition that beat it)
        if acquire.cancelled():
            return False
        if self.stop_reason:
            running.release()
            return False
        return True

    async def _run_exec(self) -> None:
        ctx, result = self._ctx, self.result
        assert ctx.spec is not None
        if self.stop_reason:
            await self.end_before_start(f"{self.stop_reason} before start", self._stop_end)
            return
        try:
            self.engine = await ctx.nodes.engine_for(result.node_id)
            exec_id = await create_exec(
                self.engine, result.container_id, replace(ctx.spec, env=[*ctx.spec.env, self.marker])
            )
        except EngineError as e:
            if isinstance(e, NodeUnreachable):
                ctx.nodes.forget(result.node_id)  # re-resolve and re-verify it next time
            await self.end_before_start(e.message, _create_failure(e))
            return
        await self.save(Status.CREATED, exec_id=exec_id)
        if self.stop_reason:
            await self.end_before_start(f"{self.stop_reason} before start", self._stop_end)
            return
        try:
            self.stream = await start_attached(self.engine, exec_id)
        except EngineError as e:
            await self.save(Status.RUNNING_FAILED, error=e.message, end_reason=_engine_failure(e))
            return
        await self.save(Status.RUNNING)
        timer = self._arm_timeout()
        sink = OutputSink(
            ctx.writer,
            self.result,
            ctx.secrets,
            limit_bytes=ctx.config.output_limit_bytes,
            chunk_bytes=ctx.config.output_chunk_bytes,
            flush_s=ctx.config.output_flush_s,
            listener=ctx.broadcaster,
        )
        try:
            error = await self._pump(sink)
        finally:
            if timer is not None:
                timer.cancel()
        await sink.close()
        await self._finish(error, sink)

    def _arm_timeout(self) -> asyncio.TimerHandle | None:
        timeout_s = self._ctx.execution.timeout_s
        if not timeout_s:
            return None
        return asyncio.get_running_loop().call_later(
            timeout_s, self.stop, f"timed out after {timeout_s:g} s", EndReason.TIMED_OUT
        )

    async def _pump(self, sink: OutputSink) -> EngineError | None:
        """Copy the stream into the sink while a ticker flushes quiet output; return the error that ended it."""
        assert self.stream is not None
        quiet = asyncio.Event()
        ticker = asyncio.create_task(flush_ticker(sink, self._ctx.config.output_flush_s, quiet))
        try:
            with self._ctx.watch.watching(self.result.node_id, self.stream):
                async for stream, chunk in self.stream.frames():
                    await sink.write(stream, chunk)
        except EngineError as e:
            return e
        finally:
            # never cancel the ticker: a flush it started holds a chunk that is not stored yet
            quiet.set()
            await ticker
        return None

    async def _finish(self, error: EngineError | None, sink: OutputSink) -> None:
        assert self.engine is not None
        output: dict[str, Any] = {"output_bytes": sink.stored_bytes, "output_truncated": sink.truncated}
        if self._terminating is not None:
            await asyncio.shield(self._terminating)
        if error is not None and not self.stop_reason:
            await self.save(Status.RUNNING_FAILED, error=error.message, end_reason=_engine_failure(error), **output)
            return
        try:
            record = await wait_exit(self.engine, self.result.exec_id)
        except EngineError as e:
            why = self.stop_reason or (
                f"the output ended, then the engine of node {self.result.node_id} could not say how the process"
                " ended (exit code unknown)"
            )
            reason = self._stop_end if self.stop_reason else _engine_failure(e)
            await self.save(Status.RUNNING_FAILED, error=f"{why}: {e.message}", end_reason=reason, **output)
            return
        secrets = self._ctx.secrets
        inspect = masked_record(record, [len(x) for x in secrets], sink.redact_text)
        exit_code = record.get("ExitCode")
        failure, end_reason = self._failure(record, sink)
        if not failure:
            failure = await killed_with_container(self.engine, self.result.container_id, exit_code)
            end_reason = EndReason.CONTAINER_GONE
        if failure:
            await self.save(
                Status.RUNNING_FAILED,
                error=failure,
                exit_code=exit_code,
                inspect=inspect,
                end_reason=end_reason,
                **output,
            )
            return
        await self.save(Status.FINISHED, exit_code=exit_code, inspect=inspect, **output)

    def _failure(self, record: dict[str, Any], sink: OutputSink) -> tuple[str, EndReason]:
        """Why an exec whose output ended failed, from its record: ('', ...) when it did not."""
        if self.stop_reason:
            return self.stop_reason, self._stop_end
        if record.get("Running"):
            return (
                "the output ended but the engine still reports the process running; exit code unknown",
                EndReason.ENGINE_ERROR,
            )
        exit_code = record.get("ExitCode")
        if record.get("Pid") == 0 and exit_code:
            # the runtime could not start the process (not found, not permitted): its message is the output
            message = sink.head.decode(errors="replace").strip()
            return message or f"the process could not be started ({exit_code})", EndReason.START_FAILED
        return "", EndReason.EXITED


async def killed_with_container(engine: EngineHandle, container_id: str, exit_code: int | None) -> str:
    """Why a target whose process died of a signal failed when its container stopped too, else ''."""
    if exit_code not in _SIGNALLED:
        return ""
    # the engine may report the exec's end a moment before it has noticed that the container died
    deadline = time.monotonic() + _CONTAINER_SETTLE_S
    try:
        while await container_running(engine, container_id):
            if time.monotonic() > deadline:
                return ""
            await asyncio.sleep(0.1)
    except EngineError:
        pass  # the container is gone altogether
    return f"container {container_id[:12]} stopped while this target ran (exit code {exit_code})"


def _create_failure(error: EngineError) -> EndReason:
    return _engine_failure(error, otherwise=EndReason.CREATE_FAILED)


def _engine_failure(error: EngineError, *, otherwise: EndReason = EndReason.ENGINE_ERROR) -> EndReason:
    """The end reason an engine error stands for."""
    if isinstance(error, NodeUnreachable):
        return EndReason.NODE_LOST
    if isinstance(error, ContainerUnavailable):
        return EndReason.CONTAINER_GONE
    return otherwise
