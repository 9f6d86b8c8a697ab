"""Job definitions: create, edit and delete, with secrets sealed before they reach the store."""

from __future__ import annotations

import time
import uuid
from typing import Any

from .cipher import SecretBox
from .models import Job, Rolling
from .schemas import load_rolling
from .store import Store


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
        "rolling": load_rolling(data) or Rolling(),
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
    return job


async def update_job(store: Store, box: SecretBox, current: Job, data: dict[str, Any]) -> Job:
    """Replace a job's fields; unchanged masks keep the stored secrets (the seed's PUT rule)."""
    job = current.replace(
        secret_args=box.merge(current.secret_args, data["SecretArgs"]), updated_at=time.time(), **_fields(data)
    )
    await store.update_job(job)
    return job


async def rotate_secrets(store: Store, box: SecretBox) -> int:
    """Re-encrypt every stored secret with the newest key; return how many jobs were rewritten."""
    count = 0
    for job in await store.list_jobs():
        if job.secret_args:
            await store.update_job(job.replace(secret_args=tuple(box.rotate(s) for s in job.secret_args)))
            count += 1
    return count
