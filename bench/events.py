"""Following runs: the latency from a line printed in a container to its `output` event at a client (next to
docker-py reading the same command's exec stream), and the server's CPU with 20 subscribers following a 50-target
run (next to the same run followed by nobody)."""

from __future__ import annotations

import asyncio
import json
import shlex
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import aiohttp
import docker

from .env import Bench, BenchError
from .procstat import cpu_s, own_cpu_s
from .stats import median, percentile

#: prints `T <epoch seconds with microseconds>` (the container shares the host's clock; busybox date has no %N)
_STAMP = "adjtimex | awk '/tv_sec/{s=$2} /tv_usec/{u=$2} END{printf \"T %s.%06d\\n\", s, u}'"
LATENCY_LINES, LATENCY_GAP_US, LATENCY_TARGETS = 100, 20000, 4
FOLLOW_TARGETS, FOLLOW_SUBSCRIBERS, FOLLOW_LINES, FOLLOW_GAP_US = 50, 20, 100, 50000


def _loop(lines: int, gap_us: int, body: str) -> str:
    return f"i=0; while [ $i -lt {lines} ]; do {body}; usleep {gap_us}; i=$((i+1)); done"


def _stamps(text: str, received_s: float, since_s: float, into: list[float]) -> None:
    """Latencies (ms) of the stamped lines of `text` printed after `since_s`."""
    for line in text.splitlines():
        if line.startswith("T "):
            printed_s = float(line[2:])
            if printed_s >= since_s:
                into.append((received_s - printed_s) * 1000)


async def _subscribe(bench: Bench, job: dict[str, Any], executor_id: str, on_output: Any = None) -> dict[str, Any]:
    """Follow an execution's event stream to its end; counts of events and bytes, and the ids' share of them."""
    url = f"{bench.server.url}/api/jobs/{job['JobId']}/executors/{executor_id}/events"
    counts: dict[str, Any] = {"events": 0, "bytes": 0, "id_bytes": 0, "ends": 0, "lines": {}}
    timeout = aiohttp.ClientTimeout(total=900, sock_read=120)
    headers = {"Authorization": f"Bearer {bench.server.token}"}
    async with aiohttp.ClientSession(timeout=timeout) as session, session.get(url, headers=headers) as response:
        if response.status != 200:
            raise BenchError(f"events: {response.status} {await response.text()}")
        subscribed_s, kind = time.time(), ""
        async for raw in response.content:
            counts["bytes"] += len(raw)
            line = raw.decode().rstrip("\n")
            if line.startswith("id: "):
                counts["id_bytes"] += len(raw)
                counts["events"] += 1
            elif line.startswith("event: "):
                kind = line[7:]
            elif line.startswith("data: ") and kind == "output":
                data = json.loads(line[6:])
                lines = counts["lines"]
                lines[data["Index"]] = lines.get(data["Index"], 0) + data["Text"].count("\n")
                if on_output is not None:
                    on_output(data["Text"], time.time(), subscribed_s)
            elif line.startswith("data: ") and kind == "end":
                counts["ends"] += 1
    return counts


def _raw_latencies(bench: Bench, container_ids: list[str], script: str) -> list[float]:
    """docker-py: the same command's exec stream read as it comes, stamped the same way."""
    client = docker.APIClient(base_url=bench.lab.manager.unix_url, timeout=120, max_pool_size=len(container_ids))
    found: list[float] = []

    def one(container_id: str) -> None:
        exec_id = client.exec_create(container_id, ["sh", "-c", script])["Id"]
        since_s, pending = time.time(), b""
        for chunk in client.exec_start(exec_id, stream=True):
            pending += chunk
            whole, _, pending = pending.rpartition(b"\n")
            if whole:
                _stamps(whole.decode(), time.time(), since_s, found)

    try:
        with ThreadPoolExecutor(len(container_ids)) as pool:
            list(pool.map(one, container_ids))
    finally:
        client.close()
    return found


def latency(bench: Bench, *, runs: int, log: Any) -> dict[str, Any]:
    """Milliseconds from a stamped line printed in a container to its `output` event (p50, p99), and docker-py's."""
    script = _loop(LATENCY_LINES, LATENCY_GAP_US, _STAMP)
    targets = bench.targets[:LATENCY_TARGETS]
    events_ms: list[float] = []
    raw_ms: list[float] = []
    for round_no in range(runs):
        job = bench.create_job(f"sh -c {shlex.quote(script)}", "latency")
        executor_id = bench.start(job, targets)

        def stamped(text: str, received_s: float, since_s: float) -> None:
            _stamps(text, received_s, since_s + 0.2, events_ms)  # lines replayed at subscribe time do not count

        asyncio.run(_subscribe(bench, job, executor_id, stamped))
        raw_ms += _raw_latencies(bench, [t["ContainerId"] for t in targets], script)
        log(f"latency round {round_no + 1}: {len(events_ms)} lines through events, {len(raw_ms)} through docker-py")
    if not events_ms or not raw_ms:
        raise BenchError("no stamped line was measured")
    return {
        "targets": len(targets),
        "lines": LATENCY_LINES,
        "gap_ms": LATENCY_GAP_US / 1000,
        "samples": len(events_ms),
        "events_p50_ms": round(percentile(events_ms, 50), 2),
        "events_p99_ms": round(percentile(events_ms, 99), 2),
        "raw_samples": len(raw_ms),
        "raw_p50_ms": round(percentile(raw_ms, 50), 2),
        "raw_p99_ms": round(percentile(raw_ms, 99), 2),
    }


