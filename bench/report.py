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
        f"Python {m['python']}, dce-jobs {m['dce_jobs']}; lab swarms on this machine, loopback only. "
        f"{_runs_phrase(results['runs'])}; whole bench {results['total_s']:.0f} s"
        + ("." if results.get("complete", True) else f"; parts run: {', '.join(results['parts'])}."),
        "",
    ]
    lines += _goals(results.get("goals", []))
    lines += _fanout(results.get("fanout"), results["runs"])
    lines += _long_runs(results)
    lines += _big_output(results.get("big_output"))
    lines += _load(results.get("load"))
    lines += _big_data(results)
    lines += _log_download(results.get("log_download"))
    lines += _events(results.get("events"))
    lines += _multinode(results.get("multinode"))
    lines += [f"- {note}" for note in results["notes"]]
    return "\n".join(lines) + "\n"


def _goals(goals: list[dict[str, Any]]) -> list[str]:
    if not goals:
        return []
    lines = ["## Targets", "", "| figure | measured | target | |", "| --- | ---: | ---: | --- |"]
    for goal in goals:
        mark = "met" if goal["met"] else "**not met**"
        lines.append(f"| {goal['figure']} | {goal['measured']} | {goal['target']} | {mark} |")
    met = sum(goal["met"] for goal in goals)
    return [*lines, "", f"{met} of {len(goals)} targets met.", ""]


def _runs_phrase(runs: int) -> str:
    return "One run of each figure" if runs == 1 else f"Medians of {runs} runs"


