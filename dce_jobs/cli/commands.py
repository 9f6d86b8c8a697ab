"""The client's commands: `jobs`, `run` and `logs`."""

from __future__ import annotations

import argparse
import asyncio
import codecs
import contextlib
import enum
import json
from collections.abc import Iterator
from typing import Any

from .console import Console
from .follow import Follower, note
from .http import ApiClient, StreamLost, path
from .render import table
from .resolve import containers, find_job, list_jobs, names_of, pick_targets

#: exit code of a follow the user interrupted without stopping the execution (128 + SIGINT)
INTERRUPTED = 130
#: exit code of usage and API errors (as argparse's own), and of a follow that lost its stream
ERROR = 2


async def jobs(api: ApiClient, console: Console, args: argparse.Namespace) -> int:
    """List the jobs: a table, or one JSON object per line with --json."""
    found = await list_jobs(api, args.app)
    if args.json:
        for job in found:
            console.print(json.dumps(job, ensure_ascii=False))
        return 0
    rows = [
        [j["JobId"], j["AppName"], j["ServiceName"], j["Name"], str(len(j.get("Executors") or [])), _cmd(console, j)]
        for j in found
    ]
    for line in table(console, ["JOB ID", "APP", "SERVICE", "NAME", "RUNS", "CMD"], rows):
        console.print(line)
    return 0


def _cmd(console: Console, job: dict[str, Any]) -> str:
    """The command, cut on a terminal (a pipe gets it whole)."""
    cmd = str(job.get("Cmd", ""))
    return cmd[:47] + "..." if console.colour and len(cmd) > 50 else cmd


async def run(api: ApiClient, console: Console, args: argparse.Namespace) -> int:
    """Start a job on --all or the --container targets, and follow it to its end."""
    job = await find_job(api, args.job, args.app)
    running = await containers(api, job["ServiceName"]) if args.container else []
    body: dict[str, Any] = {}
    if args.container:
        body["Target"] = pick_targets(running, args.container, job["ServiceName"])
    if args.parallelism is not None:
        body["Parallelism"] = args.parallelism
    if args.timeout is not None:
        body["Timeout"] = args.timeout
    with interrupts(console) as interrupted:  # from the start on, a Ctrl-C is about the execution
        started = await api.call("POST", path("jobs", job["JobId"], "start"), body=body)
        executor_id = str(started["Executors"][-1])
        note(console, f"started execution {executor_id} of job {job['Name']} ({job['JobId']})")
        names = await names_of(api, job["ServiceName"])
        follower = Follower(console, names, group=args.group, as_json=args.json)
        return await follow(api, console, follower, (job["JobId"], executor_id), interrupted, stoppable=True)


async def logs(api: ApiClient, console: Console, args: argparse.Namespace) -> int:
    """One container's stored output (followed with --follow), or every container's (prefixed lines)."""
    job = await find_job(api, args.job, args.app)
    if args.container or not (args.follow or args.json or args.group):
        query = {"ContainerId": args.container or "", "Stream": args.stream or ""}
        if args.follow:
            query["Follow"] = "1"
        decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        route = path("jobs", job["JobId"], "log", args.executor)
        async for chunk in api.download(route, query={k: v for k, v in query.items() if v}):
            console.out.write(decoder.decode(chunk))
            console.out.flush()
        console.out.write(decoder.decode(b"", final=True))
        return 0
    names = await names_of(api, job["ServiceName"])
    follower = Follower(console, names, group=args.group, as_json=args.json, stream=args.stream or "")
    with interrupts(console) as interrupted:
        code = await follow(api, console, follower, (job["JobId"], args.executor), interrupted, stoppable=False)
    return code if code in {ERROR, INTERRUPTED} else 0


@contextlib.contextmanager
def interrupts(console: Console) -> Iterator[asyncio.Event]:
    """An event set by Ctrl-C (SIGINT) while the block runs, instead of KeyboardInterrupt."""
    interrupted = asyncio.Event()
    undo = console.on_interrupt(interrupted.set)
    try:
        yield interrupted
    finally:
        undo()


async def follow(
    api: ApiClient,
    console: Console,
    follower: Follower,
    execution: tuple[str, str],
    interrupted: asyncio.Event,
    *,
    stoppable: bool,
) -> int:
    """Feed the events of the execution (JobId, ExecutorId) to `follower` until its end; a Ctrl-C (`interrupted`)
    asks whether to stop it when `stoppable`, else leaves (see README)."""
    job_id, executor_id = execution
    route = path("jobs", job_id, "executors", executor_id, "events")

    async def consume() -> None:
        async for event in api.events(route):
            follower.handle(event)

    streaming = asyncio.create_task(consume())
    try:
        while not streaming.done():
            if not await _first(streaming, interrupted):
                continue
            interrupted.clear()
            choice = await _after_interrupt(console, follower, interrupted) if stoppable else Choice.LEAVE
            if choice is Choice.LEAVE:
                follower.flush()
                hint = f"dce-jobs logs {job_id} {executor_id} --follow"
                note(console, f"left execution {executor_id} running; follow it again with: {hint}")
                return INTERRUPTED
            if choice is Choice.STOP:
                await api.call("POST", path("jobs", job_id, "executors", executor_id, "stop"), body={})
                note(console, f"stopping execution {executor_id}")
        await streaming
    except StreamLost as e:
        follower.finish()
        note(console, f"{e}; follow it again with: dce-jobs logs {job_id} {executor_id} --follow")
        return ERROR
    finally:
        streaming.cancel()
    return follower.finish()


class Choice(enum.Enum):
    """What a Ctrl-C during a follow leads to."""

    LEAVE = "leave"  #: stop following, leave the execution running (exit 130)
    STOP = "stop"  #: ask the server to stop it, and follow it to its end
    FOLLOW = "follow"  #: go on as if nothing happened


async def _first(streaming: asyncio.Task[None], interrupted: asyncio.Event) -> bool:
    """Wait for the stream's end or a Ctrl-C; True on a Ctrl-C."""
    waiting = asyncio.ensure_future(interrupted.wait())
    await asyncio.wait({streaming, waiting}, return_when=asyncio.FIRST_COMPLETED)
    waiting.cancel()
    return interrupted.is_set()


async def _after_interrupt(console: Console, follower: Follower, interrupted: asyncio.Event) -> Choice:
    """Ask a terminal whether to stop the execution (output held meanwhile); a pipe, or a second Ctrl-C while
    asking, leaves it running."""
    if not console.interactive:
        return Choice.LEAVE
    follower.hold()
    asking = asyncio.ensure_future(console.ask("\nstop this execution? (no: keep following)"))
    again = asyncio.ensure_future(interrupted.wait())
    try:
        await asyncio.wait({asking, again}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        again.cancel()
        asking.cancel()
        follower.release()
    if interrupted.is_set() or asking.cancelled():
        return Choice.LEAVE
    return Choice.STOP if asking.result() else Choice.FOLLOW
