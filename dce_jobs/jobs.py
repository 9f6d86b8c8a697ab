"""Job definitions: create, edit and delete, with secrets sealed before they reach the store."""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from dataclasses import dataclass
from typing import Any

from .cipher import SecretBox
from .errors import EngineError
from .models import Job
from .nodes import NodePool
from .store import Store

log = logging.getLogger("dce_jobs.jobs")


@dataclass(frozen=True)
class JobWarning:
    """Something about a saved job the operator should know; it never blocks the save."""

    warning_id: str  #: fixed vocabulary: service_not_found, service_not_checked, app_name_mismatch
    message: str


def _fields(data: dict[str, Any]) -> dict[str, Any]:
    return {
        "app_name": data["AppName"],
        "service_name": data["ServiceName"],
        "name": data["Name"],
        "cmd": data["Cmd"],
        "privileged": data["Privileged"],
        "user": data["User"],
        "env": tuple(data["Env"]),
        "timeout_s": data["Timeout"],
    }


async def create_job(store: Store, box: SecretBox, data: dict[str, Any]) -> Job:
    """Store a new job from validated fields; SecretArgs arrive in clear and are sealed here."""
    now = time.time()
    job = Job(
        job_id=str(uuid.uuid4()),
        secret_args=tuple(box.seal(s) for s in data["SecretArgs"]),
        created_at=now,
        updated_at=now,
        **_fields(data),
    )
    await store.create_job(job)
    log.info("job %s created: %r of app %s on service %s", job.job_id, job.name, job.app_name, job.service_name)
    return job


async def update_job(store: Store, box: SecretBox, current: Job, data: dict[str, Any]) -> Job:
    """Replace a job's fields; unchanged masks keep the stored secrets (the seed's PUT rule)."""
    job = current.replace(
        secret_args=box.merge(current.secret_args, data["SecretArgs"]), updated_at=time.time(), **_fields(data)
    )
    await store.update_job(job)
    log.info("job %s edited: %r of app %s on service %s", job.job_id, job.name, job.app_name, job.service_name)
    return job


async def check_service(nodes: NodePool, job: Job, *, timeout_s: float) -> list[JobWarning]:
    """Warnings about the job's service: missing (it may be deployed later), of another app, or not checkable."""
    name = job.service_name
    try:
        service = await asyncio.wait_for(nodes.find_service(name), timeout=timeout_s)
    except TimeoutError:
        why = f"the Swarm manager did not answer within {timeout_s:g} s"
        return [JobWarning("service_not_checked", f"could not check that service {name} exists: {why}")]
    except EngineError as e:
        return [JobWarning("service_not_checked", f"could not check that service {name} exists: {e.message}")]
    if service is None:
        message = f"service {name} does not exist in the swarm; the job can start once it is deployed"
        return [JobWarning("service_not_found", message)]
    if service.app and service.app != job.app_name:
        message = f"service {name} belongs to app {service.app}, not {job.app_name}"
        return [JobWarning("app_name_mismatch", message)]
    return []


async def rotate_secrets(store: Store, box: SecretBox) -> int:
    """Re-encrypt every stored secret with the newest key; return how many jobs were rewritten."""
    count = 0
    for job in await store.list_jobs():
        if job.secret_args:
            await store.update_job(job.replace(secret_args=tuple(box.rotate(s) for s in job.secret_args)))
            count += 1
    return count
