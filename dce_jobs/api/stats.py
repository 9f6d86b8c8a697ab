"""GET /api/stats (the service's own health and load) and GET /api/stats/executions (run statistics)."""

from __future__ import annotations

import threading
import time

from aiohttp import web

from .. import __version__, schemas
from ..keys import NODES, RUNNER, STARTED_AT, STORE
from ..stats import StatsQuery, fold, window
from .respond import json_response

routes = web.RouteTableDef()


@routes.get("/api/stats")
async def service_stats(request: web.Request) -> web.Response:
    """Running executions and execs per node, recent engine and store call latency, threads, uptime, version."""
    runner, nodes = request.app[RUNNER], request.app[NODES]
    running = runner.running_targets()
    node_ids = sorted(set(running) | set(nodes.timings))
    pool = nodes.threads()
    body = {
        "Version": __version__,
        "UptimeS": round(time.time() - request.app[STARTED_AT], 3),
        "RunningExecutions": runner.running_executions,
        "RunningExecs": sum(running.values()),
        "Nodes": [
            {"NodeId": n, "RunningExecs": running.get(n, 0), "EngineCalls": nodes.timings_of(n).recent()}
            for n in node_ids
        ],
        "Store": request.app[STORE].timings.recent(),
        "Threads": threading.active_count(),
        "EngineCallThreads": pool["call_threads"],
        "EngineCallQueue": pool["call_queue"],
    }
    return json_response(body)


@routes.get("/api/stats/executions")
async def execution_stats(request: web.Request) -> web.Response:
    """Daily counts by state, success rate, hour-of-day distribution and duration percentiles of the last Days."""
    days, job_id, app_name, zone = schemas.load_stats_query(dict(request.query))
    now_s = time.time()
    since_s, dates = window(days, zone, now_s)
    query = StatsQuery(since_s=since_s, until_s=now_s + 1, job_id=job_id, app_name=app_name)
    stats = await request.app[STORE].execution_stats(query)
    view = fold(stats, dates, zone)
    body = schemas.dump_execution_stats(view, days=days, zone=zone, since_s=since_s, job_id=job_id, app_name=app_name)
    return json_response(body)
