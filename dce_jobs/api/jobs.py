"""Routes of /api/jobs: list, create, get, edit, delete."""

from __future__ import annotations

import logging

from aiohttp import web

from .. import jobs, schemas
from ..keys import CONFIG, NODES, RUNNER, SECRET_BOX, STORE
from ..models import Job
from .body import read_json, require_json_type
from .respond import json_response

log = logging.getLogger("dce_jobs.api")
routes = web.RouteTableDef()


@routes.get("/api/jobs")
async def list_jobs(request: web.Request) -> web.Response:
    """All jobs, optionally of one AppName."""
    app_name = request.query.get("AppName")
    found = await request.app[STORE].list_jobs(app_name=app_name or None)
    return json_response([schemas.dump_job(j) for j in found])


@routes.post("/api/jobs")
async def create_job(request: web.Request) -> web.Response:
    """Create a job; SecretArgs come in clear only here."""
    data = schemas.load_job(await read_json(request))
    job = await jobs.create_job(request.app[STORE], request.app[SECRET_BOX], data, hooks=_hook_policy(request))
    return await _saved(request, job)


@routes.get("/api/jobs/{job_id}")
async def get_job(request: web.Request) -> web.Response:
    """One job."""
    job = await request.app[STORE].get_job(request.match_info["job_id"])
    return json_response(schemas.dump_job(job))


@routes.put("/api/jobs/{job_id}")
async def update_job(request: web.Request) -> web.Response:
    """Edit a job; omitted optional fields and masks equal to the stored ones keep the stored values."""
    store = request.app[STORE]
    current = await store.get_job(request.match_info["job_id"])  # 404 before 400, as the seed lists it
    data = schemas.load_job_edit(await read_json(request))
    saved = await jobs.update_job(store, request.app[SECRET_BOX], current, data, hooks=_hook_policy(request))
    return await _saved(request, saved)


def _hook_policy(request: web.Request) -> jobs.HookPolicy:
    config = request.app[CONFIG]
    return jobs.HookPolicy(secret_set=bool(config.hook_secret), allowed_hosts=config.hook_allowed_hosts)


async def _saved(request: web.Request, job: Job) -> web.Response:
    """The saved job, with Warnings about its service (a missing one may be deployed later: never a refusal)."""
    timeout_s = request.app[CONFIG].connect_timeout_s
    warnings = await jobs.check_service(request.app[NODES], job, timeout_s=timeout_s)
    return json_response(schemas.dump_saved_job(job, [(w.warning_id, w.message) for w in warnings]))


@routes.delete("/api/jobs/{job_id}")
async def delete_job(request: web.Request) -> web.Response:
    """Delete a job with its executions and output (running ones are stopped first)."""
    # no Content-Type is fine: a browser cannot send a cross-site DELETE without a CORS preflight (never granted)
    require_json_type(request, allow_absent=True)
    job_id = request.match_info["job_id"]
    await request.app[RUNNER].delete_job(job_id)
    log.info("job %s deleted with its executions and output", job_id)
    return json_response({"JobId": job_id}, status=202)
