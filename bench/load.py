"""The API under load: latency and throughput of GET /api/jobs (1,000 jobs) and of inspect during a run."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from typing import Any

import aiohttp

from .env import FINAL, TOKEN, Bench, BenchError
from .stats import median, percentile

CONCURRENCY = 16
JOBS = 1000
INSPECT_WINDOW_S = 15.0  #: load on inspect stops after this, the run goes on to its end


@dataclass
class Sample:
    """Latencies of one bounded load run."""

    latencies_s: list[float] = field(default_factory=list)
    errors: int = 0
    elapsed_s: float = 0.0

    def summary(self) -> dict[str, float]:
        """p50/p99 in ms, requests per second, counts."""
        return {
            "requests": len(self.latencies_s),
            "errors": self.errors,
            "p50_ms": round(percentile(self.latencies_s, 50) * 1000, 2),
            "p99_ms": round(percentile(self.latencies_s, 99) * 1000, 2),
            "rps": round(len(self.latencies_s) / self.elapsed_s, 1) if self.elapsed_s else 0.0,
        }


async def hammer(
    session: aiohttp.ClientSession, url: str, *, count: int, duration_s: float, stop: asyncio.Event | None = None
) -> Sample:
    """GET url from CONCURRENCY workers until `count` requests, `duration_s` seconds, or `stop` is set."""
    sample, issued = Sample(), 0
    deadline = time.monotonic() + duration_s

    async def worker() -> None:
        nonlocal issued
        while issued < count and time.monotonic() < deadline and not (stop and stop.is_set()):
            issued += 1
            began = time.perf_counter()
            async with session.get(url) as response:
                await response.read()
                ok = response.status == 200
            if ok:
                sample.latencies_s.append(time.perf_counter() - began)
            else:
                sample.errors += 1

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(CONCURRENCY)))
    sample.elapsed_s = time.perf_counter() - started
    return sample


def _session() -> aiohttp.ClientSession:
    connector = aiohttp.TCPConnector(limit=CONCURRENCY)
    return aiohttp.ClientSession(connector=connector, headers={"Authorization": f"Bearer {TOKEN}"})


async def _store_jobs(bench: Bench, count: int) -> None:
    body = {"AppName": "load", "ServiceName": "dbn-fan", "Cmd": "echo hi", "Env": ["A=1"], "SecretArgs": ["s3cret"]}
    async with _session() as session:
        queue = list(range(count))

        async def worker() -> None:
            while queue:
                index = queue.pop()
                async with session.post(f"{bench.server.url}/api/jobs", json={**body, "Name": f"load-{index}"}) as r:
                    if r.status != 200:
                        raise BenchError(f"creating job {index}: {r.status} {await r.text()}")

        await asyncio.gather(*(worker() for _ in range(CONCURRENCY)))


async def list_jobs_load(bench: Bench, *, runs: int, log: Any) -> dict[str, Any]:
    """Store JOBS jobs (AppName load), then `runs` bounded runs of GET /api/jobs."""
    await _store_jobs(bench, JOBS)
    stored = len(bench.call("GET", "/api/jobs"))
    samples = []
    async with _session() as session:
        for round_no in range(runs):
            sample = (await hammer(session, f"{bench.server.url}/api/jobs", count=600, duration_s=20)).summary()
            log(f"GET /api/jobs round {round_no + 1}: {sample}")
            samples.append(sample)
    return _combine(samples, {"endpoint": "GET /api/jobs", "jobs_stored": stored})


async def inspect_load(bench: Bench, *, runs: int, log: Any) -> dict[str, Any]:
    """Inspect hammered (at most INSPECT_WINDOW_S) while a 200-target run (`sleep 1; echo hi` each) is under way."""
    targets = bench.targets[:200]
    job = bench.create_job("sh -c 'sleep 1; echo hi'", "inspect-load")
    started = time.perf_counter()
    bench.wait_final(job, bench.start(job, targets), poll_s=0.5, timeout_s=600)
    quiet_run_s = round(time.perf_counter() - started, 2)
    log(f"the {len(targets)}-target run without load on inspect: {quiet_run_s} s")
    samples = []
    async with _session() as session:
        for round_no in range(runs):
            started = time.perf_counter()
            executor_id = bench.start(job, targets)
            url = f"{bench.server.url}/api/jobs/{job['JobId']}/inspect/{executor_id}"
            stop = asyncio.Event()
            watcher = asyncio.create_task(_watch_final(session, url, stop))
            sample = await hammer(session, url, count=20000, duration_s=INSPECT_WINDOW_S, stop=stop)
            await watcher
            summary: dict[str, Any] = {**sample.summary(), "run_s": round(time.perf_counter() - started, 2)}
            log(f"inspect during a {len(targets)}-target run, round {round_no + 1}: {summary}")
            samples.append(summary)
    head = {"endpoint": "GET /api/jobs/{JobId}/inspect/{ExecutorId}", "targets": len(targets)}
    return {
        **_combine(samples, head),
        "run_s": median([s["run_s"] for s in samples]),
        "quiet_run_s": quiet_run_s,
        "window_s": INSPECT_WINDOW_S,
    }


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
        raise BenchError("the inspect-load run did not finish in 600 s")
    finally:
        stop.set()


def _combine(samples: list[dict[str, float]], head: dict[str, Any]) -> dict[str, Any]:
    keys = ("p50_ms", "p99_ms", "rps", "requests")
    return {
        **head,
        "concurrency": CONCURRENCY,
        **{k: median([s[k] for s in samples]) for k in keys},
        "errors": sum(s["errors"] for s in samples),
        "runs": samples,
    }
