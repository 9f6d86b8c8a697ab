"""Across Swarm nodes (3-node lab): 60 targets spread 20/20/20 next to 60 on one node; then hundreds of `sleep 20`
at once, with the server's threads and peak RSS."""

from __future__ import annotations

import asyncio
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp

from tests.integration.lab import Lab, LabError
from tests.server import Server

from .env import scale, tasks_of
from .procstat import ProcSampler, reset_peak, status_value
from .stats import median

FINAL = {"FINISHED", "CREATE_FAILED", "RUNNING_FAILED"}
RUNS = 3
CONCURRENT = 300
CONCURRENT_SLEEP_S = 20
SCALE_TIMEOUT_S = 420
LAB_DOWN_TIMEOUT_S = 900


async def _one_run(session: aiohttp.ClientSession, url: str, job_id: str, targets: list[dict[str, str]]) -> float:
    started = time.monotonic()
    async with session.post(f"{url}/api/jobs/{job_id}/start", json={"Target": targets}) as response:
        executor_id = (await response.json())["Executors"][-1]
    while True:
        async with session.get(f"{url}/api/jobs/{job_id}/inspect/{executor_id}") as response:
            results = (await response.json())["Result"]
        if all(r["Status"] in FINAL for r in results):
            elapsed_s = time.monotonic() - started
            assert all(r["Status"] == "FINISHED" for r in results), [r["E"] for r in results if r["E"]]
            return elapsed_s
        await asyncio.sleep(0.05)


async def _measure(url: str, services: dict[str, list[dict[str, str]]], runs: int) -> dict[str, list[float]]:
    timings: dict[str, list[float]] = {name: [] for name in services}
    async with aiohttp.ClientSession() as session:
        jobs: dict[str, str] = {}
        for name in services:
            body = {"AppName": "bench", "ServiceName": name, "Name": f"fanout-{name}", "Cmd": "hostname"}
            async with session.post(f"{url}/api/jobs", json=body) as response:
                jobs[name] = (await response.json())["JobId"]
        for _ in range(runs):  # interleaved, so both see the same machine state
            for name, targets in services.items():
                timings[name].append(await _one_run(session, url, jobs[name], targets))
    return timings


def _call(server: Server, method: str, path: str, body: Any = None) -> Any:
    status, raw, _ = server.request(method, path, body=body)
    if status >= 300:
        raise RuntimeError(f"{method} {path}: {status} {raw[:300]!r}")
    return json.loads(raw)


def _one_concurrent(server: Server, job_id: str, targets: list[dict[str, str]]) -> dict[str, Any]:
    """One run of `sleep` on every target: start to all final, statuses, server threads and RSS growth."""
    pid = server.pid
    rss_before_kib = status_value(pid, "VmRSS")
    hwm_reset = reset_peak(pid)
    sampler = ProcSampler(pid, every_s=0.02)
    sampler.start()
    started = time.monotonic()
    executor_id = _call(server, "POST", f"/api/jobs/{job_id}/start", {"Target": targets})["Executors"][-1]
    most_running = 0
    deadline = started + 600
    while True:
        body = _call(server, "GET", f"/api/jobs/{job_id}/inspect/{executor_id}")
        statuses = [r["Status"] for r in body["Result"]]
        most_running = max(most_running, statuses.count("RUNNING"))
        if all(s in FINAL for s in statuses) or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    elapsed_s = time.monotonic() - started
    sampler.stop()
    hwm_kib = status_value(pid, "VmHWM") if hwm_reset else 0
    errors = sorted({r["E"] for r in body["Result"] if r["E"]})
    return {
        "seconds": round(elapsed_s, 2),
        "finished": statuses.count("FINISHED"),
        "not_finished": len(statuses) - statuses.count("FINISHED"),
        "errors": errors[:5],
        "max_running_seen": most_running,
        "max_threads": sampler.peak_threads,
        "thread_samples": sampler.samples,
        "rss_before_mib": round(rss_before_kib / 1024, 1),
        "rss_growth_mib": round((max(sampler.peak_rss_kib, hwm_kib) - rss_before_kib) / 1024, 1),
    }


