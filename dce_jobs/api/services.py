"""GET /api/services/{ServiceName}/containers: the running task containers a job can target."""

from __future__ import annotations

from aiohttp import web

from ..keys import NODES
from .respond import json_response

routes = web.RouteTableDef()


@routes.get("/api/services/{service_name}/containers")
async def list_containers(request: web.Request) -> web.Response:
    """Running task containers of a service with their node, task name and slot."""
    tasks = await request.app[NODES].running_tasks(request.match_info["service_name"])
    return json_response(
        [
            {
                "ContainerId": t.container_id,
                "NodeId": t.node_id,
                "NodeHostname": t.hostname,
                "TaskId": t.task_id,
                "TaskName": t.task_name,
                "Slot": t.slot,
                "State": t.state,
            }
            for t in tasks
        ]
    )
