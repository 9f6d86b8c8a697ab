"""`python -m bench` (make bench): dce-jobs next to docker-py on a one-node lab (fan-out, long runs, a rolling run,
heavy output, the API under load, log download), then on a 3-node lab (across nodes, hundreds of runs at once)."""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from contextlib import ExitStack
from pathlib import Path
from typing import Any

from . import multinode, report
from .bigdata import bigdata, filled_store
from .bigout import big_output
from .env import Bench, bench_env
from .events import FOLLOW_TARGETS, events_bench
from .fanout import RAW_THREADS, fanout
from .goals import verdicts
from .inspect_run import inspect_during_run
from .load import list_jobs_load
from .logdl import log_download
from .longruns import quick_beside_long, rolling, sleep_many
from .machine import machine_info

#: the parts of the bench, in the order they run, with the replicas each needs on the one-node lab
ONE_NODE = {
    "fanout": 0,
    "sleep48": 48,
    "beside": 20,
    "rolling": 12,
    "output": 8,
    "load": 200,
    "logdl": 1,
    "events": FOLLOW_TARGETS,
}
THREE_NODES = ("across", "concurrent")
NO_LAB = ("bigdata",)  #: parts that need no engine: the store filled directly
PARTS = (*ONE_NODE, *THREE_NODES, *NO_LAB)


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
    parser.add_argument("--only", default="", help=f"comma-separated parts to run, of: {', '.join(PARTS)}")
    parser.add_argument("--quick", action="store_true", help="one run per figure, fan-out at 10 and 50 targets")
    parser.add_argument("--replicas", type=int, default=300, help="containers for the runs-at-once part (3 nodes)")
    parser.add_argument(
        "--baseline", default="main", help="commit whose code the bigdata part measures beside this one"
    )
    return parser


def measure(
    bench: Bench, *, parts: list[str], sizes: list[int], runs: int, big: tuple[Path, Path, str] | None = None
) -> dict[str, Any]:
    """The one-node figures of `parts` on a ready environment (`big`: the filled file, baseline code and commit)."""
    version = bench.docker.version().get("Version", "?")
    results: dict[str, Any] = {"machine": machine_info(version), "runs": runs, "notes": list(bench.notes)}
    if "fanout" in parts:
        results["fanout"] = fanout(bench, sizes, runs=runs, log=log)
        results["notes"].append(
            "fan-out: dce-jobs runs with its defaults: 8 engine calls in flight per node (DCE_JOBS_NODE_CONCURRENCY), "
            "64 in all; its time includes the API round trips, once up to the `end` event of the execution's event "
            "stream (the figure judged), once up to inspect polled every 0.1 s showing every target final (a separate "
            f"run of the same execs, which adds the polling lag); docker-py uses "
            f"{RAW_THREADS} threads on one client; each way runs create + start (output) + inspect per target"
        )
    if "sleep48" in parts:
        results["sleep_many"] = sleep_many(bench, runs=runs, log=log)
    if "beside" in parts:
        results["beside"] = quick_beside_long(bench, runs=runs, log=log)
        results["notes"].append(
            "quick beside long: once the long job's 16 execs all have their process (exec-inspect Pid) and 2 s "
            "more, the echo job (polled every 0.02 s) and the same 4 execs through docker-py (4 threads) run one "
            "after the other, taking turns at going first, the long job still running; then it is stopped"
        )
    if "rolling" in parts:
        results["rolling"] = rolling(bench, runs=runs, log=log)
    if "output" in parts:
        results["big_output"] = big_output(bench, runs=runs, log=log)
        results["notes"].append(
            "heavy output: `yes <108 chars> | head -c 33554432` per target; dce-jobs stores every byte (output "
            "limit raised for the bench), inspect polled every 0.2 s; docker-py reads the stream "
            "(exec_start(stream=True)) and counts the bytes; CPU: utime+stime of the server process vs the "
            "bench process's own during its part"
        )
    if "load" in parts and big is not None:
        filled, baseline_code, baseline = big
        results["load"] = [asyncio.run(list_jobs_load(bench, runs=runs, log=log))]
        results["inspect_during_run"] = asyncio.run(
            inspect_during_run(bench, filled=filled, baseline_code=baseline_code, baseline=baseline, runs=runs, log=log)
        )
        results["notes"].append(
            "inspect during a run: each target runs `sleep 1; echo hi`; inspect of an ended 200-target execution is "
            "requested only while another 200-target run of the same job is under way, by 1 and by 16 clients; this "
            f"code and the baseline ({baseline}) each serve a copy of the 10,000 jobs and 100,000 executions, one "
            "after the other on the same lab"
        )
    if "logdl" in parts:
        results["log_download"] = log_download(bench, runs=runs, log=log)
    if "events" in parts:
        results["events"] = events_bench(bench, runs=runs, log=log)
        results["notes"].append(
            "following runs: latency from a line stamped in the container (`adjtimex`, the host's clock) to its "
            "`output` event read by an aiohttp client (lines replayed at subscribe time left out), next to docker-py "
            "reading the same command's exec stream; CPU: utime+stime of the server from start to every "
            "subscriber's `end`, next to the same run followed by nobody (inspect polled every 1 s)"
        )
    return results


