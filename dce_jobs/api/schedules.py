"""Routes of /api/jobs/{JobId}/schedules: list, create, get, edit, delete."""

from __future__ import annotations

from aiohttp import web

from .. import jobs, schemas
from ..keys import SCHEDULER, STORE, USER
from ..schedule import Fire, Schedule
from .body import read_json, require_json_type
from .respond import json_response

routes = web.RouteTableDef()


@routes.get("/api/jobs/{job_id}/schedules")
async def list_schedules(request: web.Request) -> web.Response:
    """The job's schedules, oldest first, each with NextRunTime and LastFire."""
    store = request.app[STORE]
    job = await store.get_job(request.match_info["job_id"])
    last = await store.last_fires(job_id=job.job_id)
    found = await store.list_schedules(job_id=job.job_id)
    return json_response([_dump(request, s, last) for s in found])


@routes.post("/api/jobs/{job_id}/schedules")
async def create_schedule(request: web.Request) -> web.Response:
    """Add a schedule (RunAt or Cron) to the job."""
    job = await request.app[STORE].get_job(request.match_info["job_id"])
    given = schemas.load_schedule(await read_json(request))
    schedule = await request.app[SCHEDULER].create(job.job_id, given)
    audit = jobs.audit_entry("schedule.create", request[USER], job, schedule_id=schedule.schedule_id)
    await request.app[STORE].add_audit(audit)
    return json_response(_dump(request, schedule, {}))


@routes.get("/api/jobs/{job_id}/schedules/{schedule_id}")
async def get_schedule(request: web.Request) -> web.Response:
    """One schedule."""
    store = request.app[STORE]
    job = await store.get_job(request.match_info["job_id"])
    schedule = await store.get_schedule(job.job_id, request.match_info["schedule_id"])
    return json_response(_dump(request, schedule, await store.last_fires(job_id=job.job_id)))


@routes.put("/api/jobs/{job_id}/schedules/{schedule_id}")
async def update_schedule(request: web.Request) -> web.Response:
    """Edit a schedule: fields left out keep their stored values; due times count from the edit on."""
    store = request.app[STORE]
    job = await store.get_job(request.match_info["job_id"])
    await store.get_schedule(job.job_id, request.match_info["schedule_id"])  # 404 before 400
    payload = await read_json(request)
    given = schemas.load_schedule(payload, partial=True)
    schedule = await request.app[SCHEDULER].update(job.job_id, request.match_info["schedule_id"], given)
    # the names of the fields the edit gave (a loaded body names known fields only), never their values
    audit = jobs.audit_entry(
        "schedule.edit", request[USER], job, fields=tuple(sorted(payload)), schedule_id=schedule.schedule_id
    )
    await store.add_audit(audit)
    return json_response(_dump(request, schedule, await store.last_fires(job_id=job.job_id)))


@routes.delete("/api/jobs/{job_id}/schedules/{schedule_id}")
async def delete_schedule(request: web.Request) -> web.Response:
    """Delete a schedule with its fires (executions it started stay)."""
    require_json_type(request, allow_absent=True)
    job = await request.app[STORE].get_job(request.match_info["job_id"])
    await request.app[SCHEDULER].delete(job.job_id, request.match_info["schedule_id"])
    audit = jobs.audit_entry("schedule.delete", request[USER], job, schedule_id=request.match_info["schedule_id"])
    await request.app[STORE].add_audit(audit)
    return json_response({"ScheduleId": request.match_info["schedule_id"]})


def _dump(request: web.Request, schedule: Schedule, last: dict[str, Fire]) -> dict[str, object]:
    fire = last.get(schedule.schedule_id)
    next_run_s, time_zone = request.app[SCHEDULER].view(schedule, fire)
    return schemas.dump_schedule(schemas.ScheduleView(schedule, next_run_s, fire, time_zone))
