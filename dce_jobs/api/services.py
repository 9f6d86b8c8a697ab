"""GET /api/services and /api/services/{ServiceName}/containers: what a job can target."""

from __future__ import annotations

from aiohttp import web

from .. import schemas
from ..keys import NODES
from .respond import json_response

routes = web.RouteTableDef()


@routes.get("/api/services")
async def list_services(request: web.Request) -> web.Response:
    """The swarm's services with their app (stack namespace), image and running/desired replicas."""
    return json_response(schemas.dump_services(await request.app[NODES].services()))


@routes.get("/api/services/{service_name}/containers")
async def list_containers(request: web.Request) -> web.Response:
    """Running task containers of a service with their node, task name and slot."""
    tasks = await request.app[NODES].running_tasks(request.match_info["service_name"])
    return json_response(schemas.dump_containers(tasks))