async def _followed(bench: Bench, job: dict[str, Any], executor_id: str, subscribers: int) -> list[dict[str, Any]]:
    return list(await asyncio.gather(*(_subscribe(bench, job, executor_id) for _ in range(subscribers))))


def _span_s(body: dict[str, Any]) -> float:
    """Seconds from the first target's start to the last one's end, as inspect records them."""
    results = body["Result"]
    return max(r["EndTime"] for r in results) - min(r["StartTime"] for r in results)  # type: ignore[no-any-return]


def follow_cpu(bench: Bench, *, runs: int, log: Any) -> dict[str, Any]:
    """Server CPU seconds of a 50-target run followed by 20 subscribers, next to the same run followed by none."""
    targets = bench.targets[:FOLLOW_TARGETS]
    if len(targets) < FOLLOW_TARGETS:
        raise BenchError(f"{len(targets)} targets, not {FOLLOW_TARGETS}")
    cmd = f"sh -c {shlex.quote(_loop(FOLLOW_LINES, FOLLOW_GAP_US, 'echo line $i of $HOSTNAME'))}"
    samples: dict[str, list[float]] = {
        "alone_cpu_s": [],
        "alone_s": [],
        "followed_cpu_s": [],
        "followed_s": [],
        "client_cpu_s": [],
        "alone_span_s": [],
        "followed_span_s": [],
    }
    seen: list[dict[str, Any]] = []
    for round_no in range(runs):
        job = bench.create_job(cmd, "unfollowed")
        before, started = cpu_s(bench.server.pid), time.perf_counter()
        body = bench.wait_final(job, bench.start(job, targets), poll_s=1.0, timeout_s=900)
        samples["alone_s"].append(time.perf_counter() - started)
        samples["alone_cpu_s"].append(cpu_s(bench.server.pid) - before)
        samples["alone_span_s"].append(_span_s(body))
        job = bench.create_job(cmd, "followed")
        before, own, started = cpu_s(bench.server.pid), own_cpu_s(), time.perf_counter()
        executor_id = bench.start(job, targets)
        seen = asyncio.run(_followed(bench, job, executor_id, FOLLOW_SUBSCRIBERS))
        samples["followed_s"].append(time.perf_counter() - started)
        samples["followed_span_s"].append(_span_s(bench.inspect(job, executor_id)))
        samples["followed_cpu_s"].append(cpu_s(bench.server.pid) - before)
        samples["client_cpu_s"].append(own_cpu_s() - own)
        for counts in seen:
            lines = counts["lines"]
            if counts["ends"] != 1 or len(lines) != FOLLOW_TARGETS or set(lines.values()) != {FOLLOW_LINES}:
                raise BenchError(
                    f"a subscriber missed output: {counts['ends']} ends, lines {sorted(set(lines.values()))}"
                )
        log(f"follow round {round_no + 1}: " + ", ".join(f"{k} {v[-1]:.2f}" for k, v in samples.items()))
    row: dict[str, Any] = {
        "targets": FOLLOW_TARGETS,
        "subscribers": FOLLOW_SUBSCRIBERS,
        "lines_each": FOLLOW_LINES,
        "gap_ms": FOLLOW_GAP_US / 1000,
        "runs": samples,
        "events_each": seen[0]["events"],
        "bytes_each": seen[0]["bytes"],
        "id_share": round(seen[0]["id_bytes"] / max(seen[0]["bytes"], 1), 3),
    }
    row.update({k: round(median(v), 2) for k, v in samples.items()})
    extra_s = row["followed_cpu_s"] - row["alone_cpu_s"]
    row["extra_cpu_s"] = round(extra_s, 2)
    row["us_per_event_delivered"] = round(extra_s * 1e6 / max(row["events_each"] * FOLLOW_SUBSCRIBERS, 1), 1)
    return row


def events_bench(bench: Bench, *, runs: int, log: Any) -> dict[str, Any]:
    """Both figures of following runs."""
    return {"latency": latency(bench, runs=runs, log=log), "follow": follow_cpu(bench, runs=runs, log=log)}
