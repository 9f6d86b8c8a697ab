"""Schedules, fires and leases as plain documents, for every backend."""

from __future__ import annotations

from typing import Any

from ..models import FailureAction, Lease
from ..schedule import ConcurrencyPolicy, Fire, FireOutcome, Schedule


def schedule_to_doc(schedule: Schedule) -> dict[str, Any]:
    """A schedule as a plain document."""
    rolling = dict(schedule.rolling)
    if "failure_action" in rolling:
        rolling["failure_action"] = FailureAction(rolling["failure_action"]).value
    return {
        "schedule_id": schedule.schedule_id,
        "job_id": schedule.job_id,
        "run_at": schedule.run_at,
        "cron": schedule.cron,
        "time_zone": schedule.time_zone,
        "enabled": schedule.enabled,
        "container_ids": None if schedule.container_ids is None else list(schedule.container_ids),
        "timeout_s": schedule.timeout_s,
        "rolling": rolling,
        "params": dict(schedule.params),
        "concurrency": schedule.concurrency.value,
        "anchor_s": schedule.anchor_s,
        "created_at": schedule.created_at,
        "updated_at": schedule.updated_at,
    }


def schedule_from_doc(doc: dict[str, Any]) -> Schedule:
    """Rebuild a schedule from its document."""
    rolling = dict(doc.get("rolling") or {})
    if "failure_action" in rolling:
        rolling["failure_action"] = FailureAction(rolling["failure_action"])
    ids = doc.get("container_ids")
    return Schedule(
        schedule_id=doc["schedule_id"],
        job_id=doc["job_id"],
        run_at=doc.get("run_at"),
        cron=doc.get("cron") or "",
        time_zone=doc.get("time_zone") or "",
        enabled=bool(doc.get("enabled", True)),
        container_ids=None if ids is None else tuple(ids),
        timeout_s=doc.get("timeout_s"),
        rolling=rolling,
        params=dict(doc.get("params") or {}),
        concurrency=ConcurrencyPolicy(doc.get("concurrency") or ConcurrencyPolicy.SKIP.value),
        anchor_s=float(doc.get("anchor_s") or 0.0),
        created_at=float(doc.get("created_at") or 0.0),
        updated_at=float(doc.get("updated_at") or 0.0),
    )


def fire_to_doc(fire: Fire) -> dict[str, Any]:
    """A fire as a plain document."""
    return {
        "schedule_id": fire.schedule_id,
        "job_id": fire.job_id,
        "due_s": fire.due_s,
        "outcome": fire.outcome.value,
        "owner_id": fire.owner_id,
        "fired_at": fire.fired_at,
        "executor_id": fire.executor_id,
        "reason": fire.reason,
    }


def fire_from_doc(doc: dict[str, Any]) -> Fire:
    """Rebuild a fire from its document."""
    return Fire(
        schedule_id=doc["schedule_id"],
        job_id=doc["job_id"],
        due_s=float(doc["due_s"]),
        outcome=FireOutcome(doc["outcome"]),
        owner_id=doc.get("owner_id") or "",
        fired_at=float(doc.get("fired_at") or 0.0),
        executor_id=doc.get("executor_id") or "",
        reason=doc.get("reason") or "",
    )


def lease_to_doc(lease: Lease) -> dict[str, Any]:
    """A lease as a plain document."""
    return {"owner_id": lease.owner_id, "expires_at": lease.expires_at, "host": lease.host, "pid": lease.pid}


def lease_from_doc(doc: dict[str, Any]) -> Lease:
    """Rebuild a lease from its document."""
    return Lease(
        owner_id=doc["owner_id"],
        expires_at=float(doc["expires_at"]),
        host=doc.get("host") or "",
        pid=int(doc.get("pid") or 0),
    )