def main(argv: list[str] | None = None) -> int:
    """Run the bench (or the parts asked for) and write bench/results/."""
    args = _parser().parse_args(argv)
    parts = [p.strip() for p in args.only.split(",") if p.strip()] or list(PARTS)
    unknown = sorted(set(parts) - set(PARTS))
    if unknown:
        _parser().error(f"unknown parts {unknown}; parts are {', '.join(PARTS)}")
    runs = 1 if args.quick else args.runs
    sizes = [int(s) for s in ("10,50" if args.quick else args.sizes).split(",") if s.strip()]
    started, load_before = time.monotonic(), _loadavg()
    one_node = [p for p in parts if p in ONE_NODE]
    replicas = max([10, *(max(sizes) if p == "fanout" else ONE_NODE[p] for p in one_node)])
    with ExitStack() as stack:
        big = None
        if {"load", "bigdata"} & set(parts):  # filled once, before any lab: both parts serve copies of it
            filled, baseline_code = stack.enter_context(filled_store(baseline=args.baseline, log=log))
            big = (filled, baseline_code, args.baseline)
        if one_node:
            with bench_env(replicas=replicas, log=log) as bench:
                results = measure(bench, parts=one_node, sizes=sizes, runs=runs, big=big)
        else:
            results = {"machine": machine_info("?"), "runs": runs, "notes": []}
        if set(parts) & set(THREE_NODES):
            log("3-node lab: " + ", ".join(p for p in parts if p in THREE_NODES))
            concurrent = args.replicas if "concurrent" in parts else 0
            results["multinode"] = multinode.main(spread="across" in parts, replicas=concurrent, runs=runs, log=log)
        if "bigdata" in parts and big is not None:
            filled, baseline_code, _ = big
            results["bigdata"] = bigdata(
                filled=filled, baseline_code=baseline_code, baseline=args.baseline, quick=args.quick, log=log
            )
            results["notes"].append(
                f"bigdata: 10,000 jobs and 100,000 executions (over the last 29 days) stored through the SQLite store "
                f"API; the baseline ({args.baseline}) serves a copy of the file without the indexes this code adds, "
                "beside this code in the same run; each figure is measured on one and then the other, the two taking "
                "turns at going first"
            )
    results["parts"], results["complete"] = parts, set(parts) == set(PARTS)
    results["goals"] = verdicts(results)
    results["total_s"] = round(time.monotonic() - started, 1)
    results["notes"].append(f"load average before {load_before}, after {_loadavg()} (other work on this machine skews)")
    for path in report.write(results, latest=results["complete"]):
        log(f"wrote {path}")
    print(report.markdown(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
