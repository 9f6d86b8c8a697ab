"""The command-line client: `dce-jobs jobs`, `run` and `logs` against a dce-jobs server's API."""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from collections.abc import Awaitable, Callable

from .commands import ERROR, INTERRUPTED, jobs, logs, run
from .console import Console
from .follow import note
from .http import ApiClient, ApiError, StreamLost
from .resolve import UsageError

Command = Callable[[ApiClient, Console, argparse.Namespace], Awaitable[int]]
COMMANDS: dict[str, Command] = {"jobs": jobs, "run": run, "logs": logs}
DEFAULT_URL = "http://127.0.0.1:8080"


def add_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add `jobs`, `run` and `logs` to the `dce-jobs` command line."""
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--url", help=f"the server (DCE_JOBS_URL, default {DEFAULT_URL})")
    common.add_argument("--token", help="its API token (DCE_JOBS_API_TOKEN)")
    common.add_argument("--app", help="the job's AppName (when its name is in several apps)")
    common.add_argument("--json", action="store_true", help="JSON lines instead of text")
    follow = argparse.ArgumentParser(add_help=False)
    follow.add_argument("--group", action="store_true", help="print identical outputs once, with their containers")

    sub.add_parser("jobs", parents=[common], help="list the jobs")
    run_ = sub.add_parser("run", parents=[common, follow], help="start a job and follow its output")
    run_.add_argument("job", metavar="JOB", help="the job's name or JobId")
    where = run_.add_mutually_exclusive_group(required=True)
    where.add_argument("--all", action="store_true", help="on every running container of the job's service")
    where.add_argument(
        "--container", nargs="+", action="extend", metavar="ID", help="on these containers (ids or unique prefixes)"
    )
    run_.add_argument("--parallelism", type=int, metavar="N", help="targets running at once (0: all)")
    run_.add_argument("--timeout", type=float, metavar="S", help="seconds before a target is stopped")
    logs_ = sub.add_parser("logs", parents=[common, follow], help="print an execution's output")
    logs_.add_argument("job", metavar="JOB", help="the job's name or JobId")
    logs_.add_argument("executor", metavar="EXECUTOR", help="the ExecutorId")
    logs_.add_argument("--container", metavar="ID", help="one container's output only")
    logs_.add_argument("--follow", "-f", action="store_true", help="go on printing until the execution ends")
    logs_.add_argument("--stream", choices=("stdout", "stderr"), help="one stream only")


async def run_command(args: argparse.Namespace, console: Console, *, backoff_s: float | None = None) -> int:
    """Run one client command; its exit code (API and usage errors print their message and give 2)."""
    url = args.url or os.environ.get("DCE_JOBS_URL") or DEFAULT_URL
    token = args.token if args.token is not None else os.environ.get("DCE_JOBS_API_TOKEN", "")
    options = {} if backoff_s is None else {"backoff_s": backoff_s}
    try:
        async with ApiClient(url, token=token, **options) as api:
            return await COMMANDS[args.command](api, console, args)
    except (ApiError, UsageError, StreamLost) as e:
        console.print(f"dce-jobs {args.command}: {e}", err=True)
        return ERROR


def main(args: argparse.Namespace) -> int:
    """Run a client command in its own event loop (the `dce-jobs` entry point calls this)."""
    console = Console.system()
    try:
        return asyncio.run(run_command(args, console))
    except BrokenPipeError:  # `dce-jobs run ... | head`: the reader left; say nothing more at exit either
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
    except KeyboardInterrupt:  # Ctrl-C before a follow began (a follow handles its own)
        console.print(f"dce-jobs {args.command}: interrupted", err=True)
        return INTERRUPTED


__all__ = ["COMMANDS", "add_commands", "main", "note", "run_command"]
