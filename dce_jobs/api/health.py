"""GET /api/health: store reachable, version (no auth)."""

from __future__ import annotations

from aiohttp import web

from .. import __version__, schemas
from ..errors import StoreUnavailable
from ..keys import STORE
from .respond import json_response

routes = web.RouteTableDef()


@routes.get("/api/health")
async def health(request: web.Request) -> web.Response:
    """200 when the store answers, 503 otherwise."""
    try:
        await request.app[STORE].ping()
    except StoreUnavailable as e:
        return json_response(schemas.dump_health("unavailable", e.message, __version__), status=503)
    return json_response(schemas.dump_health("ok", "ok", __version__))
