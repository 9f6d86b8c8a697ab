"""Runs executions: checked targets, bounded fan-out, stop, retry, delete, shutdown and recovery."""

from __future__ import annotations

import asyncio
import logging
import shlex
import time
from collections import Counter, defaultdict
from collections.abc import Callable
from typing import Any

from .cipher import SecretBox
from .config import Config
from .errors import (
    Conflict,
    DceJobsError,
    InvalidInput,
    NotFound,
    OwnedElsewhere,
    SecretUndecryptable,
    ServiceUnavailable,
)
from .execs import ExecSpec
from .execution_run import ExecutionRun
from .leases import Owner
from .live import Broadcaster
from .models import (
    TRIGGER_MANUAL,
    TRIGGER_RETRY,
    TRIGGER_SCHEDULE,
    AuditEntry,
    ContainerResult,
    EndReason,
    Execution,
    Job,
    Rolling,
    Status,
    Target,
    new_executor_id,
    summarize,
)
from .nodes import NodePool
from .params import expand, resolve
from .recovery import RecoveredTarget
from .store import Store
from .target_run import STOP_GRACE_S, RunContext, TargetRun
from .targets import follow_slots as follow_task_slots
from .targets import resolve_container_ids, resolve_targets
from .watch import NodeWatch
from .writer import StoreWriter

log = logging.getLogger("dce_jobs.runner")

#: told (event, execution, results) when an execution starts ("start"), ends ("end") or is stopped on request
#: ("stop", also once it has ended); it must not block: it schedules its own work
Listener = Callable[[str, Execution, list[ContainerResult]], None]