def _fanout(rows: list[dict[str, Any]] | None, runs: int) -> list[str]:
    if not rows:
        return []
    lines = [
        "## Fan-out: `echo hi` in N task containers (seconds, start to all final)",
        "",
        "| targets | dce-jobs (API, event stream) | dce-jobs (API, inspect polled) | docker-py, 8 threads "
        "| `docker exec` loop | dce-jobs / docker-py (event stream; polled) |",
        "| ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for row in rows:
        events = f"{row['events_s']:.2f}" if "events_s" in row else "-"
        ratio = f"{row['events_over_raw']:.2f}; " if "events_over_raw" in row else ""
        lines.append(
            f"| {row['targets']} | {events} | {row['service_s']:.2f} | {row['raw_s']:.2f} | {row['cli_s']:.2f} "
            f"| **{ratio}{row['service_over_raw']:.2f}** |"
        )
    lost = sum(row["lost_outputs"] for row in rows)
    ways = 2 if rows and "events_s" in rows[0] else 1  # the two ways through dce-jobs run the same execs
    execs = sum(row["targets"] * runs * ways for row in rows)
    return [
        *lines,
        "",
        f"dce-jobs targets FINISHED with exit code 0 but without their output `hi`: {lost} of {execs}.",
        "",
    ]


def _long_runs(results: dict[str, Any]) -> list[str]:
    sleep, beside, rolling = results.get("sleep_many"), results.get("beside"), results.get("rolling")
    if not (sleep or beside or rolling):
        return []
    lines = [
        "## Long runs on one node (seconds, start to all final)",
        "",
        "| run | dce-jobs | docker-py | dce-jobs / docker-py | runs (dce-jobs; docker-py) |",
        "| --- | ---: | ---: | ---: | --- |",
    ]
    for row, what in (
        (sleep, sleep and f"{sleep['targets']} x `sleep {sleep['sleep_s']}` (docker-py: {sleep['threads']} threads)"),
        (
            beside,
            beside
            and f"{beside['quick_targets']} x `echo hi` while {beside['long_targets']} x `sleep 30` run "
            f"(docker-py: {beside['quick_targets']} threads)",
        ),
    ):
        if row:
            runs = row["runs"]
            lines.append(
                f"| {what} | {row['service_s']:.3f} | {row['raw_s']:.3f} | **{row['service_over_raw']:.2f}** "
                f"| {_list(runs['service_s'])}; {_list(runs['raw_s'])} |"
            )
    lines.append("")
    if beside and "alone_s" in beside:
        lines += [
            f"Control: the same {beside['quick_targets']}-target `echo` job through dce-jobs with no long job running: "
            f"{beside['alone_s']:.3f} s (runs {_list(beside['runs']['alone_s'])}).",
            "",
        ]
    if rolling:
        lines += [
            f"Rolling run: {rolling['targets']} x `sleep {rolling['sleep_s']}` with Parallelism "
            f"{rolling['parallelism']} and Delay {rolling['delay_s']:g}: at most {rolling['max_running_seen']} RUNNING "
            f"seen ({rolling['max_created_or_running_seen']} CREATED or RUNNING; inspect sampled every "
            f"{rolling['poll_every_s'] * 1000:.0f} ms), at most {rolling['max_overlap_by_times']} overlapping by the "
            f"results' StartTime/EndTime; {rolling['total_s']:.1f} s start to all final "
            f"(runs {_list([r['total_s'] for r in rolling['runs']])}).",
            "",
        ]
    return lines


def _big_output(out: dict[str, Any] | None) -> list[str]:
    if not out:
        return []
    runs = out["runs"]
    return [
        f"## Heavy output: {out['targets']} targets each printing {out['mib_each']} MiB",
        "",
        "| | dce-jobs (stored) | docker-py (read, 8 threads) | dce-jobs / docker-py |",
        "| --- | ---: | ---: | ---: |",
        f"| seconds, start to all final | {out['service_s']:.2f} | {out['raw_s']:.2f} "
        f"| **{out['service_over_raw']:.2f}** |",
        f"| CPU ms per MiB (server process; bench process) | {out['service_cpu_ms_per_mib']:.2f} "
        f"| {out['raw_cpu_ms_per_mib']:.2f} | **{out['cpu_service_over_raw']:.2f}** |",
        "",
        f"Runs: dce-jobs {_list(runs['service_s'])} s, {_list(runs['service_cpu_ms_per_mib'])} ms/MiB; "
        f"docker-py {_list(runs['raw_s'])} s, {_list(runs['raw_cpu_ms_per_mib'])} ms/MiB.",
        "",
    ]


def _load(rows: list[dict[str, Any]] | None) -> list[str]:
    if not rows:
        return []
    lines = ["## API under load", "", "| request | concurrency | requests/run | p50 ms | p99 ms | req/s |"]
    lines.append("| --- | ---: | ---: | ---: | ---: | ---: |")
    for row in rows:
        what = row["endpoint"] + (f" ({row['jobs_stored']} jobs stored)" if "jobs_stored" in row else "")
        what += f" (during a {row['targets']}-target run)" if "targets" in row else ""
        lines.append(
            f"| `{what}` | {row['concurrency']} | {row['requests']:.0f} | {row['p50_ms']:.1f} "
            f"| {row['p99_ms']:.1f} | {row['rps']:.0f} |"
        )
    inspect = next((row for row in rows if "quiet_run_s" in row), None)
    if inspect is not None:  # results of an older bench, which inspected the run under way
        lines += [
            "",
            f"The {inspect['targets']}-target run took {inspect['run_s']:.1f} s with inspect under load for at most "
            f"{inspect['window_s']:.0f} s, {inspect['quiet_run_s']:.1f} s without (polled every 0.5 s).",
        ]
    return [*lines, ""]


#: (label, part, key) of each big-data figure in the side-by-side table
_BIG_DATA_FIGURES = (
    ("`GET /api/jobs?Size=50&Page=7`, 16 clients", "bigdata", "paged_size50"),
    ("the seed's unpaged `GET /api/jobs`, 1 client", "bigdata", "unpaged_1_client"),
    ("the seed's unpaged `GET /api/jobs`, 16 clients", "bigdata", "unpaged_16_clients"),
    ("`GET /api/stats/executions?Days=30`, 1 client", "bigdata", "stats_30_days"),
    ("inspect of a 200-target execution during another 200-target run, 1 client", "inspect_during_run", "clients_1"),
    ("inspect of a 200-target execution during another 200-target run, 16 clients", "inspect_during_run", "clients_16"),
)


def _big_data(results: dict[str, Any]) -> list[str]:
    rows = [
        (label, results[part]) for label, part, key in _BIG_DATA_FIGURES if key in results.get(part, {}).get("this", {})
    ]
    if not rows:
        return []
    baseline = rows[0][1].get("baseline_commit", "?")
    lines = [
        f"## 10,000 jobs and 100,000 executions stored: this code beside the baseline ({baseline}), same run",
        "",
        "| request | this p50 ms | this p99 ms | baseline p50 ms | baseline p99 ms | server CPU ms a request "
        "(this; baseline) | requests (this; baseline) |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for label, part, key in _BIG_DATA_FIGURES:
        found = results.get(part)
        if found and key in found.get("this", {}):
            this, old = found["this"][key], found["baseline"][key]
            lines.append(
                f"| {label} | {this['p50_ms']:.1f} | **{this['p99_ms']:.1f}** | {old['p50_ms']:.1f} "
                f"| {old['p99_ms']:.1f} | {_cpu(this)}; {_cpu(old)} | {this['requests']:.0f}; {old['requests']:.0f} |"
            )
    if run := results.get("inspect_during_run"):
        this, old = run["this"], run["baseline"]
        lines += [
            "",
            f"The quiet {this['targets']}-target run (the one inspected) took {this['quiet_run_s']:.1f} s on this "
            f"code, {old['quiet_run_s']:.1f} s on the baseline; the runs under way while inspect was asked for at most "
            f"{this['window_s']:.0f} s: {this['clients_1']['run_s']:.1f} and {this['clients_16']['run_s']:.1f} s "
            f"(1 and 16 clients) on this code, {old['clients_1']['run_s']:.1f} and {old['clients_16']['run_s']:.1f} s "
            "on the baseline.",
        ]
        if "floor" in this["clients_1"] and "floor" in old["clients_1"]:
            floor = this["clients_1"]["floor"]
            lines += [
                "",
                f"The floor: `GET {floor['path']}` (no store, a few keys), asked every {floor['every_s']} s beside "
                "inspect during the same runs, p50 / p99 ms: "
                + "; ".join(
                    f"{who}, {n} client{'s' if n > 1 else ''}: {f['p50_ms']:.1f} / {f['p99_ms']:.1f}"
                    for who, side in (("this", this), ("baseline", old))
                    for n, f in ((int(k.split("_")[1]), side[k]["floor"]) for k in ("clients_1", "clients_16"))
                )
                + ". Inspect cannot answer sooner than any request does while the run's execs start.",
            ]
    return [*lines, ""]


def _cpu(sample: dict[str, Any]) -> str:
    return f"{sample['cpu_ms_per_request']:.2f}" if "cpu_ms_per_request" in sample else "-"


def _log_download(log: dict[str, Any] | None) -> list[str]:
    if not log:
        return []
    return [
        "## Log download (one container's stored output)",
        "",
        "| size | MB/s | server peak RSS growth | server RSS before | exec + store time |",
        "| ---: | ---: | ---: | ---: | ---: |",
        f"| {log['size_mb']:.0f} MB | {log['mb_per_s']:.0f} | {log['rss_growth_mib']:.1f} MiB "
        f"| {log['rss_base_mib']:.0f} MiB | {log['store_s']:.1f} s |",
        "",
    ]


def _events(events: dict[str, Any] | None) -> list[str]:
    if not events:
        return []
    lat, fol = events["latency"], events["follow"]
    return [
        "## Following runs: event stream",
        "",
        f"Latency from a line printed in a container to its `output` event ({lat['targets']} targets, a line every "
        f"{lat['gap_ms']:g} ms, {lat['samples']} lines):",
        "",
        "| path | p50 ms | p99 ms | lines |",
        "| --- | ---: | ---: | ---: |",
        f"| dce-jobs event stream | {lat['events_p50_ms']} | {lat['events_p99_ms']} | {lat['samples']} |",
        f"| docker-py exec stream (raw) | {lat['raw_p50_ms']} | {lat['raw_p99_ms']} | {lat['raw_samples']} |",
        "",
        f"{fol['subscribers']} subscribers following a {fol['targets']}-target run ({fol['lines_each']} lines each, "
        f"one every {fol['gap_ms']:g} ms), every subscriber complete:",
        "",
        "| | server CPU s | start to last event s | first start to last end s (inspect) |",
        "| --- | ---: | ---: | ---: |",
        f"| followed by nobody | {fol['alone_cpu_s']} | {fol.get('alone_s', '')} (polled) "
        f"| {fol.get('alone_span_s', '')} |",
        f"| followed by {fol['subscribers']} | {fol['followed_cpu_s']} | {fol['followed_s']} "
        f"| {fol.get('followed_span_s', '')} |",
        "",
        f"Extra server CPU {fol['extra_cpu_s']} s: {fol['us_per_event_delivered']} us per event delivered "
        f"({fol['events_each']} events, {fol['bytes_each']} bytes per subscriber, ids {fol['id_share']:.0%} of the "
        f"bytes); the {fol['subscribers']} clients in the bench process used {fol['client_cpu_s']} s.",
        "",
    ]


def _multinode(multi: dict[str, Any] | None) -> list[str]:
    if not multi:
        return []
    lines = []
    if "spread60" in multi:
        spread = ", ".join(f"{host} {count}" for host, count in multi["spread_per_node"].items())
        lines += [
            "## Across nodes: `hostname` in 60 task containers (seconds, start to all final, 3-node lab)",
            "",
            "| 60 targets | median s | runs s |",
            "| --- | ---: | --- |",
            f"| spread over 3 nodes ({spread}) | {multi['spread60']['median_s']:.2f} "
            f"| {_list(multi['spread60']['runs_s'])} |",
            f"| all on one node | {multi['local60']['median_s']:.2f} | {_list(multi['local60']['runs_s'])} |",
            "",
            "All lab nodes share this machine's 2 cores, so spreading buys no CPU here; on real nodes each engine "
            "works in parallel.",
            "",
        ]
    conc = multi.get("concurrent")
    if conc:
        spread = ", ".join(f"{host} {count}" for host, count in conc["per_node"].items())
        runs = conc["runs"]
        lines += [
            f"## Runs at once: `sleep {conc['sleep_s']}` in {conc['targets']} task containers over 3 nodes",
            "",
            f"{conc['targets']} of {conc['requested']} replicas running ({spread}) after {conc['scale_s']:.0f} s "
            "of scaling. Server defaults (8 engine calls per node, 64 in all).",
            "",
            "| run | seconds to all final | FINISHED | most RUNNING seen | server threads (max) | RSS before | "
            "peak RSS growth |",
            "| ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
        ]
        for number, run in enumerate(runs, 1):
            lines.append(
                f"| {number} | {run['seconds']:.1f} | {run['finished']} | {run['max_running_seen']} "
                f"| {run['max_threads']} | {run['rss_before_mib']:.0f} MiB | {run['rss_growth_mib']:.1f} MiB |"
            )
        lines.append("")
    return lines


def _list(values: list[float]) -> str:
    return ", ".join(f"{v:.2f}" for v in values)


def write(results: dict[str, Any], *, latest: bool = True, out_dir: Path = RESULTS_DIR) -> list[Path]:
    """Write latest.md/json and the dated copies (partial.md/json only, for a run of some parts); the paths."""
    out_dir.mkdir(parents=True, exist_ok=True)
    stamp = results["machine"]["date"].replace(":", "").replace("-", "")
    text, data = markdown(results), json.dumps(results, indent=2, ensure_ascii=False) + "\n"
    written = []
    for stem in ("latest", stamp) if latest else ("partial",):
        for suffix, content in ((".md", text), (".json", data)):
            path = out_dir / f"{stem}{suffix}"
            tmp = path.with_suffix(path.suffix + ".tmp")
            tmp.write_text(content)
            tmp.replace(path)
            written.append(path)
    return written
