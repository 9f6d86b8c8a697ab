"""The API over HTTP (aiohttp's client): JSON calls, raw downloads and the event stream, errors as ApiError."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import quote

import aiohttp

from .sse import Event, read_events

#: a JSON call gives up after this long (the event stream and log follow have no total limit)
CALL_TIMEOUT_S = 60.0
#: reconnects of the event stream after a dropped connection, and the first back-off (doubled each time)
RECONNECTS = 5
FIRST_BACKOFF_S = 0.5


class ApiError(Exception):
    """The API refused a request (its `message` and `id`), or could not be reached."""

    def __init__(self, message: str, *, error_id: str = "", status: int = 0) -> None:
        """Keep the API's message, error id and HTTP status (0 when the server was not reached)."""
        super().__init__(message)
        self.message = message
        self.error_id = error_id
        self.status = status

    def __str__(self) -> str:
        """The message with its id, as printed to the user."""
        return f"{self.message} ({self.error_id})" if self.error_id else self.message


class StreamLost(Exception):
    """The event stream ended without its `end` event after every reconnect."""


def path(*parts: str) -> str:
    """An /api path from its parts, each quoted."""
    return "/api/" + "/".join(quote(part, safe="") for part in parts)


class ApiClient:
    """One session to a dce-jobs server: `url` (scheme://host:port), Bearer `token` when given."""

    def __init__(self, url: str, *, token: str = "", backoff_s: float = FIRST_BACKOFF_S) -> None:
        """Remember where and how to call; the session opens on first use (`async with`)."""
        self.url = url.rstrip("/")
        self._headers = {"Authorization": f"Bearer {token}"} if token else {}
        self._backoff_s = backoff_s
        self._session: aiohttp.ClientSession | None = None

    async def __aenter__(self) -> ApiClient:
        """Open the HTTP session."""
        self._session = aiohttp.ClientSession(headers=self._headers)
        return self

    async def __aexit__(self, *exc: object) -> None:
        """Close the HTTP session."""
        if self._session is not None:
            await self._session.close()

    @property
    def session(self) -> aiohttp.ClientSession:
        """The open session (inside `async with`)."""
        assert self._session is not None, "use the client inside `async with`"
        return self._session

    async def call(self, method: str, route: str, *, body: Any = None, query: dict[str, str] | None = None) -> Any:
        """One JSON request; its decoded answer, ApiError for an error status or an unreachable server."""
        headers = {"Content-Type": "application/json"} if method != "GET" else {}
        data = None if body is None else json.dumps(body)
        timeout = aiohttp.ClientTimeout(total=CALL_TIMEOUT_S)
        try:
            async with self.session.request(
                method, self.url + route, data=data, params=query, headers=headers, timeout=timeout
            ) as response:
                await _raise_for_status(response)
                return await response.json(content_type=None)
        except (TimeoutError, aiohttp.ClientError, ValueError) as e:
            raise ApiError(f"{method} {self.url}{route}: {_reason(e)}") from e

    async def download(self, route: str, *, query: dict[str, str]) -> AsyncIterator[bytes]:
        """The body of a GET as it arrives (a log download or a log follow)."""
        timeout = aiohttp.ClientTimeout(total=None, sock_connect=CALL_TIMEOUT_S)
        try:
            async with self.session.get(self.url + route, params=query, timeout=timeout) as response:
                await _raise_for_status(response)
                async for chunk in response.content.iter_any():
                    yield chunk
        except (TimeoutError, aiohttp.ClientError) as e:
            raise ApiError(f"GET {self.url}{route}: {_reason(e)}") from e

    async def events(self, route: str) -> AsyncIterator[Event]:
        """The events of an event stream until its `end`; a dropped connection resumes from the last event id."""
        last_id: str | None = None
        failures = 0
        while True:
            try:
                async for event in self._subscribe(route, last_id):
                    failures = 0
                    last_id = event.id if event.id is not None else last_id
                    yield event
                    if event.event == "end":
                        return
                why = "the server closed the stream before its end"
            except (TimeoutError, aiohttp.ClientError) as e:
                why = _reason(e)
            failures += 1
            if failures > RECONNECTS:
                raise StreamLost(f"event stream lost: {why} (after {RECONNECTS} reconnects)")
            await asyncio.sleep(self._backoff_s * 2 ** (failures - 1))

    async def _subscribe(self, route: str, last_id: str | None) -> AsyncIterator[Event]:
        headers = {"Accept": "text/event-stream"}
        if last_id is not None:
            headers["Last-Event-ID"] = last_id
        timeout = aiohttp.ClientTimeout(total=None, sock_connect=CALL_TIMEOUT_S)
        async with self.session.get(self.url + route, headers=headers, timeout=timeout) as response:
            if response.status >= 500:  # a proxy or a restarting server: worth another try (a 4xx is final)
                raise aiohttp.ClientResponseError(
                    response.request_info, (), status=response.status, message=response.reason or ""
                )
            try:
                await _raise_for_status(response)
            except ApiError as e:
                if e.error_id == "not_found":  # no such route, as opposed to executor_id_not_found
                    raise ApiError("this server has no event stream: it is older than this client", status=404) from e
                raise
            async for event in read_events(response.content.iter_any()):
                yield event


async def _raise_for_status(response: aiohttp.ClientResponse) -> None:
    """ApiError carrying the API's {"message", "id"} for an error status."""
    if response.status < 400:
        return
    text = await response.text(errors="replace")
    try:
        body = json.loads(text)
        message, error_id = str(body["message"]), str(body.get("id", ""))
    except (ValueError, KeyError, TypeError):
        message, error_id = f"HTTP {response.status}: {text[:200].strip() or response.reason}", ""
    raise ApiError(message, error_id=error_id, status=response.status)


def _reason(e: BaseException) -> str:
    """A short reason for a transport failure."""
    if isinstance(e, TimeoutError):
        return "no answer in time"
    return str(e) or type(e).__name__
