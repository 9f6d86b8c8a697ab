"""Following runs: the event stream of an execution (Server-Sent Events) and the log follow of one target."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

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
    await asyncio.wait({pumping, gone}, return_when=asyncio.FIRST_COMPLETED)
    if not pumping.done():
        pumping.cancel()
    response.stop_streaming()
    await asyncio.gather(pumping, gone, return_exceptions=True)
    log.debug("event stream %s/%s ended: %s", job.job_id, execution.executor_id, _why(pumping))
    return response


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


def _why(pumping: asyncio.Future[str]) -> str:
    if pumping.cancelled():
        return "the client went away"
    error = pumping.exception()
    return repr(error) if error is not None else pumping.result()


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
    async for event in feed.events():
        if event.index == index and event.kind == OUTPUT and (stream is None or event.stream == stream):
            await response.write(event.raw)
        elif (event.kind == TARGET and event.index == index and event.final) or event.kind == END:
            return
