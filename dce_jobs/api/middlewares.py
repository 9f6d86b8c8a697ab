"""Middlewares: request ids, Host and cross-site checks, the API token, and domain errors -> error bodies."""

from __future__ import annotations

import hmac
import logging
import random
import re
from collections.abc import Awaitable, Callable

from aiohttp import web

from .. import errors
from ..keys import CONFIG, REQUEST_ID, USER
from .respond import json_response
from .who import identify

log = logging.getLogger("dce_jobs.api")

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

_STATUS: list[tuple[type[errors.DceJobsError], int]] = [
    (errors.NotFound, 404),
    (errors.InvalidInput, 400),
    (errors.Conflict, 400),
    (errors.OwnedElsewhere, 409),
    (errors.Unauthorized, 401),
    (errors.Forbidden, 403),
    (errors.PayloadTooLarge, 413),
    (errors.RangeNotSatisfiable, 416),
    (errors.ServiceUnavailable, 503),
    (errors.StoreUnavailable, 503),
    (errors.EngineError, 502),  # the Swarm manager or a node's engine failed: its words help the user
]


def error_body(error_id: str, message: str) -> dict[str, str]:
    """The seed's error body."""
    return {"message": message, "id": error_id}


def error_response(status: int, error_id: str, message: str, request_id: str) -> web.Response:
    """A JSON error response carrying the request id in a header."""
    return json_response(error_body(error_id, message), status=status, headers={"X-Request-Id": request_id})


def _new_request_id() -> str:
    """16 hex digits to find a request in the logs: not a secret, so from the process's PRNG (uuid4 asks the
    kernel, and each such call gives up the interpreter lock, which a busy run makes slow to get back)."""
    return f"{random.getrandbits(64):016x}"


@web.middleware
async def errors_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Turn domain errors and aiohttp's own HTTP errors into `{"message", "id"}` bodies."""
    given_id = request.headers.get("X-Request-Id", "")
    # a client's id is echoed in a header and logged: only plain tokens, no control or non-ASCII characters
    request_id = given_id if _REQUEST_ID_RE.match(given_id) else _new_request_id()
    request[REQUEST_ID] = request_id
    try:
        response = await handler(request)
    except errors.DceJobsError as e:
        status = next((code for cls, code in _STATUS if isinstance(e, cls)), 500)
        if status == 500:
            log.error(
                "request %s %s %s failed: %s (%s)", request_id, request.method, request.raw_path, e.error_id, e.message
            )
            return error_response(500, "internal_error", f"internal error (request id {request_id})", request_id)
        response = error_response(status, e.error_id, e.message, request_id)
        if isinstance(e, errors.RangeNotSatisfiable):
            response.headers["Content-Range"] = f"bytes */{e.total}"
        return response
    except web.HTTPRequestEntityTooLarge:
        return error_response(413, "payload_too_large", "the request body is too large", request_id)
    except web.HTTPException as e:
        if e.status >= 400 and e.content_type != "application/json":
            error_id = e.reason.lower().replace(" ", "_")
            return error_response(e.status, error_id, e.reason, request_id)
        raise
    except Exception:
        # raw_path: still percent-encoded, so a %0A in the URL cannot forge a log line
        log.exception("request %s %s %s failed", request_id, request.method, request.raw_path)
        return error_response(500, "internal_error", f"internal error (request id {request_id})", request_id)
    response.headers.setdefault("X-Request-Id", request_id)
    return response


_REQUEST_ID_RE = re.compile(r"^[A-Za-z0-9._:-]{1,64}\Z")
_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
_LOOPBACK_HOSTS = frozenset({"localhost", "127.0.0.1", "[::1]"})


@web.middleware
async def edge_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Without a token serve loopback Host names only (DNS rebinding); refuse cross-site browser writes."""
    config = request.app[CONFIG]
    host = request.headers.get("Host")
    if not config.api_token and host is not None and not _host_allowed(host, config.allowed_hosts):
        raise errors.InvalidInput(
            "without DCE_JOBS_API_TOKEN only loopback host names are served; "
            "add this one to DCE_JOBS_ALLOWED_HOSTS to serve it",
            error_id="host_not_allowed",
        )
    if request.method not in _SAFE_METHODS:
        why = _cross_site(request, config.allowed_hosts)
        if why:
            raise errors.Forbidden(f"a browser request from another site may not change anything ({why})")
    return await handler(request)


def host_name(authority: str) -> str:
    """The host of a Host header or URL authority, lowercased, without port or trailing dot."""
    authority = authority.strip().lower()
    if authority.startswith("["):
        return authority[: authority.find("]") + 1]
    return authority.rpartition(":")[0].rstrip(".") if ":" in authority else authority.rstrip(".")


def _host_allowed(host: str, allowed: tuple[str, ...]) -> bool:
    name = host_name(host)
    return name in _LOOPBACK_HOSTS or name in allowed


def _cross_site(request: web.Request, allowed: tuple[str, ...]) -> str:
    """Why the request comes from another site's page, or '' (no browser, or the panel itself)."""
    site = request.headers.get("Sec-Fetch-Site")
    if site is not None:
        return "" if site in {"same-origin", "none"} else f"Sec-Fetch-Site: {site}"
    origin = request.headers.get("Origin")  # browsers without Sec-Fetch-Site still send Origin on writes
    if origin is None:
        return ""
    scheme, sep, authority = origin.partition("://")
    if not sep or origin == "null":
        return f"Origin: {origin[:100]}"
    host = request.headers.get("Host", "")
    if authority.lower() == host.lower() or host_name(authority) in allowed:
        return ""
    return f"Origin: {origin[:100]}"


@web.middleware
async def auth_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Require `Authorization: Bearer <token>` on /api routes when a token is configured; tell who calls."""
    config = request.app[CONFIG]
    token = config.api_token
    with_token = False
    guarded = request.path.startswith("/api/") or request.path == "/metrics"
    if token and guarded and request.path not in _OPEN_PATHS:
        given = request.headers.get("Authorization", "")
        scheme, _, value = given.partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(value.strip().encode(), token.encode()):
            raise errors.Unauthorized("a valid 'Authorization: Bearer <token>' header is required")
        with_token = True
    request[USER] = identify(request.headers, user_header=config.user_header, with_token=with_token)
    return await handler(request)


_OPEN_PATHS = frozenset({"/api/health", "/api/openapi.json"})
