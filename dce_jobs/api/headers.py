"""Security headers on every response: the panel, its static files, downloads and the API."""

from __future__ import annotations

import functools

from aiohttp import web

from ..keys import CONFIG


@functools.cache
def security_headers(frame_ancestors: str) -> dict[str, str]:
    """The headers for one frame-ancestors setting (the DCE console embeds the panel in an iframe)."""
    policy = "; ".join(
        (
            "default-src 'self'",
            "script-src 'self'",  # the panel is ES modules from /static: no inline script, no eval
            "style-src 'self'",
            "img-src 'self' data:",
            "connect-src 'self'",
            "object-src 'none'",
            "base-uri 'self'",
            "form-action 'self'",
            f"frame-ancestors {frame_ancestors}",
        )
    )
    return {
        "Content-Security-Policy": policy,
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "no-referrer",
    }


async def add_security_headers(request: web.Request, response: web.StreamResponse) -> None:
    """on_response_prepare hook: set the security headers unless a route set its own."""
    for name, value in security_headers(request.app[CONFIG].frame_ancestors).items():
        response.headers.setdefault(name, value)
