"""`python -m bench` (make bench): fan-out, API under load, log download; fan-out across a 3-node lab."""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from typing import Any

from . import multinode, report
from .env import Bench, bench_env
from .fanout import RAW_THREADS, fanout
from .load import inspect_load, list_jobs_load
from .logdl import log_download
from .machine import machine_info


def log(message: str) -> None:
    """Progress on stderr."""
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def _loadavg() -> str:
    with open("/proc/loadavg") as handle:
        return " ".join(handle.read().split()[:3])


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--runs", type=int, default=3, help="runs per figure (the median is reported)")
    parser.add_argument("--sizes", default="10,50,200", help="fan-out sizes")
    return parser


def measure(bench: Bench, *, sizes: list[int], runs: int) -> dict[str, Any]:
    """Every figure of the bench on a ready environment."""
    version = bench.docker.version().get("Version", "?")
    results: dict[str, Any] = {"machine": machine_info(version), "runs": runs, "notes": list(bench.notes)}
    results["fanout"] = fanout(bench, sizes, runs=runs, log=log)
    results["load"] = [
        asyncio.run(list_jobs_load(bench, runs=runs, log=log)),
        asyncio.run(inspect_load(bench, runs=runs, log=log)),
    ]
    results["log_download"] = log_download(bench, runs=runs, log=log)
    results["notes"] += [
        "dce-jobs runs with its defaults: 8 concurrent execs per node (DCE_JOBS_NODE_CONCURRENCY), 64 in all; "
        f"its time includes the API round trips and inspect polled every 0.1 s; docker-py uses {RAW_THREADS} "
        "threads on one client; each way runs create + start (output) + inspect per target",
        "inspect under load: each target runs `sleep 1; echo hi`, requests only while the run is under way",
    ]
    return results


def main(argv: list[str] | None = None) -> int:
    """Run the bench and write bench/results/."""
    args = _parser().parse_args(argv)
    sizes = [int(s) for s in args.sizes.split(",") if s.strip()]
    started, load_before = time.monotonic(), _loadavg()
    with bench_env(replicas=max(sizes), log=log) as bench:
        results = measure(bench, sizes=sizes, runs=args.runs)
    log("across nodes: 60 targets over a 3-node lab next to 60 on one node")
    results["multinode"] = multinode.main()
    results["total_s"] = round(time.monotonic() - started, 1)
    results["notes"].append(f"load average before {load_before}, after {_loadavg()} (other work on this machine skews)")
    for path in report.write(results):
        log(f"wrote {path}")
    print(report.markdown(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
