"""Heavy output: N targets each printing 32 MiB; time and CPU per MiB of dce-jobs (stored) vs docker-py (read)."""

from __future__ import annotations

from typing import Any

from .env import OUTPUT_LIMIT_BYTES, Bench, BenchError
from .logdl import download
from .longruns import raw_execs, through_service
from .procstat import cpu_s, own_cpu_s
from .stats import median

SIZE_BYTES = 32 * 1024 * 1024
LINE = "0123456789abcdefghijklmnopqrstuvwxyz" * 3  # yes adds the newline: 109 bytes a line
CMD = ["sh", "-c", f"yes {LINE} | head -c {SIZE_BYTES}"]
POLL_S = 0.2  #: inspect answers carry the last 64 KiB of each target's output: polled less often than fan-out


def _count_bytes(stream: Any) -> int:
    return sum(len(chunk) for chunk in stream)


def big_output(bench: Bench, *, runs: int, log: Any, count: int = 8) -> dict[str, Any]:
    """`count` targets each printing SIZE_BYTES: seconds and CPU ms per MiB, dce-jobs server vs docker-py."""
    if OUTPUT_LIMIT_BYTES < SIZE_BYTES:
        raise BenchError("the bench server's output limit is below one target's output")
    targets = bench.targets[:count]
    ids = [t["ContainerId"] for t in targets]
    mib = count * SIZE_BYTES / (1 << 20)
    shell = f"sh -c '{CMD[2]}'"
    samples: dict[str, list[float]] = {
        "service_s": [],
        "raw_s": [],
        "service_cpu_ms_per_mib": [],
        "raw_cpu_ms_per_mib": [],
    }
    for round_no in range(runs):
        cpu_before = cpu_s(bench.server.pid)
        elapsed, job, executor_id, body = through_service(bench, shell, targets, "bigout", poll_s=POLL_S)
        server_cpu_s = cpu_s(bench.server.pid) - cpu_before
        cut = [r for r in body["Result"] if r.get("OutputTruncated")]
        if cut:
            raise BenchError(f"{len(cut)} outputs were truncated")
        own_before = own_cpu_s()
        raw_s, sizes = raw_execs(bench, ids, CMD, threads=count, consume=_count_bytes)
        raw_cpu_s = own_cpu_s() - own_before
        if set(sizes) != {SIZE_BYTES}:
            raise BenchError(f"docker-py read {sorted(set(sizes))} bytes, not {SIZE_BYTES}")
        samples["service_s"].append(elapsed)
        samples["raw_s"].append(raw_s)
        samples["service_cpu_ms_per_mib"].append(server_cpu_s * 1000 / mib)
        samples["raw_cpu_ms_per_mib"].append(raw_cpu_s * 1000 / mib)
        log(f"{count} x 32 MiB, round {round_no + 1}: " + ", ".join(f"{k} {v[-1]:.2f}" for k, v in samples.items()))
    row: dict[str, Any] = {"targets": count, "mib_each": SIZE_BYTES >> 20, "poll_s": POLL_S, "runs": samples}
    row.update({k: round(median(v), 3) for k, v in samples.items()})
    row["service_over_raw"] = round(row["service_s"] / row["raw_s"], 2)
    row["cpu_service_over_raw"] = round(row["service_cpu_ms_per_mib"] / row["raw_cpu_ms_per_mib"], 2)
    row["stored_bytes_checked"] = _stored_size(bench, job, executor_id, targets[0]["ContainerId"])
    return row


def _stored_size(bench: Bench, job: dict[str, Any], executor_id: str, container_id: str) -> int:
    """Bytes of one container's stored output (its log download); BenchError unless all SIZE_BYTES."""
    size = download(bench.log_url(job, executor_id, container_id))
    if size != SIZE_BYTES:
        raise BenchError(f"stored output of {container_id[:12]}: {size} bytes, not {SIZE_BYTES}")
    return size
