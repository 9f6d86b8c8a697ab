"""Runs executions: checked targets, bounded fan-out, status changes, output persistence, node watch."""

from __future__ import annotations

import asyncio
import logging
import shlex
import time
from collections import defaultdict
from typing import Any

from .cipher import Redactor, SecretBox, mask
from .config import Config
from .errors import Conflict, DceJobsError, EngineError, SecretUndecryptable, ServiceUnavailable
from .execs import ExecSpec, OutputStream, create_exec, start_exec, wait_exit
from .models import ContainerResult, Execution, Job, Status, Target, new_executor_id, transition
from .nodes import NodePool, ping_engine
from .output import OutputSink
from .store import Store
from .targets import resolve_targets

log = logging.getLogger("dce_jobs.runner")


class Runner:
    """Starts executions in the background and owns their tasks until they end."""

    def __init__(self, *, config: Config, store: Store, nodes: NodePool, box: SecretBox) -> None:
        self._config = config
        self._store = store
        self._nodes = nodes
        self._box = box
        self._global = asyncio.Semaphore(config.global_concurrency)
        self._per_node: dict[str, asyncio.Semaphore] = defaultdict(lambda: asyncio.Semaphore(config.node_concurrency))
        self._runs: dict[tuple[str, str], asyncio.Task[None]] = {}
        self._streams: dict[str, set[OutputStream]] = defaultdict(set)
        self._watchers: dict[str, asyncio.Task[None]] = {}
        self._accepting = True
        self.watch_interval_s = 1.0
        self.node_lost_s = max(3.0, 2 * config.connect_timeout_s)

    async def start(self, job: Job, requested: list[Target] | None, *, timeout_s: float | None = None) -> Execution:
        """Check the targets, record the execution and run it in the background."""
        if not self._accepting:
            raise ServiceUnavailable("the server is shutting down and starts no new runs")
        tasks = await self._nodes.running_tasks(job.service_name)
        targets = resolve_targets(job.service_name, requested, tasks)
        execution = await self._record(job, targets, timeout_s)
        run = asyncio.create_task(self._run(job, execution), name=f"run {job.job_id} {execution.executor_id}")
        key = (job.job_id, execution.executor_id)
        self._runs[key] = run
        run.add_done_callback(lambda _: self._runs.pop(key, None))
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

    async def _run(self, job: Job, execution: Execution) -> None:
        results = await self._store.list_results(job.job_id, execution.executor_id)
        try:
            secrets = [self._box.open(s) for s in job.secret_args]
        except SecretUndecryptable as e:
            for result in results:
                await self._save(result, Status.CREATE_FAILED, error=e.message)
            return
        spec = ExecSpec(
            argv=shlex.split(job.cmd) + secrets, user=job.user, privileged=job.privileged, env=list(job.env)
        )
        await asyncio.gather(*(self._guarded(result, spec, secrets) for result in results))

    async def _guarded(self, result: ContainerResult, spec: ExecSpec, secrets: list[str]) -> None:
        """Run one target; whatever goes wrong, it ends in a final status."""
        state = {"result": result}
        try:
            async with self._global, self._per_node[result.node_id]:
                await self._run_target(state, spec, secrets)
        except asyncio.CancelledError:
            raise
        except Exception as e:
            log.exception("target %s of %s failed unexpectedly", result.container_id[:12], result.executor_id)
            current = state["result"]
            if not current.status.is_final:
                failed = Status.CREATE_FAILED if current.status is Status.STARTING else Status.RUNNING_FAILED
                await self._save(current, failed, error=f"internal error: {type(e).__name__}")

    async def _run_target(self, state: dict[str, ContainerResult], spec: ExecSpec, secrets: list[str]) -> None:
        result = state["result"]
        try:
            engine = await self._nodes.engine_for(result.node_id)
            exec_id = await create_exec(self._nodes, engine, result.container_id, spec)
        except EngineError as e:
            self._nodes.forget(result.node_id)
            state["result"] = await self._save(result, Status.CREATE_FAILED, error=e.message)
            return
        result = state["result"] = await self._save(result, Status.CREATED, exec_id=exec_id)
        try:
            stream = await start_exec(self._nodes, engine, exec_id)
        except EngineError as e:
            state["result"] = await self._save(result, Status.RUNNING_FAILED, error=e.message)
            return
        result = state["result"] = await self._save(result, Status.RUNNING)
        redactor = Redactor(secrets)
        sink = OutputSink(
            self._store,
            result,
            redactor,
            limit_bytes=self._config.output_limit_bytes,
            chunk_bytes=self._config.output_chunk_bytes,
            flush_s=self._config.output_flush_s,
        )
        error = await self._pump(result.node_id, stream, sink)
        await sink.close()
        output = {"output_bytes": sink.stored_bytes, "output_truncated": sink.truncated}
        if error:
            state["result"] = await self._save(result, Status.RUNNING_FAILED, error=error, **output)
            return
        try:
            record = await wait_exit(self._nodes, engine, exec_id)
        except EngineError as e:
            state["result"] = await self._save(
                result, Status.RUNNING_FAILED, error=f"output complete, exit code unknown: {e.message}", **output
            )
            return
        inspect = masked_inspect(record, secrets, redactor)
        state["result"] = await self._save(
            result, Status.FINISHED, exit_code=record.get("ExitCode"), inspect=inspect, **output
        )

    async def _pump(self, node_id: str, stream: OutputStream, sink: OutputSink) -> str:
        """Copy the stream into the sink while a ticker flushes quiet output; return an error or ''."""
        self._streams[node_id].add(stream)
        self._ensure_watch(node_id)
        ticker = asyncio.create_task(_tick(sink, self._config.output_flush_s))
        try:
            async for chunk in stream.chunks():
                await sink.write(chunk)
        except EngineError as e:
            return e.message
        finally:
            ticker.cancel()
            self._streams[node_id].discard(stream)
        return ""

    def _ensure_watch(self, node_id: str) -> None:
        if node_id not in self._watchers or self._watchers[node_id].done():
            self._watchers[node_id] = asyncio.create_task(self._watch(node_id), name=f"watch {node_id}")

    async def _watch(self, node_id: str) -> None:
        """While targets stream on a node, ping its engine; abort them when it is lost for node_lost_s."""
        lost_since: float | None = None
        while self._streams[node_id]:
            await asyncio.sleep(self.watch_interval_s)
            try:
                await ping_engine(self._nodes, node_id, timeout_s=self._config.connect_timeout_s)
                lost_since = None
            except DceJobsError as e:
                lost_since = lost_since or time.monotonic()
                if time.monotonic() - lost_since >= self.node_lost_s:
                    log.warning(
                        "node %s lost: %s; failing its %d running targets",
                        node_id,
                        e.message,
                        len(self._streams[node_id]),
                    )
                    for stream in list(self._streams[node_id]):
                        stream.abort(f"node {node_id} unreachable for {self.node_lost_s:g} s: {e.message}")
                    self._nodes.forget(node_id)

    async def _save(self, result: ContainerResult, status: Status, **changes: Any) -> ContainerResult:
        updated = transition(result, status, **changes)
        await self._store.save_result(updated)
        return updated

    async def delete_job(self, job_id: str) -> None:
        """Stop the job's running executions, then remove it with all it recorded."""
        await self._store.get_job(job_id)
        runs = [task for (j, _), task in self._runs.items() if j == job_id]
        for task in runs:
            task.cancel()
        await asyncio.gather(*runs, return_exceptions=True)
        await self._store.delete_job(job_id)

    async def close(self) -> None:
        """Stop accepting runs and cancel what is still running."""
        self._accepting = False
        tasks = [*self._runs.values(), *self._watchers.values()]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def wait_idle(self) -> None:
        """Wait until no execution runs (tests and shutdown)."""
        while self._runs:
            await asyncio.gather(*list(self._runs.values()), return_exceptions=True)


async def _tick(sink: OutputSink, every_s: float) -> None:
    while True:
        await asyncio.sleep(every_s)
        await sink.flush_if_stale()


def masked_inspect(record: dict[str, Any], secrets: list[str], redactor: Redactor) -> dict[str, Any]:
    """Exec-inspect fields with the secret arguments replaced by their masks."""
    inspect = dict(record)
    inspect.pop("ExitCode", None)
    config = dict(inspect.get("ProcessConfig") or {})
    arguments = list(config.get("arguments") or [])
    if secrets and len(arguments) >= len(secrets):
        arguments[-len(secrets) :] = [mask(len(s)) for s in secrets]
    config["arguments"] = [redactor.redact_text(a) for a in arguments]
    if "entrypoint" in config:
        config["entrypoint"] = redactor.redact_text(str(config["entrypoint"]))
    inspect["ProcessConfig"] = config
    return inspect
