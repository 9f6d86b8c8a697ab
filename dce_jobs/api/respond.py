"""JSON responses with readable UTF-8 (job names are often Chinese)."""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web

from ..jobs import LONE_SURROGATE


def encode_json(data: Any) -> bytes:
    """UTF-8 JSON without \\u escapes; a lone surrogate (stored by an older version) becomes U+FFFD, never a 500."""
    return text_bytes(json.dumps(data, ensure_ascii=False))


def text_bytes(text: str) -> bytes:
    """JSON text as UTF-8; a lone surrogate (stored by an older version) becomes U+FFFD, never a 500."""
    try:
        return text.encode()
    except UnicodeEncodeError:
        return LONE_SURROGATE.sub("\ufffd", text).encode()


def json_response(data: Any, *, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    """A JSON response encoded as UTF-8 without \\u escapes."""
    return web.Response(
        body=encode_json(data), status=status, headers=headers, content_type="application/json", charset="utf-8"
    )
