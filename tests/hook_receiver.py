"""A real HTTP receiver of status hooks for the tests, and the signature check a receiver does."""

from __future__ import annotations

import asyncio
import hashlib
import hmac

from aiohttp import web
from aiohttp.test_utils import TestServer


def verified(secret: str, body: bytes, signature_header: str) -> bool:
    """What a receiver does: recompute the HMAC-SHA256 of the raw body and compare in constant time."""
    expected = "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, signature_header)


class Receiver:
    """A real HTTP receiver: answers each delivery with the next of `statuses` (None: never answers)."""

    def __init__(self, *statuses: int | None) -> None:
        self.statuses = list(statuses)
        self.requests: list[tuple[dict[str, str], bytes]] = []
        self.server: TestServer | None = None

    async def handle(self, request: web.Request) -> web.Response:
        self.requests.append((dict(request.headers), await request.read()))
        status = self.statuses.pop(0) if len(self.statuses) > 1 else self.statuses[0]
        if status is None:
            await asyncio.Event().wait()
        return web.Response(status=status or 200)

    async def __aenter__(self) -> str:
        app = web.Application()
        app.router.add_post("/hook", self.handle)
        self.server = TestServer(app)
        await self.server.start_server()
        return str(self.server.make_url("/hook"))

    async def __aexit__(self, *_: object) -> None:
        assert self.server is not None
        await self.server.close()
