"""The results as markdown and JSON in bench/results/ (latest.* and a dated copy)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

RESULTS_DIR = Path(__file__).resolve().parent / "results"


def markdown(results: dict[str, Any]) -> str:
    """The results as the table the README quotes."""
    m = results["machine"]
    lines = [
        f"# dce-jobs bench, {m['date']}",
        "",
        f"{m['cores']} cores ({m['cpu']}), {m['memory_gib']} GiB, kernel {m['kernel']}, Docker {m['docker']}, "
        f"Python {m['python']}, dce-jobs {m['dce_jobs']}; one-node lab swarm, loopback only. "
        f"Medians of {results['runs']} runs; whole bench {results['total_s']:.0f} s.",
        "",
        "## Fan-out: `echo hi` in N task containers (seconds, start to all final)",
        "",
        "| targets | dce-jobs (API, polled) | docker-py, 8 threads | `docker exec` loop | dce-jobs / docker-py |",
        "| ---: | ---: | ---: | ---: | ---: |",
    ]
    for row in results["fanout"]:
        lines.append(
            f"| {row['targets']} | {row['service_s']:.2f} | {row['raw_s']:.2f} | {row['cli_s']:.2f} "
            f"| **{row['service_over_raw']:.2f}** |"
        )
    lost = sum(row["lost_outputs"] for row in results["fanout"])
    execs = sum(row["targets"] * results["runs"] for row in results["fanout"])
    lines += ["", f"dce-jobs targets FINISHED with exit code 0 but without their output `hi`: {lost} of {execs}."]
    lines += ["", "## API under load", "", "| request | concurrency | requests/run | p50 ms | p99 ms | req/s |"]
    lines.append("| --- | ---: | ---: | ---: | ---: | ---: |")
    for row in results["load"]:
        what = row["endpoint"] + (f" ({row['jobs_stored']} jobs stored)" if "jobs_stored" in row else "")
        what += f" (during a {row['targets']}-target run)" if "targets" in row else ""
        lines.append(
            f"| `{what}` | {row['concurrency']} | {row['requests']:.0f} | {row['p50_ms']:.1f} "
            f"| {row['p99_ms']:.1f} | {row['rps']:.0f} |"
        )
    inspect = next((row for row in results["load"] if "quiet_run_s" in row), None)
    if inspect is not None:
        lines += [
            "",
            f"The {inspect['targets']}-target run took {inspect['run_s']:.1f} s with inspect under load for at most "
            f"{inspect['window_s']:.0f} s, {inspect['quiet_run_s']:.1f} s without (polled every 0.5 s).",
        ]
    log = results["log_download"]
    lines += [
        "",
        "## Log download (one container's stored output)",
        "",
        "| size | MB/s | server peak RSS growth | server RSS before | exec + store time |",
        "| ---: | ---: | ---: | ---: | ---: |",
        f"| {log['size_mb']:.0f} MB | {log['mb_per_s']:.0f} | {log['rss_growth_mib']:.1f} MiB "
        f"| {log['rss_base_mib']:.0f} MiB | {log['store_s']:.1f} s |",
        "",
    ]
    multi = results.get("multinode")
    if multi:
        spread = ", ".join(f"{host} {count}" for host, count in multi["spread_per_node"].items())
        lines += [
            "## Across nodes: `hostname` in 60 task containers (seconds, start to all final, 3-node lab)",
            "",
            "| 60 targets | median s | runs s |",
            "| --- | ---: | --- |",
            f"| spread over 3 nodes ({spread}) | {multi['spread60']['median_s']:.2f} "
            f"| {', '.join(f'{v:.2f}' for v in multi['spread60']['runs_s'])} |",
            f"| all on one node | {multi['local60']['median_s']:.2f} "
            f"| {', '.join(f'{v:.2f}' for v in multi['local60']['runs_s'])} |",
            "",
            "All lab nodes share this machine's 2 cores, so spreading buys no CPU here; on real nodes each engine "
            "works in parallel.",
            "",
        ]
    lines += [f"- {note}" for note in results["notes"]]
    return "\n".join(lines) + "\n"


def write(results: dict[str, Any], *, out_dir: Path = RESULTS_DIR) -> list[Path]:
    """Write latest.md/json and the dated copies; return the paths written."""
    out_dir.mkdir(parents=True, exist_ok=True)
    stamp = results["machine"]["date"].replace(":", "").replace("-", "")
    text, data = markdown(results), json.dumps(results, indent=2, ensure_ascii=False) + "\n"
    written = []
    for stem in ("latest", stamp):
        for suffix, content in ((".md", text), (".json", data)):
            path = out_dir / f"{stem}{suffix}"
            tmp = path.with_suffix(path.suffix + ".tmp")
            tmp.write_text(content)
            tmp.replace(path)
            written.append(path)
    return written
