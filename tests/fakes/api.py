"""A small dce-jobs API for the client's tests: jobs, containers, start, stop, log, and an event stream that
speaks the frozen format (resumable by Last-Event-ID, breakable on purpose)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from aiohttp_sse import sse_response

JOB = {"JobId": "job-1", "AppName": "shop", "ServiceName": "shop_web", "Name": "hello", "Cmd": "hostname"}
CONTAINERS = [
    {"ContainerId": f"c{i}" + "0" * 63, "NodeId": f"node{i}id", "NodeHostname": f"host{i}", "TaskName": f"shop_web.{i}"}
    for i in (1, 2, 3)
]


def target(index: int, status: str, exit_code: int | None = None, reason: str | None = None) -> tuple[str, dict]:
    """A `target` event of CONTAINERS[index]."""
    c = CONTAINERS[index]
    ended = status in {"FINISHED", "CREATE_FAILED", "RUNNING_FAILED"}
    return "target", {
        "Index": index,
        "ContainerId": c["ContainerId"],
        "NodeId": c["NodeId"],
        "Status": status,
        "ExitCode": exit_code,
        "EndReason": reason,
        "StartTime": 100.0,
        "EndTime": 102.5 if ended else None,
    }


def output(index: int, text: str, *, stream: str = "stdout", offset: int = 0) -> tuple[str, dict]:
    """An `output` event."""
    c = CONTAINERS[index]
    return "output", {"Index": index, "ContainerId": c["ContainerId"], "Stream": stream, "Offset": offset, "Text": text}


def end(state: str = "succeeded") -> tuple[str, dict]:
    """The `end` event."""
    return "end", {"State": state, "Counts": {}}


@dataclass
class FakeApi:
    """What the fake server answers and what it was asked."""

    events: list[tuple[str, dict]] = field(default_factory=list)
    jobs: list[dict[str, Any]] = field(default_factory=lambda: [dict(JOB, Executors=[])])
    token: str = ""
    break_after: list[int] = field(default_factory=list)  #: per connection: close after this many events
    unavailable: int = 0  #: answer this many subscribes 503 first (a restarting server behind a proxy)
    no_events: bool = False  #: answer the event stream as an unknown route (an older server)
    abort: bool = False  #: break by cutting the connection (not a clean end of the response)
    gate_at: int | None = None  #: hold the stream before this event until `gate` is set
    gate: asyncio.Event = field(default_factory=asyncio.Event)
    start_error: tuple[int, dict[str, str]] | None = None
    on_start: Callable[[], None] = lambda: None  #: called while a start is in flight
    log_text: str = "line one\nline two\n"
    starts: list[Any] = field(default_factory=list)
    stops: list[str] = field(default_factory=list)
    last_event_ids: list[str | None] = field(default_factory=list)
    log_queries: list[dict[str, str]] = field(default_factory=list)

    def app(self) -> web.Application:
        """The aiohttp application."""
        app = web.Application(middlewares=[self._auth])
        app.router.add_get("/api/jobs", self._jobs)
        app.router.add_get("/api/services/{service}/containers", self._containers)
        app.router.add_post("/api/jobs/{job}/start", self._start)
        app.router.add_post("/api/jobs/{job}/executors/{ex}/stop", self._stop)
        app.router.add_get("/api/jobs/{job}/executors/{ex}/events", self._events)
        app.router.add_get("/api/jobs/{job}/log/{ex}", self._log)
        return app

    @web.middleware
    async def _auth(self, request: web.Request, handler: Any) -> web.StreamResponse:
        if self.token and request.headers.get("Authorization") != f"Bearer {self.token}":
            return web.json_response({"message": "a valid token is required", "id": "unauthorized"}, status=401)
        return await handler(request)  # type: ignore[no-any-return]

    async def _jobs(self, request: web.Request) -> web.Response:
        app = request.query.get("AppName")
        return web.json_response([j for j in self.jobs if not app or j["AppName"] == app])

    async def _containers(self, request: web.Request) -> web.Response:
        return web.json_response(CONTAINERS)

    async def _start(self, request: web.Request) -> web.Response:
        self.starts.append(await request.json())
        self.on_start()
        if self.start_error:
            return web.json_response(self.start_error[1], status=self.start_error[0])
        return web.json_response(dict(JOB, Executors=["1496287694.460088"]))

    async def _stop(self, request: web.Request) -> web.Response:
        self.stops.append(request.match_info["ex"])
        return web.json_response({})

    async def _log(self, request: web.Request) -> web.Response:
        self.log_queries.append(dict(request.query))
        return web.Response(text=self.log_text)

    async def _events(self, request: web.Request) -> web.StreamResponse:
        if self.no_events:
            return web.json_response({"message": "Not Found", "id": "not_found"}, status=404)
        if self.unavailable:
            self.unavailable -= 1
            self.last_event_ids.append(request.headers.get("Last-Event-ID"))
            return web.json_response({"message": "restarting", "id": "store_unavailable"}, status=503)
        last = request.headers.get("Last-Event-ID")
        self.last_event_ids.append(last)
        first = 0 if last is None else int(last) + 1
        limit = self.break_after.pop(0) if self.break_after else None
        async with sse_response(request) as sse:
            for sent, number in enumerate(range(first, len(self.events))):
                if limit is not None and sent >= limit:
                    if self.abort and request.transport is not None:
                        request.transport.close()
                    return sse  # closed before the end: the client must resume
                if number == self.gate_at:
                    await self.gate.wait()
                name, data = self.events[number]
                await sse.send(json.dumps(data), id=str(number), event=name)
        return sse
