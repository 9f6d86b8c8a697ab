"""Routes of the lists beside the jobs: execution histories (one job's, across jobs) and the audit trail."""

from __future__ import annotations

from aiohttp import web

from ..keys import RUNNER, STORE
from ..models import ExecutionEntry, summarize
from ..schemas.lists import (
    dump_audit_entries,
    dump_execution_entries,
    load_audit_list,
    load_execution_list,
)
from .jobs import list_response

routes = web.RouteTableDef()


@routes.get("/api/jobs/{job_id}/executors")
async def job_history(request: web.Request) -> web.Response:
    """One job's executions, newest first, filtered and paged; X-Total-Count."""
    job = await request.app[STORE].get_job(request.match_info["job_id"])
    query = load_execution_list(list(request.query.items()), job_id=job.job_id)
    page = await request.app[STORE].find_executions(query)
    return await list_response(await _live(request, page.items), dump_execution_entries, page.total)


@routes.get("/api/executors")
async def history(request: web.Request) -> web.Response:
    """Executions across jobs, newest first, filtered (also by AppName, ServiceName) and paged; X-Total-Count."""
    query = load_execution_list(list(request.query.items()))
    page = await request.app[STORE].find_executions(query)
    return await list_response(await _live(request, page.items), dump_execution_entries, page.total)


async def _live(request: web.Request, entries: list[ExecutionEntry]) -> list[ExecutionEntry]:
    """Entries still running get their counts (and paused) from their results: only those of this page."""
    store, runner = request.app[STORE], request.app[RUNNER]
    shown = []
    for entry in entries:
        if entry.state == "running":
            results = await store.list_results(entry.job_id, entry.executor_id)
            summary = summarize(results, paused=runner.is_paused(entry.job_id, entry.executor_id))
            entry = entry.replace(state=summary.state.value, counts=summary.counts, ended_at=summary.ended_at)
        shown.append(entry)
    return shown


@routes.get("/api/audit")
async def audit(request: web.Request) -> web.Response:
    """Who created, edited, deleted, started, stopped, retried or resumed what; newest first, paged."""
    query = load_audit_list(list(request.query.items()))
    page = await request.app[STORE].find_audit(query)
    return await list_response(page.items, dump_audit_entries, page.total)
