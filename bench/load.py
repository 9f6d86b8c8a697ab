"""The API under load: latency and throughput of GET /api/jobs (1,000 jobs); inspect during a run: inspect_run."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from typing import Any

import aiohttp

from .env import TOKEN, Bench, BenchError
from .stats import median, percentile

CONCURRENCY = 16
JOBS = 1000


@dataclass
class Sample:
    """Latencies of one bounded load run."""

    latencies_s: list[float] = field(default_factory=list)
    errors: int = 0
    elapsed_s: float = 0.0

    async def get(self, session: aiohttp.ClientSession, url: str) -> None:
        """GET url once: its latency when answered 200, else one error more."""
        began = time.perf_counter()
        async with session.get(url) as response:
            await response.read()
            ok = response.status == 200
        if ok:
            self.latencies_s.append(time.perf_counter() - began)
        else:
            self.errors += 1

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
    session: aiohttp.ClientSession,
    url: str,
    *,
    count: int,
    duration_s: float,
    stop: asyncio.Event | None = None,
    concurrency: int = CONCURRENCY,
) -> Sample:
    """GET url from `concurrency` workers until `count` requests, `duration_s` seconds, or `stop` is set."""
    sample, issued = Sample(), 0
    deadline = time.monotonic() + duration_s

    async def worker() -> None:
        nonlocal issued
        while issued < count and time.monotonic() < deadline and not (stop and stop.is_set()):
            issued += 1
            await sample.get(session, url)

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    sample.elapsed_s = time.perf_counter() - started
    return sample


def client_session() -> aiohttp.ClientSession:
    """A client session with the bench token, CONCURRENCY connections."""
    connector = aiohttp.TCPConnector(limit=CONCURRENCY)
    return aiohttp.ClientSession(connector=connector, headers={"Authorization": f"Bearer {TOKEN}"})


async def _store_jobs(bench: Bench, count: int) -> None:
    body = {"AppName": "load", "ServiceName": "dbn-fan", "Cmd": "echo hi", "Env": ["A=1"], "SecretArgs": ["s3cret"]}
    async with client_session() as session:
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
    async with client_session() as session:
        for round_no in range(runs):
            sample = (await hammer(session, f"{bench.server.url}/api/jobs", count=600, duration_s=20)).summary()
            log(f"GET /api/jobs round {round_no + 1}: {sample}")
            samples.append(sample)
    return combine(samples, {"endpoint": "GET /api/jobs", "jobs_stored": stored})


def combine(samples: list[dict[str, float]], head: dict[str, Any]) -> dict[str, Any]:
    keys = ("p50_ms", "p99_ms", "rps", "requests")
    return {
        **head,
        "concurrency": CONCURRENCY,
        **{k: median([s[k] for s in samples]) for k in keys},
        "errors": sum(s["errors"] for s in samples),
        "runs": samples,
    }