def concurrent(lab: Lab, server: Server, *, replicas: int, runs: int, log: Any) -> dict[str, Any]:
    """Scale the `spread` service to `replicas` (bounded wait), then run `sleep 20` on all of them `runs` times."""
    started = time.monotonic()
    running = scale(lab, replicas, timeout_s=SCALE_TIMEOUT_S, service="spread")
    scale_s = round(time.monotonic() - started, 1)
    log(f"spread scaled to {running}/{replicas} running replicas in {scale_s:.0f} s")
    tasks = tasks_of(lab, "spread")
    targets = [{"ContainerId": t["ContainerId"], "NodeId": t["NodeId"]} for t in tasks]
    per_node = {n.hostname: sum(t["NodeId"] == n.node_id for t in targets) for n in lab.nodes}
    body = {"AppName": "bench", "ServiceName": "spread", "Name": "concurrent", "Cmd": f"sleep {CONCURRENT_SLEEP_S}"}
    job_id = _call(server, "POST", "/api/jobs", body)["JobId"]
    rounds = []
    for round_no in range(runs):
        rounds.append(_one_concurrent(server, job_id, targets))
        log(f"{len(targets)} x sleep {CONCURRENT_SLEEP_S} over 3 nodes, round {round_no + 1}: {rounds[-1]}")
    return {
        "requested": replicas,
        "targets": len(targets),
        "scale_s": scale_s,
        "per_node": per_node,
        "sleep_s": CONCURRENT_SLEEP_S,
        "seconds": median([r["seconds"] for r in rounds]),
        "all_finished": all(r["not_finished"] == 0 for r in rounds),
        "max_threads": max(r["max_threads"] for r in rounds),
        "rss_growth_mib": max(r["rss_growth_mib"] for r in rounds),
        "runs": rounds,
    }


def main(*, spread: bool = True, replicas: int = CONCURRENT, runs: int = RUNS, log: Any = print) -> dict[str, Any]:
    """On a fresh 3-node lab: the 60-target medians (when `spread`), then `replicas` concurrent sleeps (when > 0)."""
    lab = Lab.up(nodes=3, lab_dir="/tmp/dce-jobs-mn-lab", prefix="dmn", net="10.221.0")  # noqa: S108 (the lab script owns it)
    server: Server | None = None
    result: dict[str, Any] = {}
    try:
        lab.create_service("spread", 60)
        if spread:
            lab.create_service("local60", 60, node=1)
        services = {
            name: [{"ContainerId": t["ContainerId"], "NodeId": t["NodeId"]} for t in lab.tasks(name)]
            for name in (("spread", "local60") if spread else ())
        }
        workdir = Path(tempfile.mkdtemp())
        server = Server(
            data_dir=workdir / "data",
            log_path=workdir / "server.log",
            env={"DCE_JOBS_DOCKER_HOST": lab.manager.unix_url},
        ).wait_ready()
        if spread:
            timings = asyncio.run(_measure(server.url, services, runs))
            result["spread60"] = {"median_s": statistics.median(timings["spread"]), "runs_s": timings["spread"]}
            result["local60"] = {"median_s": statistics.median(timings["local60"]), "runs_s": timings["local60"]}
            result["spread_per_node"] = {
                n.hostname: sum(t["NodeId"] == n.node_id for t in services["spread"]) for n in lab.nodes
            }
        if replicas:
            result["concurrent"] = concurrent(lab, server, replicas=replicas, runs=runs, log=log)
    finally:
        if server is not None:
            server.stop()
        try:  # hundreds of containers take minutes to remove on a busy machine; the figures are kept either way
            lab.down(timeout_s=LAB_DOWN_TIMEOUT_S)
        except LabError as e:
            log(f"the 3-node lab did not come down: {e}; run `lab down` with DCE_LAB_DIR={lab.lab_dir}")
            result["lab_down_error"] = str(e)[:300]
    return result


if __name__ == "__main__":
    figures = main()
    print(figures)
    sys.exit(0)
