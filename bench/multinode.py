"""Fan-out across Swarm nodes: 60 targets spread 20/20/20 over three nodes next to 60 on one node."""

from __future__ import annotations

import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp

from tests.integration.lab import Lab
from tests.server import Server

FINAL = {"FINISHED", "CREATE_FAILED", "RUNNING_FAILED"}
RUNS = 3


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


async def _measure(url: str, services: dict[str, list[dict[str, str]]]) -> dict[str, list[float]]:
    timings: dict[str, list[float]] = {name: [] for name in services}
    async with aiohttp.ClientSession() as session:
        jobs: dict[str, str] = {}
        for name in services:
            body = {"AppName": "bench", "ServiceName": name, "Name": f"fanout-{name}", "Cmd": "hostname"}
            async with session.post(f"{url}/api/jobs", json=body) as response:
                jobs[name] = (await response.json())["JobId"]
        for _ in range(RUNS):  # interleaved, so both see the same machine state
            for name, targets in services.items():
                timings[name].append(await _one_run(session, url, jobs[name], targets))
    return timings


def main() -> dict[str, Any]:
    """Run the measurement on a fresh 3-node lab and return the medians."""
    lab = Lab.up(nodes=3, lab_dir="/tmp/dce-jobs-mn-lab", prefix="dmn", net="10.221.0")  # noqa: S108 (the lab script owns it)
    server: Server | None = None
    try:
        lab.create_service("spread60", 60)
        lab.create_service("local60", 60, node=1)
        services = {
            name: [{"ContainerId": t["ContainerId"], "NodeId": t["NodeId"]} for t in lab.tasks(name)]
            for name in ("spread60", "local60")
        }
        per_node = {n.hostname: sum(t["NodeId"] == n.node_id for t in services["spread60"]) for n in lab.nodes}
        workdir = Path(tempfile.mkdtemp())
        server = Server(
            data_dir=workdir / "data",
            log_path=workdir / "server.log",
            env={"DCE_JOBS_DOCKER_HOST": lab.manager.unix_url},
        ).wait_ready()
        timings = asyncio.run(_measure(server.url, services))
    finally:
        if server is not None:
            server.stop()
        lab.down()
    result = {name: {"median_s": statistics.median(v), "runs_s": v} for name, v in timings.items()}
    result["spread_per_node"] = per_node
    return result


if __name__ == "__main__":
    figures = main()
    print(figures)
    sys.exit(0)
