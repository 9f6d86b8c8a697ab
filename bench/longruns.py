"""Long runs on one node: many `sleep`s at once, a quick job beside a long one, a rolling run's parallelism."""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import docker

from .env import Bench, BenchError
from .stats import median

POLL_S = 0.1
#: after the long job's processes are up, the engine is given this long to finish its work on their starts
SETTLE_S = 2.0


def raw_execs(
    bench: Bench, container_ids: list[str], cmd: list[str], *, threads: int, consume: Callable[[Any], Any] | None = None
) -> tuple[float, list[Any]]:
    """Seconds for create + start (output) + inspect of `cmd` in each container with docker-py in `threads` threads.

    `consume` reads a streamed start (exec_start(stream=True)); without it the output is read whole.
    Returns the seconds and each container's output (or what `consume` returned).
    """
    client = docker.APIClient(base_url=bench.lab.manager.unix_url, timeout=120, max_pool_size=threads)

    def one(container_id: str) -> Any:
        exec_id = client.exec_create(container_id, cmd)["Id"]
        output = consume(client.exec_start(exec_id, stream=True)) if consume else client.exec_start(exec_id)
        if client.exec_inspect(exec_id)["ExitCode"] != 0:
            raise BenchError(f"raw exec {cmd} in {container_id[:12]} failed")
        return output

    try:
        started = time.perf_counter()
        with ThreadPoolExecutor(threads) as pool:
            outputs = list(pool.map(one, container_ids))
        return time.perf_counter() - started, outputs
    finally:
        client.close()


def through_service(
    bench: Bench, cmd: str, targets: list[dict[str, str]], name: str, *, poll_s: float = POLL_S, **settings: Any
) -> tuple[float, dict[str, Any], str, dict[str, Any]]:
    """Seconds from POST start to every target final (polled through inspect); the job, ExecutorId, final inspect.

    Every target must end FINISHED with exit code 0.
    """
    job = bench.create_job(cmd, name)
    started = time.perf_counter()
    executor_id = bench.start(job, targets, **settings)
    body = bench.wait_final(job, executor_id, poll_s=poll_s, timeout_s=900)
    elapsed = time.perf_counter() - started
    _check_finished(body, name)
    return elapsed, job, executor_id, body


def _check_finished(body: dict[str, Any], name: str) -> None:
    bad = [r for r in body["Result"] if r["Status"] != "FINISHED" or r.get("ExitCode") != 0]
    if bad:
        first = {k: v for k, v in bad[0].items() if k != "Output"}
        raise BenchError(f"{name}: {len(bad)} targets did not finish with exit code 0: {first}")


def sleep_many(bench: Bench, *, runs: int, log: Any, count: int = 48, sleep_s: int = 10) -> dict[str, Any]:
    """`count` targets running `sleep sleep_s` on one node: dce-jobs vs docker-py with one thread per target."""
    targets = bench.targets[:count]
    if len(targets) < count:
        raise BenchError(f"sleep {sleep_s}: {count} targets needed, {len(targets)} run")
    ids = [t["ContainerId"] for t in targets]
    samples: dict[str, list[float]] = {"service_s": [], "raw_s": []}
    for round_no in range(runs):
        samples["service_s"].append(through_service(bench, f"sleep {sleep_s}", targets, f"sleep{count}")[0])
        samples["raw_s"].append(raw_execs(bench, ids, ["sleep", str(sleep_s)], threads=count)[0])
        log(
            f"{count} x sleep {sleep_s}, round {round_no + 1}: "
            + ", ".join(f"{k} {v[-1]:.2f}" for k, v in samples.items())
        )
    return _ratio_row({"targets": count, "sleep_s": sleep_s, "threads": count}, samples)


def _ratio_row(head: dict[str, Any], samples: dict[str, list[float]]) -> dict[str, Any]:
    row = {**head, "runs": samples, **{k: round(median(v), 3) for k, v in samples.items()}}
    row["service_over_raw"] = round(row["service_s"] / row["raw_s"], 2)
    return row


def _wait_running(bench: Bench, job: dict[str, Any], executor_id: str, count: int, *, timeout_s: float) -> float:
    """Poll until `count` targets are RUNNING; the seconds it took."""
    started = time.perf_counter()
    deadline = started + timeout_s
    while time.perf_counter() < deadline:
        if sum(r["Status"] == "RUNNING" for r in bench.inspect(job, executor_id)["Result"]) >= count:
            return time.perf_counter() - started
        time.sleep(POLL_S)
    raise BenchError(f"{count} targets not RUNNING after {timeout_s:.0f} s")


