"""Builders of jobs, executions and results for the store tests."""

from __future__ import annotations

import uuid
from typing import Any

from dce_jobs.models import ContainerResult, Execution, Job, Target
from dce_jobs.store.base import Store


def make_job(name: str = "backup", app_name: str = "shop", **changes: Any) -> Job:
    """A job with a fresh id."""
    fields: dict[str, Any] = {
        "job_id": uuid.uuid4().hex,
        "app_name": app_name,
        "service_name": "web",
        "name": name,
        "cmd": "echo hi",
        "created_at": 1000.0,
        "updated_at": 1000.0,
    }
    return Job(**{**fields, **changes})


def make_execution(job: Job, executor_id: str, created_at: float, targets: int = 2) -> Execution:
    """An execution of `job` on `targets` containers, with the job's AppName and service as the runner gives it."""
    return Execution(
        job_id=job.job_id,
        executor_id=executor_id,
        created_at=created_at,
        targets=tuple(Target(container_id=f"c{i}" * 8, node_id=f"n{i}") for i in range(targets)),
        timeout_s=30.0,
        app_name=job.app_name,
        service_name=job.service_name,
    )


def results_of(execution: Execution) -> list[ContainerResult]:
    """The initial STARTING results of an execution."""
    return [
        ContainerResult(
            job_id=execution.job_id,
            executor_id=execution.executor_id,
            index=i,
            container_id=t.container_id,
            node_id=t.node_id,
            updated_at=execution.created_at,
        )
        for i, t in enumerate(execution.targets)
    ]


async def started(
    store: Store, job: Job, executor_id: str, created_at: float, targets: int = 2
) -> list[ContainerResult]:
    """Store an execution of `job` and return its initial results."""
    execution = make_execution(job, executor_id, created_at, targets)
    results = results_of(execution)
    await store.create_execution(execution, results)
    return results


async def read_output(store: Store, result: ContainerResult) -> list[bytes]:
    """All output chunks of one target, in order."""
    return [chunk async for chunk in store.iter_output(result.job_id, result.executor_id, result.index)]
