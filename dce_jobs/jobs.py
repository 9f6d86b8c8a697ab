"""Job definitions: create, edit and delete, with secrets sealed before they reach the store."""

from __future__ import annotations

import asyncio
import logging
import re
import time
import uuid
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from .cipher import SecretBox
from .errors import EngineError, InvalidInput
from .models import AuditEntry, Job, Rolling
from .nodes import NodePool
from .params import check_cmd
from .schemas import merge_rolling
from .store import Store

log = logging.getLogger("dce_jobs.jobs")

#: a lone UTF-16 surrogate: JSON can escape one ("\ud800"), but it is no Unicode text, and neither UTF-8, an
#: engine nor a store takes it (older versions let it in)
LONE_SURROGATE = re.compile("[\ud800-\udfff]")


@dataclass(frozen=True)
class JobWarning:
    """Something about a saved job the operator should know; it never blocks the save."""

    warning_id: str  #: fixed vocabulary: service_not_found, service_not_checked, app_name_mismatch
    message: str


def _attributes(data: dict[str, Any], rolling: Rolling) -> dict[str, Any]:
    """Job attributes from loaded fields (SecretArgs apart), the rolling settings given merged over `rolling`."""
    attributes = {
        k: tuple(v) if k in ("env", "params", "status_hook_events") else v
        for k, v in data.items()
        if k not in ("secret_args", "rolling")
    }
    return {**attributes, "rolling": merge_rolling(data.get("rolling"), rolling)}


#: Job attributes an edit may change -> their names on the wire (what the audit trail records: never values)
_WIRE_NAMES = {
    "app_name": "AppName",
    "service_name": "ServiceName",
    "name": "Name",
    "cmd": "Cmd",
    "privileged": "Privileged",
    "user": "User",
    "env": "Env",
    "secret_args": "SecretArgs",
    "timeout_s": "Timeout",
    "rolling": "Rolling",
    "params": "Params",
    "retries": "Retries",
    "retry_delay_s": "RetryDelay",
    "status_hook": "StatusHook",
    "status_hook_events": "StatusHookEvents",
}


def changed_fields(before: Job, after: Job) -> tuple[str, ...]:
    """The wire names of the fields an edit changed (a re-sealed but equal secret counts as unchanged)."""
    changed = []
    for attribute, wire_name in _WIRE_NAMES.items():
        old, new = getattr(before, attribute), getattr(after, attribute)
        if attribute == "secret_args":
            old, new = [s.token for s in old], [s.token for s in new]
        if old != new:
            changed.append(wire_name)
    return tuple(changed)


def audit_entry(
    action: str,
    user: str,
    job: Job,
    *,
    executor_id: str = "",
    fields: tuple[str, ...] = (),
    schedule_id: str = "",
) -> AuditEntry:
    """An audit entry for `action` on `job` by `user`, stamped now."""
    return AuditEntry(
        at=time.time(),
        user=user,
        action=action,
        job_id=job.job_id,
        job_name=job.name,
        executor_id=executor_id,
        fields=fields,
        schedule_id=schedule_id,
    )


@dataclass(frozen=True)
class HookPolicy:
    """What a StatusHook may be: signed with a secret, to the allowed hosts only (empty: any host)."""

    secret_set: bool = False
    allowed_hosts: tuple[str, ...] = ()


def check_hook(url: str, policy: HookPolicy) -> None:
    """Refuse a StatusHook that cannot be signed or points at a host outside the allow-list."""
    if not url:
        return
    if not policy.secret_set:
        raise InvalidInput("StatusHook: the server has no DCE_JOBS_HOOK_SECRET to sign hooks with")
    host = (urlsplit(url).hostname or "").rstrip(".").lower()
    if policy.allowed_hosts and host not in {h.strip("[]") for h in policy.allowed_hosts}:
        raise InvalidInput(f"StatusHook: host {host} is not in DCE_JOBS_HOOK_ALLOWED_HOSTS")


async def create_job(
    store: Store, box: SecretBox, data: dict[str, Any], *, by: str = "", hooks: HookPolicy | None = None
) -> Job:
    """Store a new job from validated fields; SecretArgs arrive in clear and are sealed here."""
    now = time.time()
    job = Job(
        job_id=str(uuid.uuid4()),
        secret_args=tuple(box.seal(s) for s in data["secret_args"]),
        created_at=now,
        updated_at=now,
        created_by=by,
        updated_by=by,
        **_attributes(data, Rolling()),
    )
    check_cmd(job.cmd, job.params)
    check_hook(job.status_hook, hooks or HookPolicy())
    await store.create_job(job, audit=audit_entry("create", by, job))
    log.info("job %s created: %r of app %s on service %s", job.job_id, job.name, job.app_name, job.service_name)
    return job


async def update_job(
    store: Store,
    box: SecretBox,
    current: Job,
    data: dict[str, Any],
    *,
    by: str = "",
    hooks: HookPolicy | None = None,
) -> Job:
    """Replace the fields given; omitted ones keep their values, unchanged masks keep the stored secrets."""
    secret_args = current.secret_args
    if "secret_args" in data:
        secret_args = box.merge(current.secret_args, data["secret_args"])
    job = current.replace(
        secret_args=secret_args, updated_at=time.time(), updated_by=by, **_attributes(data, current.rolling)
    )
    check_cmd(job.cmd, job.params)
    if job.status_hook != current.status_hook:
        check_hook(job.status_hook, hooks or HookPolicy())
    audit = audit_entry("edit", by, job, fields=changed_fields(current, job))
    await store.update_job(job, audit=audit)
    log.info("job %s edited: %r of app %s on service %s", job.job_id, job.name, job.app_name, job.service_name)
    return job


def check_runnable(job: Job) -> None:
    """Refuse to run a job whose stored text is not Unicode (only an older version could store it)."""
    texts = {"AppName": job.app_name, "Name": job.name, "Cmd": job.cmd, "User": job.user, "Env": "".join(job.env)}
    for name, text in texts.items():
        if LONE_SURROGATE.search(text):
            raise InvalidInput(
                f"{name}: the stored job holds a lone surrogate (\\ud800-\\udfff); edit the job before starting it",
                error_id="invalid_job",
            )


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
