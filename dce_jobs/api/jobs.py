"""Routes of /api/jobs: list, create, get, edit, delete."""

from __future__ import annotations

from aiohttp import web

from .. import jobs, schemas
from ..keys import RUNNER, SECRET_BOX, STORE
from .body import read_json, require_json_type
from .respond import json_response

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
    job = await jobs.create_job(request.app[STORE], request.app[SECRET_BOX], data)
    return json_response(schemas.dump_job(job))


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
    return json_response(schemas.dump_job(await jobs.update_job(store, request.app[SECRET_BOX], current, data)))


@routes.delete("/api/jobs/{job_id}")
async def delete_job(request: web.Request) -> web.Response:
    """Delete a job with its executions and output (running ones are stopped first)."""
    # no Content-Type is fine: a browser cannot send a cross-site DELETE without a CORS preflight (never granted)
    require_json_type(request, allow_absent=True)
    job_id = request.match_info["job_id"]
    await request.app[RUNNER].delete_job(job_id)
    return json_response({"JobId": job_id}, status=202)
