"""Routes of /api/jobs: list, create, get, edit, delete."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

from aiohttp import web

from .. import jobs, schemas
from ..keys import CONFIG, JOB_LIST_JSON, NODES, RUNNER, SECRET_BOX, STORE, USER
from ..models import Job
from ..schemas.lists import load_job_list
from .body import read_json, require_json_type
from .respond import encode_json, json_response, text_bytes

log = logging.getLogger("dce_jobs.api")
routes = web.RouteTableDef()


#: lists longer than this are dumped and encoded on a worker thread, so other requests are not held up
OFF_LOOP_ITEMS = 200


@routes.get("/api/jobs")
async def list_jobs(request: web.Request) -> web.Response:
    """Jobs, filtered, ordered and paged as asked (the seed's call: every job, oldest first); X-Total-Count."""
    query = load_job_list(list(request.query.items()))
    store = request.app[STORE]
    if query == type(query)(app_name=query.app_name):
        found = await store.list_jobs(app_name=query.app_name)  # the seed's call: the fast whole-list path
        total = len(found)
    else:
        page = await store.find_jobs(query)
        found, total = page.items, page.total
    encoder = request.app[JOB_LIST_JSON]
    if len(found) > OFF_LOOP_ITEMS:
        body = await asyncio.to_thread(lambda: text_bytes(encoder.encode(found)))
    else:
        body = text_bytes(encoder.encode(found))
    return web.Response(
        body=body, headers={"X-Total-Count": str(total)}, content_type="application/json", charset="utf-8"
    )


async def list_response(items: list[Any], dump: Callable[[list[Any]], list[Any]], total: int) -> web.Response:
    """A JSON array of `items` with the number of all matches in X-Total-Count (big ones built off the loop)."""
    if len(items) > OFF_LOOP_ITEMS:
        body = await asyncio.to_thread(lambda: encode_json(dump(items)))
    else:
        body = encode_json(dump(items))
    return web.Response(
        body=body, headers={"X-Total-Count": str(total)}, content_type="application/json", charset="utf-8"
    )


@routes.post("/api/jobs")
async def create_job(request: web.Request) -> web.Response:
    """Create a job; SecretArgs come in clear only here."""
    data = schemas.load_job(await read_json(request))
    job = await jobs.create_job(
        request.app[STORE], request.app[SECRET_BOX], data, by=request[USER], hooks=_hook_policy(request)
    )
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
    saved = await jobs.update_job(
        store, request.app[SECRET_BOX], current, data, by=request[USER], hooks=_hook_policy(request)
    )
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
    await request.app[RUNNER].delete_job(job_id, deleted_by=request[USER])
    log.info("job %s deleted with its executions and output", job_id)
    return json_response({"JobId": job_id}, status=202)