class Runner:
    """Starts executions in the background and owns them until they end, recovered ones included."""

    def __init__(
        self, *, config: Config, store: Store, nodes: NodePool, box: SecretBox, owner: Owner | None = None
    ) -> None:
        self._config = config
        self.owner = owner or Owner(store=store, renew_s=config.lease_renew_s, expiry_s=config.lease_expiry_s)
        self._store = store
        self._nodes = nodes
        self._box = box
        self._writer = StoreWriter(store, max_pending_bytes=config.output_buffer_bytes)
        self._running = asyncio.Semaphore(config.max_running)  #: execs running at once; the rest wait STARTING
        self._runs: dict[tuple[str, str], ExecutionRun] = {}
        #: since start, for /metrics: ("started", ""), ("ended", state), ("target", "<status> <end reason>")
        self.counts: Counter[tuple[str, str]] = Counter()
        #: held while an execution of the job is recorded and registered, and while its deletion begins
        self._job_locks: dict[str, asyncio.Lock] = defaultdict(asyncio.Lock)
        #: jobs whose DELETE is under way: no execution of them may start any more
        self._deleting: set[str] = set()
        self._accepting = True
        self._recovery: asyncio.Task[int] | None = None
        self._leasing: asyncio.Task[None] | None = None
        self._leased = False  #: this process's lease was taken (and is dropped at a clean shutdown)
        self._recovered = asyncio.Event()  #: set once recovered executions are registered in _runs
        self._listeners: list[Listener] = []
        self._watch = NodeWatch(
            nodes,
            interval_s=1.0,
            lost_s=max(3.0, 2 * config.connect_timeout_s),
            ping_timeout_s=config.connect_timeout_s,
        )

    def listen(self, listener: Listener) -> None:
        """Tell `listener` about every execution's start, end and stop from now on."""
        self._listeners.append(listener)

    def _tell(self, event: str, execution: Execution, results: list[ContainerResult]) -> None:
        for listener in self._listeners:
            try:
                listener(event, execution, results)
            except Exception:  # a listener's fault never touches the run
                log.exception("listener of %s events failed on %s", event, execution.executor_id)

    def is_running(self, job_id: str, executor_id: str) -> bool:
        """True while this runner owns a live run of the execution."""
        return (job_id, executor_id) in self._runs

    def recover(self) -> asyncio.Task[int]:
        """Take this process's lease, then adopt, in the background, the runs of owners that are gone.

        Runs of other live replicas sharing the store are left to them; a lease loop renews ours and adopts
        the runs of any owner whose lease expires later on.
        """
        self._recovery = asyncio.create_task(self._recover(), name="recovery")
        return self._recovery

    async def _recover(self) -> int:
        try:
            await self.owner.renew()
            self._leased = True
            adopted = await self.adopt(legacy=True)
        finally:
            self._recovered.set()
        self._leasing = asyncio.create_task(self._keep_lease(), name="lease")
        return adopted

    async def _keep_lease(self) -> None:
        while True:
            await asyncio.sleep(self.owner.renew_s)
            try:
                await self.owner.renew()
                await self.adopt()
            except DceJobsError as e:
                log.warning("lease renewal or adoption failed (retried in %g s): %s", self.owner.renew_s, e.message)

    async def adopt(self, *, legacy: bool = False) -> int:
        """Register as runs of this process the unfinished executions of owners whose lease is gone.

        `legacy` (at start-up only) also takes those recorded without an owner, by a version before owners.
        """
        pending = await self._store.list_unfinished_results()
        groups: dict[tuple[str, str], list[ContainerResult]] = defaultdict(list)
        for result in pending:
            if (result.job_id, result.executor_id) not in self._runs:
                groups[(result.job_id, result.executor_id)].append(result)
        if not groups:
            return 0
        alive = await self.owner.alive()
        adopted = 0
        for (job_id, executor_id), results in groups.items():
            async with self._job_locks[job_id]:  # a DELETE collecting the job's runs sees this one, or none
                if job_id in self._deleting or (job_id, executor_id) in self._runs:
                    continue
                try:
                    execution = await self._store.get_execution(job_id, executor_id)
                except NotFound:
                    continue  # its job was deleted meanwhile
                if execution.owner_id in alive or not (execution.owner_id or legacy):
                    continue  # a live replica runs it (or this one, registering it right now)
                me = self.owner.owner_id
                if not await self._store.take_over_execution(
                    job_id, executor_id, from_owner=execution.owner_id, to_owner=me
                ):
                    continue  # another survivor adopted it first
                log.warning(
                    "adopting %d unfinished results of execution %s of job %s (owner %s is gone)",
                    len(results),
                    executor_id,
                    job_id,
                    execution.owner_id or "unknown",
                )
                self._register_recovered(execution.replace(owner_id=me), results)
                adopted += 1
        return adopted

    def _register_recovered(self, execution: Execution, results: list[ContainerResult]) -> None:
        context = self._context(execution)
        targets: list[TargetRun] = []
        for result in results:
            target = RecoveredTarget(result, context)
            target.watch_interval_s, target.node_lost_s = self._watch.interval_s, self._watch.lost_s
            targets.append(target)
        self._register(ExecutionRun(execution, targets, recovered=True))

    def _context(self, execution: Execution, **more: Any) -> RunContext:
        return RunContext(
            execution=execution,
            config=self._config,
            store=self._store,
            nodes=self._nodes,
            watch=self._watch,
            writer=self._writer,
            running=self._running,
            **more,
        )

    # -- starting -----------------------------------------------------------------------------------

    async def start(
        self,
        job: Job,
        requested: list[Target] | None,
        *,
        timeout_s: float | None = None,
        rolling: Rolling | None = None,
        container_ids: list[str] | None = None,
        schedule_id: str = "",
        params: dict[str, str] | None = None,
        started_by: str = "",
        trigger: str = TRIGGER_MANUAL,
    ) -> Execution:
        """Check the parameters and the targets, record the execution (and who started it) and run it.

        `container_ids` (a schedule's fixed targets) are found among the running tasks on whichever node.
        """
        self._check_accepting(job.job_id)
        values = resolve(job.params, params or {})
        tasks = await self._nodes.running_tasks(job.service_name)
        if container_ids is not None:
            targets = resolve_container_ids(job.service_name, container_ids, tasks)
        else:
            targets = resolve_targets(job.service_name, requested, tasks)
        by = _By(started_by, TRIGGER_SCHEDULE if schedule_id else trigger)
        return await self._launch(
            job.job_id, targets, timeout_s=timeout_s, rolling=rolling, schedule_id=schedule_id, params=values, by=by
        )

    async def retry(
        self,
        job: Job,
        executor_id: str,
        *,
        everything: bool = False,
        follow_slots: bool = True,
        attempt: int = 0,
        started_by: str = "",
    ) -> Execution:
        """Start the targets of an execution again: those that did not finish with exit code 0, or all.

        By default each target runs in the current task of its Swarm slot (Swarm may have replaced the
        container since); with follow_slots False only the very same containers are tried. `attempt` numbers
        an automatic retry (0: a manual one). The retried execution records the new one as RetriedBy.
        """
        self._check_accepting(job.job_id)
        previous = await self._store.get_execution(job.job_id, executor_id)
        # the values the retried run used, for the parameters the job still declares
        values = resolve(job.params, {k: v for k, v in previous.params.items() if k in {p.name for p in job.params}})
        results = await self._store.list_results(job.job_id, executor_id)
        if (job.job_id, executor_id) in self._runs or any(not r.status.is_final for r in results):
            raise InvalidInput(
                f"execution {executor_id} still has targets that have not ended; stop it or wait before a retry",
                error_id="execution_running",
            )
        again = [r for r in results if everything or not r.succeeded]
        if not again:
            raise InvalidInput(f"every target of {executor_id} finished with exit code 0", error_id="nothing_to_retry")
        tasks = await self._nodes.running_tasks(job.service_name)
        before = [_recorded_target(previous, r) for r in again]
        if follow_slots:
            now = follow_task_slots(before, tasks)
        else:
            running = {t.container_id for t in tasks}
            now = [t if t.container_id in running else None for t in before]
        targets = [current or old for current, old in zip(now, before, strict=True)]
        for target in targets:
            if target.previous_container_id:
                log.info(
                    "retry of %s: slot %s moved from container %s to %s",
                    executor_id,
                    target.slot,
                    target.previous_container_id[:12],
                    target.container_id[:12],
                )
        gone = frozenset(i for i, current in enumerate(now) if current is None)
        execution = await self._launch(
            job.job_id,
            targets,
            timeout_s=previous.timeout_s,
            rolling=previous.rolling,
            gone=gone,
            retry_of=executor_id,
            params=values,
            attempt=attempt,
            by=_By(started_by, TRIGGER_RETRY),
        )
        try:
            await self._store.update_execution(previous.replace(retried_by=execution.executor_id))
        except NotFound:
            pass  # swept or deleted meanwhile: the new execution still names it in RetryOf
        return execution

    def _timeout(self, *choices: float | None) -> float | None:
        """The first timeout given, else the server's default (so that nothing runs forever unless configured)."""
        chosen = next((c for c in choices if c is not None), None)
        if chosen is None and self._config.default_timeout_s > 0:
            return self._config.default_timeout_s
        return chosen

    def _check_accepting(self, job_id: str) -> None:
        if not self._accepting:
            raise ServiceUnavailable("the server is shutting down and starts no new runs")
        if job_id in self._deleting:
            raise NotFound(job_id, error_id="job_id_not_found")

    async def _launch(
        self,
        job_id: str,
        targets: list[Target],
        *,
        timeout_s: float | None,
        rolling: Rolling | None,
        gone: frozenset[int] = frozenset(),
        retry_of: str = "",
        schedule_id: str = "",
        params: dict[str, str] | None = None,
        attempt: int = 0,
        by: _By,
    ) -> Execution:
        # Recorded and registered under the job's lock, which a DELETE takes before it collects the job's runs:
        # a start either lands before (and is stopped by the delete) or finds the job gone.
        async with self._job_locks[job_id]:
            self._check_accepting(job_id)
            job = await self._store.get_job(job_id)  # the definition as of now, and NotFound once deleted
            timeout_s = self._timeout(timeout_s, job.timeout_s)
            execution, results = await self._record(
                job,
                targets,
                timeout_s,
                rolling or job.rolling,
                retry_of=retry_of,
                schedule_id=schedule_id,
                params=params or {},
                attempt=attempt,
                by=by,
            )
            self._register(self._prepare(job, execution, results, gone))
        self._tell("start", execution, results)
        return execution

    def _prepare(
        self, job: Job, execution: Execution, results: list[ContainerResult], gone: frozenset[int]
    ) -> ExecutionRun:
        """The run of a new execution: its targets with the command, secrets and bounds they share."""
        try:
            secrets = tuple(self._box.open(s) for s in job.secret_args)
            failure = ""
        except SecretUndecryptable as e:
            secrets, failure = (), e.message
        # substituted per word after the split: a value can never become further words or shell syntax
        argv = expand(shlex.split(job.cmd), execution.params)
        spec = ExecSpec(argv=argv + list(secrets), user=job.user, privileged=job.privileged, env=list(job.env))
        broadcaster = Broadcaster(results)
        context = self._context(execution, spec=spec, secrets=secrets, broadcaster=broadcaster)
        targets = [TargetRun(r, context) for r in results]
        for target in targets:
            if failure:
                target.cannot_start(failure, EndReason.CREATE_FAILED)
            elif target.result.index in gone:
                why = f"container {target.result.container_id[:12]} is no longer a running task of {job.service_name}"
                target.cannot_start(why, EndReason.CONTAINER_GONE)
        return ExecutionRun(execution, targets, broadcaster=broadcaster)

    def _register(self, run: ExecutionRun) -> None:
        self._runs[run.key] = run
        self.counts["started", ""] += 1
        run.task = asyncio.create_task(self._run_and_record(run), name=f"run {run.key[0]} {run.key[1]}")
        run.task.add_done_callback(lambda task: self._ended(run.key, task))

    async def _run_and_record(self, run: ExecutionRun) -> None:
        """Run the execution, then record its final state and end time (what statistics count)."""
        await run.run()
        summary = summarize([t.result for t in run.targets])
        self.counts["ended", summary.state.value] += 1
        for target in run.targets:
            reason = target.result.end_reason
            self.counts["target", f"{target.result.status.value} {reason.value if reason else ''}".strip()] += 1
        # one write: the statistics' state, end and duration, the history's Counts, and the job's LastRun
        await self._store.end_execution(
            run.execution, state=summary.state, ended_at=summary.ended_at or time.time(), counts=summary.counts
        )

    def running_targets(self) -> dict[str, int]:
        """Targets of live executions whose exec is created or running, per NodeId."""
        per_node: dict[str, int] = defaultdict(int)
        for run in list(self._runs.values()):
            for target in run.targets:
                if target.result.status in (Status.CREATED, Status.RUNNING):
                    per_node[target.result.node_id] += 1
        return dict(per_node)

    @property
    def running_executions(self) -> int:
        """Executions this process runs now (recovered ones included)."""
        return len(self._runs)

    def _ended(self, key: tuple[str, str], task: asyncio.Task[None]) -> None:
        run = self._runs.pop(key, None)
        if run is not None and run.broadcaster is not None:
            run.broadcaster.finish()
        if not task.cancelled() and task.exception() is not None:
            # every target has its own guard; this is a failure before or around them (e.g. the store)
            log.error("execution %s of job %s failed", key[1], key[0], exc_info=task.exception())
        elif run is not None:
            self._tell("end", run.execution, [t.result for t in run.targets])
            summary = summarize([t.result for t in run.targets])
            counts = ", ".join(f"{n} {outcome}" for outcome, n in summary.counts.items() if n)
            took_s = (summary.ended_at or time.time()) - run.execution.created_at
            what = "recovered execution" if run.recovered else "execution"
            log.info("%s %s of job %s ended %s: %s in %.1f s", what, key[1], key[0], summary.state, counts, took_s)

    async def _record(
        self,
        job: Job,
        targets: list[Target],
        timeout_s: float | None,
        rolling: Rolling,
        *,
        retry_of: str,
        schedule_id: str,
        params: dict[str, str],
        attempt: int,
        by: _By,
    ) -> tuple[Execution, list[ContainerResult]]:
        now_s = time.time()
        for clash in range(100):
            execution = Execution(
                job_id=job.job_id,
                executor_id=new_executor_id(now_s + clash * 1e-6),
                created_at=now_s,
                targets=tuple(targets),
                timeout_s=timeout_s,
                secret_lengths=tuple(s.length for s in job.secret_args),
                rolling=rolling,
                retry_of=retry_of,
                schedule_id=schedule_id,
                owner_id=self.owner.owner_id,
                trigger=by.trigger,
                started_by=by.user,
                app_name=job.app_name,
                service_name=job.service_name,
                params=params,
                retry_attempt=attempt,
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
                await self._store.create_execution(execution, results, audit=_start_audit(execution, job.name))
                return execution, results
            except Conflict:
                continue  # two starts of one job in the same microsecond: the ids must differ
        raise Conflict(job.job_id, error_id="executor_id_taken")

    # -- control ------------------------------------------------------------------------------------

    async def stop(self, job_id: str, executor_id: str, *, reason: str = "stopped") -> None:
        """Terminate the running execs of an execution; targets not yet started end CREATE_FAILED."""
        execution = await self._store.get_execution(job_id, executor_id)
        await self._recovered.wait()  # a recovered execution is stoppable as soon as the server answers
        await self._check_here(execution)
        self._tell("stop", execution, [])
        await self._stop_run(job_id, executor_id, reason, EndReason.STOPPED)

    async def _check_here(self, execution: Execution) -> None:
        """Raise OwnedElsewhere when another live replica runs this unfinished execution (adopt it if gone)."""
        key = (execution.job_id, execution.executor_id)
        if key in self._runs or execution.owner_id == self.owner.owner_id:
            return
        results = await self._store.list_results(*key)
        if all(r.status.is_final for r in results):
            return
        if execution.owner_id in await self.owner.alive():
            raise OwnedElsewhere(
                f"execution {execution.executor_id} is run by another replica of the service ({execution.owner_id});"
                " send the request to that replica, or wait for it to end",
                error_id="execution_owned_elsewhere",
            )
        await self.adopt()  # its owner is gone: this replica takes it over and controls it

    async def _stop_run(self, job_id: str, executor_id: str, reason: str, end_reason: EndReason) -> None:
        run = self._runs.get((job_id, executor_id))
        if run is None or run.task is None:
            return  # finished already: a no-op
        running = sum(1 for t in run.targets if t.live)
        log.info("execution %s of job %s: stopping (%s), %d targets running", executor_id, job_id, reason, running)
        run.stop(reason, end_reason)
        await asyncio.shield(run.task)

    async def resume(self, job_id: str, executor_id: str) -> None:
        """Let a paused rolling execution start its waiting targets again (a no-op otherwise)."""
        await self._check_here(await self._store.get_execution(job_id, executor_id))
        run = self._runs.get((job_id, executor_id))
        if run is not None and run.resume():
            log.info("execution %s of job %s resumed", executor_id, job_id)

    def broadcaster(self, job_id: str, executor_id: str) -> Broadcaster | None:
        """The live events of an execution running in this process (None when it is not)."""
        run = self._runs.get((job_id, executor_id))
        return None if run is None else run.broadcaster

    def is_paused(self, job_id: str, executor_id: str) -> bool:
        """True while a live rolling execution waits for a resume."""
        run = self._runs.get((job_id, executor_id))
        return run is not None and run.paused

    async def delete_job(self, job_id: str, *, deleted_by: str = "") -> None:
        """Refuse new starts of the job, stop its running executions, then remove it with all it recorded."""
        await self._recovered.wait()
        async with self._job_locks[job_id]:
            if job_id in self._deleting:
                raise NotFound(job_id, error_id="job_id_not_found")  # another DELETE of it is under way
            job = await self._store.get_job(job_id)
            for result in await self._store.list_unfinished_results(job_id=job_id):
                await self._check_here(await self._store.get_execution(job_id, result.executor_id))
            self._deleting.add(job_id)
        try:
            running = [executor_id for (j, executor_id) in list(self._runs) if j == job_id]
            await asyncio.gather(*(self._stop_run(job_id, e, "job deleted", EndReason.STOPPED) for e in running))
            audit = AuditEntry(at=time.time(), user=deleted_by, action="delete", job_id=job_id, job_name=job.name)
            await self._store.delete_job(job_id, audit=audit)
        finally:
            self._deleting.discard(job_id)
            self._job_locks.pop(job_id, None)

    # -- lifecycle ----------------------------------------------------------------------------------

    async def close(self, *, grace_s: float = 0.0) -> None:
        """Stop accepting runs, let running ones finish up to grace_s, then stop and record the rest."""
        self._accepting = False
        for lock in list(self._job_locks.values()):
            async with lock:  # a start past its checks registers its run before the snapshot below
                pass
        if self._recovery is not None and not self._recovered.is_set():
            self._recovery.cancel()
            await asyncio.gather(self._recovery, return_exceptions=True)
        pending = [r.task for r in self._runs.values() if r.task is not None]
        if pending and grace_s > 0:
            log.info("waiting up to %g s for %d running executions", grace_s, len(pending))
            await asyncio.wait(pending, timeout=grace_s)
        left = [(key, r) for key, r in self._runs.items() if r.task is not None and not r.task.done()]
        if left:
            # Docker would end these execs anyway when our connections close; stop them and say why
            log.warning("%d executions still running at shutdown after %g s: stopping them", len(left), grace_s)
            reason = f"the service shut down after waiting {grace_s:g} s for this target"
            stops = [
                self._stop_run(job_id, executor_id, reason, EndReason.SERVICE_SHUTDOWN)
                for (job_id, executor_id), _ in left
            ]
            await asyncio.wait([asyncio.ensure_future(s) for s in stops], timeout=STOP_GRACE_S + 5)
        tasks = [r.task for _, r in left if r.task is not None and not r.task.done()]
        await self._watch.close()
        background = [t for t in (self._recovery, self._leasing) if t is not None]
        for task in [*tasks, *background]:
            task.cancel()
        results = await asyncio.gather(*tasks, *background, return_exceptions=True)
        await self._writer.close()  # what the runs queued last is stored before the store closes
        for outcome in results:
            if isinstance(outcome, DceJobsError):
                log.warning("at shutdown: %s", outcome.message)
        if self._leased and not any(r.task is not None and not r.task.done() for r in self._runs.values()):
            try:
                await self.owner.release()  # nothing of ours runs: others need not wait for the lease to expire
            except DceJobsError as e:
                log.warning("at shutdown, the lease could not be released: %s", e.message)


def _recorded_target(execution: Execution, result: ContainerResult) -> Target:
    """The target a result ran on, as its execution recorded it (with its slot when known)."""
    if result.index < len(execution.targets):
        return execution.targets[result.index]
    return Target(container_id=result.container_id, node_id=result.node_id)


def _start_audit(execution: Execution, job_name: str) -> AuditEntry | None:
    """The audit entry of a start or retry by a user; a schedule's fire and an automatic retry have none.

    Those are no one's action (the schedule's own create/edit is audited); their Trigger and StartedBy say
    what started them in the execution history, and the fires list keeps each fire.
    """
    if execution.trigger == TRIGGER_SCHEDULE or execution.retry_attempt:
        return None
    return AuditEntry(
        at=execution.created_at,
        user=execution.started_by,
        action="retry" if execution.trigger == TRIGGER_RETRY else "start",
        job_id=execution.job_id,
        job_name=job_name,
        executor_id=execution.executor_id,
    )


class _By:
    """Who starts an execution and how (Execution.started_by and .trigger)."""

    def __init__(self, user: str, trigger: str) -> None:
        self.user = user
        self.trigger = trigger
