"""Inspect of a 200-target execution while another 200-target run is under way, with 10,000 jobs and 100,000
executions stored: this code and the baseline, each serving a copy of the same filled file on the same lab."""

from __future__ import annotations

import asyncio
import dataclasses
import shutil
import time
from pathlib import Path
from typing import Any

import aiohttp

from tests.server import Server

from .bigdata import ROOT, data_copy
from .env import FINAL, TOKEN, Bench, BenchError
from .load import CONCURRENCY, Sample, client_session, combine, hammer
from .stats import median

TARGETS = 200
WINDOW_S = 15.0  #: requests on inspect stop after this, the run goes on to its end
CLIENTS = (1, CONCURRENCY)  #: one client (a panel following the run) and CONCURRENCY
#: the floor: a request that reads no store and encodes a few keys, asked this often beside inspect, shows what any
#: request waits for while the run's execs start on the same cores (the engine's processes and the server's threads)
FLOOR_PATH = "/api/settings"
FLOOR_EVERY_S = 0.02


async def inspect_during_run(
    bench: Bench, *, filled: Path, baseline_code: Path, baseline: str, runs: int, log: Any
) -> dict[str, Any]:
    """Both codes, one after the other: a quiet 200-target run, then inspect of it hammered during further runs."""
    figures: dict[str, Any] = {"endpoint": "GET /api/jobs/{JobId}/inspect/{ExecutorId}", "baseline_commit": baseline}
    # a first 200-target run through the bench's own server: the first run after scaling is slower on the engine,
    # and neither code should pay for it
    warm_up = bench.create_job("sh -c 'sleep 1; echo hi'", "inspect-warm-up")
    bench.wait_final(warm_up, bench.start(warm_up, bench.targets[:TARGETS]), poll_s=0.5, timeout_s=600)
    for label, code in (("baseline", baseline_code), ("this", ROOT)):  # this code second: no first-run advantage
        data = data_copy(filled, bench.workdir / f"inspect-{label}", baseline=label == "baseline")
        server = Server(
            data_dir=data, log_path=bench.workdir / f"inspect-{label}.log", env=bench.server_env, code_dir=code
        )
        try:
            server.wait_ready(timeout_s=180)  # the baseline builds its own indexes of 100,000 executions first
            server.token = TOKEN
            figures[label] = await _rounds(dataclasses.replace(bench, server=server), runs=runs, log=log, label=label)
        finally:
            server.stop()
            shutil.rmtree(data, ignore_errors=True)
    return figures


async def _rounds(bench: Bench, *, runs: int, log: Any, label: str) -> dict[str, Any]:
    targets = bench.targets[:TARGETS]
    job = bench.create_job("sh -c 'sleep 1; echo hi'", "inspect-load")
    started = time.perf_counter()
    ended_id = bench.start(job, targets)
    bench.wait_final(job, ended_id, poll_s=0.5, timeout_s=600)
    quiet_run_s = round(time.perf_counter() - started, 2)
    log(f"inspect {label}: the {len(targets)}-target run without load on inspect: {quiet_run_s} s")
    url = f"{bench.server.url}/api/jobs/{job['JobId']}/inspect/{ended_id}"
    by_clients: dict[int, list[dict[str, Any]]] = {n: [] for n in CLIENTS}
    floors: dict[int, list[dict[str, Any]]] = {n: [] for n in CLIENTS}
    async with client_session() as session:
        for round_no in range(runs):
            for clients in CLIENTS:
                started = time.perf_counter()
                running_id = bench.start(job, targets)
                stop = asyncio.Event()
                running_url = f"{bench.server.url}/api/jobs/{job['JobId']}/inspect/{running_id}"
                watcher = asyncio.create_task(_watch_final(session, running_url, stop))
                floor = asyncio.create_task(_floor(f"{bench.server.url}{FLOOR_PATH}", stop))
                sample = await hammer(session, url, count=20000, duration_s=WINDOW_S, stop=stop, concurrency=clients)
                await watcher
                floors[clients].append((await floor).summary())
                summary = {**sample.summary(), "run_s": round(time.perf_counter() - started, 2)}
                log(f"inspect {label}, {clients} clients during a run, round {round_no + 1}: {summary}")
                log(f"  {FLOOR_PATH} every {FLOOR_EVERY_S} s beside it: {floors[clients][-1]}")
                by_clients[clients].append(summary)
    head = {"targets": len(targets), "quiet_run_s": quiet_run_s, "window_s": WINDOW_S}
    return {
        **head,
        **{
            f"clients_{n}": {
                **combine(samples, {}),
                "concurrency": n,
                "run_s": median([s["run_s"] for s in samples]),
                "floor": {**combine(floors[n], {"path": FLOOR_PATH, "every_s": FLOOR_EVERY_S}), "concurrency": 1},
            }
            for n, samples in by_clients.items()
        },
    }


async def _floor(url: str, stop: asyncio.Event) -> Sample:
    """GET url every FLOOR_EVERY_S (one at a time, on a session of its own: never queued behind inspect's for a
    connection) until `stop` is set or the window ends."""
    sample = Sample()
    started = time.perf_counter()
    async with client_session() as session:
        while not stop.is_set() and time.perf_counter() - started < WINDOW_S:
            await sample.get(session, url)
            await asyncio.sleep(FLOOR_EVERY_S)
    sample.elapsed_s = time.perf_counter() - started
    return sample


async def _watch_final(session: aiohttp.ClientSession, url: str, stop: asyncio.Event) -> None:
    """Set `stop` once every target is final (bounded)."""
    deadline = time.monotonic() + 600
    try:
        while time.monotonic() < deadline:
            async with session.get(url) as response:
                body = await response.json()
            if all(r["Status"] in FINAL for r in body["Result"]):
                return
            await asyncio.sleep(0.25)
        raise BenchError("the run under way did not finish in 600 s")
    finally:
        stop.set()
