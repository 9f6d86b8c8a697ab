"""Runs executions: checked targets, bounded fan-out, status changes, output, stop and timeouts."""

from __future__ import annotations

import asyncio
import logging
import shlex
import time
from collections import defaultdict
from dataclasses import dataclass, field, replace
from typing import Any

from .cipher import Redactor, SecretBox
from .config import Config
from .errors import Conflict, DceJobsError, EngineError, InvalidInput, SecretUndecryptable, ServiceUnavailable
from .execs import ExecSpec, OutputStream, create_exec, masked_record, run_marker, start_exec, terminate, wait_exit
from .models import ContainerResult, Execution, Job, Status, Target, new_executor_id
from .nodes import Engine, NodePool
from .output import OutputSink, flush_ticker
from .recovery import Recovery
from .store import Store
from .store.base import save_transition
from .targets import resolve_targets
from .watch import NodeWatch

log = logging.getLogger("dce_jobs.runner")

STOP_GRACE_S = 3.0


@dataclass
class _Live:
    """A target whose exec is running: what is needed to watch, stop or time it out."""

    engine: Engine
    container_id: str
    exec_id: str
    marker: str
    stream: OutputStream
    stop_reason: str = ""
    terminating: asyncio.Task[None] | None = None


@dataclass
class _Run:
    """Control state of one execution while it runs."""

    execution: Execution
    stop_reason: str = ""
    live: dict[int, _Live] = field(default_factory=dict)
    task: asyncio.Task[None] | None = None


