"""Reading JSON request bodies strictly."""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web

from ..errors import InvalidInput


async def read_json(request: web.Request, *, optional: bool = False) -> Any:
    """The request's JSON body; malformed JSON or a wrong content type is a 400."""
    raw = await request.read()
    if not raw.strip():
        if optional:
            return None
        raise InvalidInput("a JSON body is required", error_id="invalid_json")
    if request.content_type != "application/json":
        raise InvalidInput(
            f"Content-Type must be application/json, not {request.content_type!r}", error_id="invalid_content_type"
        )
    try:
        return json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise InvalidInput(f"the body is not valid JSON: {e}", error_id="invalid_json") from None
