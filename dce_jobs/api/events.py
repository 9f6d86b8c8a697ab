"""Following runs: the event stream of an execution (Server-Sent Events) and the log follow of one target."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

from aiohttp import web
from aiohttp_sse import EventSourceResponse

from ..cursor import Cursor
from ..errors import DceJobsError, InvalidInput
from ..events import END, OUTPUT, TARGET
from ..feed import Feed
from ..keys import CONFIG, RUNNER, STORE
from ..live import Broadcaster
from ..models import Execution

log = logging.getLogger("dce_jobs.api")
routes = web.RouteTableDef()

SEND_TIMEOUT_S = 60.0
STOPPING = web.AppKey("stopping", asyncio.Event)
_FOLLOW = {"1": True, "true": True, "0": False, "false": False, "": False}


def _lookup(request: web.Request, execution: Execution) -> Callable[[], Broadcaster | None]:
    runner = request.app[RUNNER]
    return lambda: runner.broadcaster(execution.job_id, execution.executor_id)


@routes.get("/api/jobs/{job_id}/executors/{executor_id}/events")
async def events(request: web.Request) -> web.StreamResponse:
    """Stream an execution's events (target, output, summary, end); `Last-Event-ID` resumes after an event."""
    store = request.app[STORE]
    job = await store.get_job(request.match_info["job_id"])
    execution = await store.get_execution(job.job_id, request.match_info["executor_id"])
    last_id = request.headers.get("Last-Event-ID", "").strip()
    cursor = Cursor.decode(last_id, len(execution.targets)) if last_id else None
    feed = Feed(store, execution, _lookup(request, execution), cursor=cursor)
    response = EventSourceResponse(
        sep="\n", ping_interval=request.app[CONFIG].events_ping_s, send_timeout=SEND_TIMEOUT_S
    )
    await response.prepare(request)
    # the keep-alive task ends when a ping cannot be written: the client went away while the stream was idle
    pumping = asyncio.ensure_future(_pump(feed, response))
    gone = asyncio.ensure_future(response.wait())
    why = await _until_first(pumping, gone, request.app[STOPPING])
    response.stop_streaming()
    await asyncio.gather(gone, return_exceptions=True)
    log.debug("event stream %s/%s ended: %s", job.job_id, execution.executor_id, why)
    return response


async def _until_first(work: asyncio.Future[str], gone: asyncio.Future[None], stopping: asyncio.Event) -> str:
    """Wait for `work` unless the client goes or the server stops first (then cancel it); say why it ended."""
    stop = asyncio.ensure_future(stopping.wait())
    waiting: set[asyncio.Future[Any]] = {work, gone, stop}
    await asyncio.wait(waiting, return_when=asyncio.FIRST_COMPLETED)
    stop.cancel()
    if not work.done():
        work.cancel()
        await asyncio.gather(work, return_exceptions=True)
        return "the server is stopping" if stopping.is_set() else "the client went away"
    error = work.exception()
    if error is not None:
        log.error("event stream failed", exc_info=error)
        return repr(error)
    return work.result()


async def _pump(feed: Feed, response: EventSourceResponse) -> str:
    """Write the feed's events until `end`; returns why it stopped."""
    try:
        async for event in feed.events():
            async with asyncio.timeout(SEND_TIMEOUT_S):
                await response.write(event.frame)
    except (ConnectionResetError, TimeoutError):
        return "the client went away or stopped reading"
    except DceJobsError as e:  # e.g. the job was deleted meanwhile, the store went away
        return e.message
    return "end"


def track_streams(app: web.Application) -> None:
    """Let open event streams and log follows end as soon as the server begins to stop (clients resume later)."""
    app[STOPPING] = asyncio.Event()

    async def stopping(app: web.Application) -> None:
        app[STOPPING].set()

    app.on_shutdown.append(stopping)


def follow_wanted(request: web.Request) -> bool:
    """Whether a log download asks to follow (`Follow=1`)."""
    value = request.query.get("Follow", "").strip().lower()
    if value not in _FOLLOW:
        raise InvalidInput(f"Follow: must be 1 or 0, not {value[:40]!r}")
    return _FOLLOW[value]


async def follow_log(
    request: web.Request, response: web.StreamResponse, execution: Execution, index: int, stream: int | None
) -> None:
    """Write one target's output as it is stored (only `stream`'s bytes when given) until the target is final."""
    feed = Feed(request.app[STORE], execution, _lookup(request, execution), only=index)

    async def copy() -> str:
        async for event in feed.events():
            if event.index == index and event.kind == OUTPUT and (stream is None or event.stream == stream):
                await response.write(event.raw)
            elif (event.kind == TARGET and event.index == index and event.final) or event.kind == END:
                break
        return "final"

    never: asyncio.Future[None] = asyncio.get_running_loop().create_future()
    await _until_first(asyncio.ensure_future(copy()), never, request.app[STOPPING])
    never.cancel()
