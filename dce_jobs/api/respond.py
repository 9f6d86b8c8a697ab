"""JSON responses with readable UTF-8 (job names are often Chinese)."""

from __future__ import annotations

import functools
import json
from typing import Any

from aiohttp import web

_dumps = functools.partial(json.dumps, ensure_ascii=False)


def json_response(data: Any, *, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    """A JSON response encoded as UTF-8 without \\u escapes."""
    return web.json_response(data, status=status, headers=headers, dumps=_dumps)
