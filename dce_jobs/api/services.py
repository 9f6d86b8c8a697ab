"""GET /api/services and /api/services/{ServiceName}/containers: what a job can target."""

from __future__ import annotations

from aiohttp import web

from ..keys import NODES
from .respond import json_response

routes = web.RouteTableDef()


@routes.get("/api/services")
async def list_services(request: web.Request) -> web.Response:
    """The swarm's services with their app (stack namespace), image and running/desired replicas."""
    services = await request.app[NODES].services()
    return json_response(
        [
            {
                "ServiceId": s.service_id,
                "ServiceName": s.name,
                "AppName": s.app,
                "Image": s.image,
                "Replicas": {"Running": s.running, "Desired": s.desired},
            }
            for s in services
        ]
    )


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
