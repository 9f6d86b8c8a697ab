"""GET /api/settings: the defaults that apply when a job or a start request sets none."""

from __future__ import annotations

from aiohttp import web

from .. import schemas
from ..keys import CONFIG
from .respond import json_response

routes = web.RouteTableDef()


@routes.get("/api/settings")
async def settings(request: web.Request) -> web.Response:
    """The effective defaults: run timeout (null = none), stored output limit, exec concurrency."""
    return json_response(schemas.dump_settings(request.app[CONFIG]))
