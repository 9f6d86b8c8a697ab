"""The targets the bench figures are held to, and whether each measured figure meets its target."""

from __future__ import annotations

from typing import Any

SLEEP_MANY_RATIO = 1.2
BESIDE_RATIO = 1.5
CONCURRENT_TARGETS = 300
CONCURRENT_THREADS = 64
CONCURRENT_RSS_MIB = 256
FANOUT_RATIO = 1.10
OUTPUT_TIME_RATIO = 1.15
OUTPUT_CPU_RATIO = 1.5
#: p99 targets (ms) with 10,000 jobs and 100,000 executions stored: (figure, where in the results, target)
BIG_DATA_MS = (
    ("GET /api/jobs?Size=50 at 16 clients", ("bigdata", "paged_size50"), 50),
    ("the seed's unpaged GET /api/jobs (10,000 jobs), 1 client", ("bigdata", "unpaged_1_client"), 500),
    ("GET /api/stats/executions?Days=30 (100,000 executions), 1 client", ("bigdata", "stats_30_days"), 200),
    (
        "inspect of a 200-target execution during another 200-target run, 1 client",
        ("inspect_during_run", "clients_1"),
        50,
    ),
    (
        "inspect of a 200-target execution during another 200-target run, 16 clients",
        ("inspect_during_run", "clients_16"),
        50,
    ),
)


def _row(figure: str, measured: str, target: str, met: bool) -> dict[str, Any]:
    return {"figure": figure, "measured": measured, "target": target, "met": met}


def verdicts(results: dict[str, Any]) -> list[dict[str, Any]]:
    """One row per figure that ran: what was measured, its target, met or not."""
    rows = []
    if sleep := results.get("sleep_many"):
        rows.append(
            _row(
                f"{sleep['targets']} x `sleep {sleep['sleep_s']}` on one node, dce-jobs / docker-py "
                f"({sleep['threads']} threads)",
                f"{sleep['service_over_raw']:.2f} ({sleep['service_s']:.2f} s / {sleep['raw_s']:.2f} s)",
                f"<= {SLEEP_MANY_RATIO}",
                sleep["service_over_raw"] <= SLEEP_MANY_RATIO,
            )
        )
    if beside := results.get("beside"):
        rows.append(
            _row(
                f"{beside['quick_targets']}-target `echo` job while a {beside['long_targets']}-target `sleep 30` runs, "
                "dce-jobs / docker-py",
                f"{beside['service_over_raw']:.2f} ({beside['service_s']:.3f} s / {beside['raw_s']:.3f} s)",
                f"<= {BESIDE_RATIO}",
                beside["service_over_raw"] <= BESIDE_RATIO,
            )
        )
    rows += _concurrent_rows(results.get("multinode", {}).get("concurrent"))
    for row in results.get("fanout", []):
        rows.append(
            _row(
                f"`echo` fan-out, {row['targets']} targets, dce-jobs (end event) / docker-py (8 threads)",
                f"{row['events_over_raw']:.2f} ({row['events_s']:.2f} s / {row['raw_s']:.2f} s; inspect polled "
                f"every 0.1 s: {row['service_over_raw']:.2f})",
                f"<= {FANOUT_RATIO:.2f}",
                row["events_over_raw"] <= FANOUT_RATIO and row["targets"] == row["requested"],
            )
        )
    if rolling := results.get("rolling"):
        most = max(rolling["max_running_seen"], rolling["max_created_or_running_seen"], rolling["max_overlap_by_times"])
        rows.append(
            _row(
                f"{rolling['targets']} targets, Parallelism {rolling['parallelism']}, Delay {rolling['delay_s']:g}: "
                "most running at once",
                f"{most} (total {rolling['total_s']:.1f} s)",
                f"<= {rolling['parallelism']}",
                most <= rolling["parallelism"],
            )
        )
    if out := results.get("big_output"):
        what = f"{out['targets']} targets x {out['mib_each']} MiB output"
        rows += [
            _row(
                f"{what}: time, dce-jobs / docker-py ({out['targets']} threads)",
                f"{out['service_over_raw']:.2f} ({out['service_s']:.2f} s / {out['raw_s']:.2f} s)",
                f"<= {OUTPUT_TIME_RATIO}",
                out["service_over_raw"] <= OUTPUT_TIME_RATIO,
            ),
            _row(
                f"{what}: CPU per MiB, dce-jobs server / docker-py",
                f"{out['cpu_service_over_raw']:.2f} ({out['service_cpu_ms_per_mib']:.2f} ms / "
                f"{out['raw_cpu_ms_per_mib']:.2f} ms)",
                f"<= {OUTPUT_CPU_RATIO}",
                out["cpu_service_over_raw"] <= OUTPUT_CPU_RATIO,
            ),
        ]
    return rows + big_data_rows(results)


def big_data_rows(results: dict[str, Any]) -> list[dict[str, Any]]:
    """The p99 of each big-data figure that ran, beside the baseline's of the same run."""
    rows = []
    for figure, (part, key), target_ms in BIG_DATA_MS:
        found = results.get(part)
        if not found or key not in found.get("this", {}):  # not run, or results of an older bench
            continue
        this, baseline = found["this"][key], found["baseline"][key]
        rows.append(
            _row(
                f"{figure}: p99",
                f"{this['p99_ms']:.1f} ms (baseline {baseline['p99_ms']:.1f} ms)",
                f"< {target_ms} ms",
                this["p99_ms"] < target_ms and not this["errors"],
            )
        )
    return rows


def _concurrent_rows(conc: dict[str, Any] | None) -> list[dict[str, Any]]:
    if not conc:
        return []
    what = f"{conc['targets']} x `sleep {conc['sleep_s']}` over 3 nodes"
    short = conc["targets"] < CONCURRENT_TARGETS
    shortfall = f" (only {conc['targets']} of {conc['requested']} replicas ran)" if short else ""
    return [
        _row(
            f"{what}: all FINISHED",
            f"{'all' if conc['all_finished'] else 'NOT all'} FINISHED, {conc['seconds']:.1f} s{shortfall}",
            f"all of {CONCURRENT_TARGETS}",
            conc["all_finished"] and not short,
        ),
        _row(
            f"{what}: server threads (max sampled)",
            str(conc["max_threads"]),
            f"<= {CONCURRENT_THREADS}",
            conc["max_threads"] <= CONCURRENT_THREADS,
        ),
        _row(
            f"{what}: server peak RSS growth",
            f"{conc['rss_growth_mib']:.1f} MiB",
            f"< {CONCURRENT_RSS_MIB} MiB",
            conc["rss_growth_mib"] < CONCURRENT_RSS_MIB,
        ),
    ]
