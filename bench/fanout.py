"""Fan-out: N targets running `echo hi` through dce-jobs, through raw docker-py (8 threads), and a CLI loop."""

from __future__ import annotations

import subprocess
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from .env import Bench, BenchError
from .stats import median

RAW_THREADS = 8
POLL_S = 0.1
CMD = ["echo", "hi"]


def through_service(bench: Bench, targets: list[dict[str, str]]) -> tuple[float, int]:
    """Seconds from POST start to every target final (polled through inspect), and how many lost their output."""
    job = bench.create_job(" ".join(CMD), "fanout")
    started = time.perf_counter()
    executor_id = bench.start(job, targets)
    body = bench.wait_final(job, executor_id, poll_s=POLL_S, timeout_s=600)
    elapsed = time.perf_counter() - started
    if _wrong(body):
        time.sleep(1)  # a late write would show now; what is still missing is lost
        body = bench.inspect(job, executor_id)
    return elapsed, len(_wrong(body))


def through_events(bench: Bench, targets: list[dict[str, str]]) -> tuple[float, int]:
    """Seconds from POST start to the execution's `end` event on its event stream (no polling lag), and how many
    targets lost their output."""
    job = bench.create_job(" ".join(CMD), "fanout-events")
    started = time.perf_counter()
    executor_id = bench.start(job, targets)
    bench.wait_end_event(job, executor_id, timeout_s=600)
    elapsed = time.perf_counter() - started
    body = bench.inspect(job, executor_id)
    if _wrong(body):
        time.sleep(1)
        body = bench.inspect(job, executor_id)
    return elapsed, len(_wrong(body))


def _wrong(body: dict[str, Any]) -> list[dict[str, Any]]:
    """Results that did not finish with exit code 0 and the output `hi`."""
    bad = [r for r in body["Result"] if r["Status"] != "FINISHED" or r.get("ExitCode") != 0]
    if bad:
        raise BenchError(f"{len(bad)} targets failed: {bad[0]}")
    return [r for r in body["Result"] if r.get("Output") != "hi\n"]


def through_docker_py(bench: Bench, container_ids: list[str]) -> float:
    """Seconds for the same execs (create, start with output, inspect) with docker-py in 8 threads."""

    def one(container_id: str) -> bytes:
        exec_id = bench.docker.exec_create(container_id, CMD)["Id"]
        output: bytes = bench.docker.exec_start(exec_id)
        if bench.docker.exec_inspect(exec_id)["ExitCode"] != 0:
            raise BenchError(f"raw exec in {container_id[:12]} failed")
        return output

    started = time.perf_counter()
    with ThreadPoolExecutor(RAW_THREADS) as pool:
        outputs = list(pool.map(one, container_ids))
    elapsed = time.perf_counter() - started
    if set(outputs) != {b"hi\n"}:
        raise BenchError(f"raw docker-py outputs: {set(outputs)}")
    return elapsed


def through_cli(bench: Bench, container_ids: list[str]) -> float:
    """Seconds for a sequential `docker exec` loop."""
    host = bench.lab.manager.unix_url
    started = time.perf_counter()
    for container_id in container_ids:
        done = subprocess.run(["docker", "-H", host, "exec", container_id, *CMD], capture_output=True, check=False)
        if done.returncode != 0 or done.stdout != b"hi\n":
            raise BenchError(f"docker exec in {container_id[:12]}: {done.returncode} {done.stderr[:200]!r}")
    return time.perf_counter() - started


def fanout(bench: Bench, sizes: list[int], *, runs: int, log: Any) -> list[dict[str, Any]]:
    """For each size: median seconds of each way over `runs` rounds (the three ways interleaved per round)."""
    rows = []
    for size in sizes:
        targets = bench.targets[:size]
        if len(targets) < size:
            log(f"fan-out {size}: only {len(targets)} containers run; measuring {len(targets)}")
        ids = [t["ContainerId"] for t in targets]
        samples: dict[str, list[float]] = {"service_s": [], "events_s": [], "raw_s": [], "cli_s": []}
        lost = 0
        for round_no in range(runs):
            elapsed, missing = through_service(bench, targets)
            samples["service_s"].append(elapsed)
            lost += missing
            elapsed, missing = through_events(bench, targets)
            samples["events_s"].append(elapsed)
            lost += missing
            samples["raw_s"].append(through_docker_py(bench, ids))
            samples["cli_s"].append(through_cli(bench, ids))
            log(
                f"fan-out {len(targets)} round {round_no + 1}: "
                + ", ".join(f"{k} {v[-1]:.2f}" for k, v in samples.items())
            )
        row: dict[str, Any] = {"targets": len(targets), "requested": size, "runs": samples, "lost_outputs": lost}
        row.update({k: round(median(v), 3) for k, v in samples.items()})
        row["service_over_raw"] = round(row["service_s"] / row["raw_s"], 2)
        row["events_over_raw"] = round(row["events_s"] / row["raw_s"], 2)
        rows.append(row)
    return rows
