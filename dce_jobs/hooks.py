"""StatusHook deliveries: one signed POST of an event's body per attempt (the service's only HTTP client)."""

from __future__ import annotations

import hashlib
import hmac
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import aiohttp

from .config import Config

log = logging.getLogger("dce_jobs.hooks")

SIGNATURE_HEADER = "X-DCE-Jobs-Signature"
DELIVERY_HEADER = "X-DCE-Jobs-Delivery"
EVENT_HEADER = "X-DCE-Jobs-Event"
_MAX_ERROR_CHARS = 300


def sign(secret: str, body: bytes) -> str:
    """The signature header's value: `sha256=<hex HMAC-SHA256 of the body keyed with the secret>`."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def shown_url(url: str) -> str:
    """A URL for logs: scheme, host, port and path only (a query may carry a receiver's token)."""
    parts = urlsplit(url)
    host = parts.hostname or "?"
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{host}{port}{parts.path}"


@dataclass(frozen=True)
class Attempt:
    """How one POST went; `record` is what the store keeps of it."""

    ok: bool  #: the receiver answered 2xx
    final: bool  #: no further attempt may help (the host is not allowed)
    record: dict[str, Any]


class HookSender:
    """POSTs signed hook bodies with bounded timeouts; never follows redirects (they could leave the allow-list)."""

    def __init__(self, config: Config, *, clock: Callable[[], float] = time.time) -> None:
        self._config = config
        self._clock = clock
        self._session: aiohttp.ClientSession | None = None

    async def close(self) -> None:
        """Close the HTTP client."""
        if self._session is not None:
            await self._session.close()
            self._session = None

    def _allowed(self, url: str) -> bool:
        hosts = self._config.hook_allowed_hosts
        host = (urlsplit(url).hostname or "").rstrip(".").lower()
        return not hosts or host in {h.strip("[]") for h in hosts}

    async def post(self, url: str, body: bytes, *, delivery_id: str, event: str) -> Attempt:
        """One attempt of one delivery: its outcome, never an exception."""
        at, began = self._clock(), time.monotonic()

        def record(status: int | None, error: str) -> dict[str, Any]:
            took_s = round(time.monotonic() - began, 6)
            return {"at": at, "status": status, "error": error[:_MAX_ERROR_CHARS], "duration_s": took_s}

        if not self._allowed(url):
            return Attempt(False, True, record(None, "the host is not in DCE_JOBS_HOOK_ALLOWED_HOSTS"))
        headers = {
            "Content-Type": "application/json",
            "User-Agent": "dce-jobs",
            SIGNATURE_HEADER: sign(self._config.hook_secret, body),
            DELIVERY_HEADER: delivery_id,
            EVENT_HEADER: event,
        }
        if self._session is None:
            self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=self._config.hook_timeout_s))
        try:
            async with self._session.post(url, data=body, headers=headers, allow_redirects=False) as response:
                await response.read()
                ok = 200 <= response.status < 300
                attempt = Attempt(ok, False, record(response.status, "" if ok else f"HTTP {response.status}"))
        except TimeoutError:
            attempt = Attempt(False, False, record(None, f"no answer within {self._config.hook_timeout_s:g} s"))
        except aiohttp.ClientError as e:
            attempt = Attempt(False, False, record(None, f"{type(e).__name__}: {e}"))
        log.info(
            "hook %s delivery %s to %s: %s",
            event,
            delivery_id,
            shown_url(url),
            "delivered" if attempt.ok else attempt.record["error"],
        )
        return attempt