def quick_beside_long(bench: Bench, *, runs: int, log: Any, long_n: int = 16, quick_n: int = 4) -> dict[str, Any]:
    """A `quick_n`-target `echo hi` job started while a `long_n`-target `sleep 30` job runs on the same node.

    The echo job's start-to-final time through dce-jobs, then the same execs through docker-py (one thread each),
    both while the long job runs; the long job is then stopped, and the echo job runs once more through dce-jobs
    alone (the control: what the long job adds).
    """
    long_targets, quick_targets = bench.targets[:long_n], bench.targets[long_n : long_n + quick_n]
    if len(quick_targets) < quick_n:
        raise BenchError(f"quick beside long: {long_n + quick_n} targets needed")
    long_job = bench.create_job("sleep 30", "long")
    quick_ids = [t["ContainerId"] for t in quick_targets]
    samples: dict[str, list[float]] = {"service_s": [], "raw_s": [], "alone_s": []}
    overlapped = True
    for round_no in range(runs):
        long_exec = bench.start(long_job, long_targets)
        _wait_running(bench, long_job, long_exec, long_n, timeout_s=120)
        _wait_processes(bench, bench.inspect(long_job, long_exec), timeout_s=120)
        time.sleep(SETTLE_S)
        # whichever side runs first may still meet the engine's work on the long job's starts: take turns
        for side in ("service", "raw") if round_no % 2 == 0 else ("raw", "service"):
            if side == "service":
                samples["service_s"].append(through_service(bench, "echo hi", quick_targets, "quick", poll_s=0.02)[0])
                continue
            elapsed, outputs = raw_execs(bench, quick_ids, ["echo", "hi"], threads=quick_n)
            if set(outputs) != {b"hi\n"}:
                raise BenchError(f"raw echo outputs: {set(outputs)}")
            samples["raw_s"].append(elapsed)
        still = sum(r["Status"] == "RUNNING" for r in bench.inspect(long_job, long_exec)["Result"])
        overlapped = overlapped and still == long_n
        bench.stop(long_job, long_exec)
        bench.wait_final(long_job, long_exec, poll_s=0.5, timeout_s=120)
        samples["alone_s"].append(through_service(bench, "echo hi", quick_targets, "alone", poll_s=0.02)[0])
        log(
            f"{quick_n} x echo beside {long_n} x sleep 30, round {round_no + 1}: "
            + ", ".join(f"{k} {v[-1]:.3f}" for k, v in samples.items())
            + f" ({still}/{long_n} long targets still RUNNING after both)"
        )
    head = {"quick_targets": quick_n, "long_targets": long_n, "long_ran_throughout": overlapped}
    return _ratio_row(head, samples)


def _wait_processes(bench: Bench, body: dict[str, Any], *, timeout_s: float) -> float:
    """Poll the engine until every exec of `body` has its process (a Pid); the seconds it took.

    A target is RUNNING once its exec's start was answered, before the runtime has spawned its process; right
    after many starts the engine is still spawning them, and whichever execs come next wait behind that work.
    """
    started = time.perf_counter()
    deadline = started + timeout_s
    pending = [r["ID"] for r in body["Result"]]
    while pending and time.perf_counter() < deadline:
        pending = [exec_id for exec_id in pending if not bench.docker.exec_inspect(exec_id).get("Pid")]
        if pending:
            time.sleep(POLL_S)
    if pending:
        raise BenchError(f"{len(pending)} execs without a process after {timeout_s:.0f} s")
    return time.perf_counter() - started


def rolling(
    bench: Bench, *, runs: int, log: Any, count: int = 12, parallelism: int = 3, delay_s: float = 1, sleep_s: int = 2
) -> dict[str, Any]:
    """`count` targets of `sleep sleep_s` with Parallelism and Delay: the most RUNNING at once, and the time."""
    targets = bench.targets[:count]
    job = bench.create_job(f"sleep {sleep_s}", "rolling")
    settings = {"Parallelism": parallelism, "Delay": delay_s}
    rounds = []
    for round_no in range(runs):
        started = time.perf_counter()
        executor_id = bench.start(job, targets, **settings)
        most_running = most_started = polls = 0
        deadline = started + 600
        while True:
            statuses = [r["Status"] for r in bench.inspect(job, executor_id)["Result"]]
            polls += 1
            most_running = max(most_running, statuses.count("RUNNING"))
            most_started = max(most_started, statuses.count("RUNNING") + statuses.count("CREATED"))
            if all(s in {"FINISHED", "CREATE_FAILED", "RUNNING_FAILED"} for s in statuses):
                break
            if time.perf_counter() > deadline:
                raise BenchError("the rolling run did not end in 600 s")
        elapsed = time.perf_counter() - started
        body = bench.inspect(job, executor_id)
        _check_finished(body, "rolling")
        sample = {
            "total_s": round(elapsed, 2),
            "max_running_seen": most_running,
            "max_created_or_running_seen": most_started,
            "max_overlap_by_times": _max_overlap(body["Result"]),
            "polls": polls,
            "poll_every_s": round(elapsed / polls, 3),
        }
        log(f"rolling {count} targets, Parallelism {parallelism}, Delay {delay_s}, round {round_no + 1}: {sample}")
        rounds.append(sample)
    keys = ("max_running_seen", "max_created_or_running_seen", "max_overlap_by_times")
    return {
        "targets": count,
        "parallelism": parallelism,
        "delay_s": delay_s,
        "sleep_s": sleep_s,
        "total_s": median([r["total_s"] for r in rounds]),
        "poll_every_s": median([r["poll_every_s"] for r in rounds]),
        **{k: max(r[k] for r in rounds) for k in keys},
        "runs": rounds,
    }


def _max_overlap(results: list[dict[str, Any]]) -> int:
    """The most results whose [StartTime, EndTime] intervals overlap at one instant."""
    events = []
    for result in results:
        if result.get("StartTime") is not None and result.get("EndTime") is not None:
            events += [(float(result["StartTime"]), 1), (float(result["EndTime"]), -1)]
    current = most = 0
    for _, step in sorted(events, key=lambda e: (e[0], e[1])):  # an end before a start at the same instant
        current += step
        most = max(most, current)
    return most