class Runner:
    """Starts executions in the background and owns them until they end."""

    def __init__(self, *, config: Config, store: Store, nodes: NodePool, box: SecretBox) -> None:
        self._config = config
        self._store = store
        self._nodes = nodes
        self._box = box
        self._global = asyncio.Semaphore(config.global_concurrency)
        self._per_node: dict[str, asyncio.Semaphore] = defaultdict(lambda: asyncio.Semaphore(config.node_concurrency))
        self._runs: dict[tuple[str, str], _Run] = {}
        self._accepting = True
        self._recovery: asyncio.Task[int] | None = None
        self._watch = NodeWatch(
            nodes,
            interval_s=1.0,
            lost_s=max(3.0, 2 * config.connect_timeout_s),
            ping_timeout_s=config.connect_timeout_s,
        )

    def recover(self) -> asyncio.Task[int]:
        """Reconcile, in the background, what a previous process left unfinished."""
        recovery = Recovery(
            store=self._store,
            nodes=self._nodes,
            watch_interval_s=self._watch.interval_s,
            node_lost_s=self._watch.lost_s,
        )
        self._recovery = asyncio.create_task(recovery.run(), name="recovery")
        return self._recovery

    # -- starting -----------------------------------------------------------------------------------

    async def start(self, job: Job, requested: list[Target] | None, *, timeout_s: float | None = None) -> Execution:
        """Check the targets against the Swarm, record the execution and run it in the background."""
        self._check_accepting()
        tasks = await self._nodes.running_tasks(job.service_name)
        targets = resolve_targets(job.service_name, requested, tasks)
        return await self._launch(job, targets, timeout_s=self._timeout(timeout_s, job.timeout_s))

    async def retry(self, job: Job, executor_id: str, *, everything: bool = False) -> Execution:
        """Start the targets of an execution again: those that did not finish with exit code 0, or all."""
        self._check_accepting()
        previous = await self._store.get_execution(job.job_id, executor_id)
        results = await self._store.list_results(job.job_id, executor_id)
        again = [r for r in results if everything or not (r.status is Status.FINISHED and r.exit_code == 0)]
        if not again:
            raise InvalidInput(f"every target of {executor_id} finished with exit code 0", error_id="nothing_to_retry")
        running = {(t.container_id, t.node_id) for t in await self._nodes.running_tasks(job.service_name)}
        targets = [Target(container_id=r.container_id, node_id=r.node_id) for r in again]
        gone = frozenset(i for i, t in enumerate(targets) if (t.container_id, t.node_id) not in running)
        timeout_s = self._timeout(previous.timeout_s, job.timeout_s)
        return await self._launch(job, targets, timeout_s=timeout_s, gone=gone)

    def _timeout(self, *choices: float | None) -> float | None:
        """The first timeout given, else the server's default (so that nothing runs forever unless configured)."""
        chosen = next((c for c in choices if c is not None), None)
        if chosen is None and self._config.default_timeout_s > 0:
            return self._config.default_timeout_s
        return chosen

    def _check_accepting(self) -> None:
        if not self._accepting:
            raise ServiceUnavailable("the server is shutting down and starts no new runs")

    async def _launch(
        self, job: Job, targets: list[Target], *, timeout_s: float | None, gone: frozenset[int] = frozenset()
    ) -> Execution:
        execution = await self._record(job, targets, timeout_s)
        run = _Run(execution=execution)
        key = (job.job_id, execution.executor_id)
        self._runs[key] = run
        run.task = asyncio.create_task(self._run(job, run, gone), name=f"run {job.job_id} {execution.executor_id}")
        run.task.add_done_callback(lambda _: self._runs.pop(key, None))
        return execution

    async def _record(self, job: Job, targets: list[Target], timeout_s: float | None) -> Execution:
        now_s = time.time()
        for attempt in range(100):
            execution = Execution(
                job_id=job.job_id,
                executor_id=new_executor_id(now_s + attempt * 1e-6),
                created_at=now_s,
                targets=tuple(targets),
                timeout_s=timeout_s,
            )
            results = [
                ContainerResult(
                    job_id=job.job_id,
                    executor_id=execution.executor_id,
                    index=i,
                    container_id=t.container_id,
                    node_id=t.node_id,
                )
                for i, t in enumerate(targets)
            ]
            try:
                await self._store.create_execution(execution, results)
                return execution
            except Conflict:
                continue  # two starts of one job in the same microsecond: the ids must differ
        raise Conflict(job.job_id, error_id="executor_id_taken")

    # -- running ------------------------------------------------------------------------------------

    async def _run(self, job: Job, run: _Run, gone: frozenset[int]) -> None:
        results = await self._store.list_results(job.job_id, run.execution.executor_id)
        try:
            secrets = [self._box.open(s) for s in job.secret_args]
        except SecretUndecryptable as e:
            for result in results:
                await self._save(result, Status.CREATE_FAILED, error=e.message)
            return
        spec = ExecSpec(
            argv=shlex.split(job.cmd) + secrets, user=job.user, privileged=job.privileged, env=list(job.env)
        )
        for index in gone:
            results[index] = await self._save(
                results[index],
                Status.CREATE_FAILED,
                error=f"container {results[index].container_id[:12]} is no longer a running task of {job.service_name}",
            )
        await asyncio.gather(*(self._guarded(run, r, spec, secrets) for r in results if r.index not in gone))

    async def _guarded(self, run: _Run, result: ContainerResult, spec: ExecSpec, secrets: list[str]) -> None:
        """Run one target; whatever goes wrong, it ends in a final status."""
        state = {"result": result}
        try:
            async with self._global, self._per_node[result.node_id]:
                await self._run_target(run, state, spec, secrets)
        except asyncio.CancelledError:
            raise
        except Exception as e:
            log.exception("target %s of %s failed unexpectedly", result.container_id[:12], result.executor_id)
            current = state["result"]
            if not current.status.is_final:
                failed = Status.CREATE_FAILED if current.status is Status.STARTING else Status.RUNNING_FAILED
                await self._save(current, failed, error=f"internal error: {type(e).__name__}")
        finally:
            run.live.pop(result.index, None)

    async def _run_target(
        self, run: _Run, state: dict[str, ContainerResult], spec: ExecSpec, secrets: list[str]
    ) -> None:
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
            self._nodes.forget(result.node_id)
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
        live = run.live[result.index] = _Live(engine, result.container_id, exec_id, marker, stream)
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
        self, result: ContainerResult, live: _Live, error: str, sink: OutputSink, secrets: list[str], redactor: Redactor
    ) -> ContainerResult:
        output: dict[str, Any] = {"output_bytes": sink.stored_bytes, "output_truncated": sink.truncated}
        if live.terminating is not None:
            await asyncio.shield(live.terminating)
        if error and not live.stop_reason:
            return await self._save(result, Status.RUNNING_FAILED, error=error, **output)
        try:
            record = await wait_exit(self._nodes, live.engine, live.exec_id)
        except EngineError as e:
            reason = live.stop_reason or "output complete, exit code unknown"
            return await self._save(result, Status.RUNNING_FAILED, error=f"{reason}: {e.message}", **output)
        inspect = masked_record(record, [len(x) for x in secrets], redactor.redact_text)
        exit_code = record.get("ExitCode")
        failure = live.stop_reason
        if not failure and record.get("Running"):
            failure = "the output ended but the engine still reports the process running; exit code unknown"
        elif not failure and record.get("Pid") == 0 and exit_code:
            # the runtime could not start the process (not found, not permitted): its message is the output
            failure = sink.head.decode(errors="replace").strip() or f"the process could not be started ({exit_code})"
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

    def _arm_timeout(self, run: _Run, live: _Live) -> asyncio.TimerHandle | None:
        timeout_s = run.execution.timeout_s
        if not timeout_s:
            return None
        return asyncio.get_running_loop().call_later(
            timeout_s, self._terminate, live, f"timed out after {timeout_s:g} s"
        )

    def _terminate(self, live: _Live, reason: str) -> None:
        """Stop one running target (idempotent): TERM, KILL after a grace; abort reading if that fails."""
        if live.stop_reason:
            return
        live.stop_reason = reason
        live.terminating = asyncio.create_task(self._kill(live, reason))

    async def _kill(self, live: _Live, reason: str) -> None:
        try:
            await terminate(
                self._nodes, live.engine, live.container_id, live.exec_id, live.marker, grace_s=STOP_GRACE_S
            )
        except DceJobsError as e:
            live.stop_reason = f"{reason}; the process may still run: {e.message}"
            live.stream.abort(live.stop_reason)

    async def stop(self, job_id: str, executor_id: str, *, reason: str = "stopped") -> None:
        """Terminate the running execs of an execution; targets not yet started end CREATE_FAILED."""
        await self._store.get_execution(job_id, executor_id)
        run = self._runs.get((job_id, executor_id))
        if run is None or run.task is None:
            return  # finished already: a no-op
        run.stop_reason = reason
        for live in list(run.live.values()):
            self._terminate(live, reason)
        await asyncio.shield(run.task)

    async def delete_job(self, job_id: str) -> None:
        """Stop the job's running executions, then remove it with all it recorded."""
        await self._store.get_job(job_id)
        running = [executor_id for (j, executor_id) in self._runs if j == job_id]
        await asyncio.gather(*(self.stop(job_id, e, reason="job deleted") for e in running))
        await self._store.delete_job(job_id)

    # -- lifecycle ----------------------------------------------------------------------------------

    async def _save(self, result: ContainerResult, status: Status, **changes: Any) -> ContainerResult:
        return await save_transition(self._store, result, status, **changes)

    async def close(self, *, grace_s: float = 0.0) -> None:
        """Stop accepting runs, let running ones finish up to grace_s, then stop and record the rest."""
        self._accepting = False
        pending = [r.task for r in self._runs.values() if r.task is not None]
        if pending and grace_s > 0:
            log.info("waiting up to %g s for %d running executions", grace_s, len(pending))
            await asyncio.wait(pending, timeout=grace_s)
        left = [(key, r) for key, r in self._runs.items() if r.task is not None and not r.task.done()]
        if left:
            # Docker would end these execs anyway when our connections close; stop them and say why
            log.warning("%d executions still running at shutdown after %g s: stopping them", len(left), grace_s)
            reason = f"the service shut down after waiting {grace_s:g} s for this target"
            stops = [self.stop(job_id, executor_id, reason=reason) for (job_id, executor_id), _ in left]
            await asyncio.wait([asyncio.ensure_future(s) for s in stops], timeout=STOP_GRACE_S + 5)
        tasks = [r.task for _, r in left if r.task is not None and not r.task.done()]
        await self._watch.close()
        background = [self._recovery] if self._recovery else []
        for task in [*tasks, *background]:
            task.cancel()
        await asyncio.gather(*tasks, *background, return_exceptions=True)

    async def wait_idle(self) -> None:
        """Wait until no execution runs."""
        while self._runs:
            await asyncio.gather(
                *(r.task for r in list(self._runs.values()) if r.task is not None), return_exceptions=True
            )
