"""Log download of a 200 MB output: MB/s and the server's peak RSS growth while it streams."""

from __future__ import annotations

import time
import urllib.request
from typing import Any

from .env import TOKEN, Bench, BenchError
from .procstat import ProcSampler, reset_peak, status_value
from .stats import median

SIZE_BYTES = 200_000_000
LINE = "0123456789abcdefghijklmnopqrstuvwxyz" * 3  # yes adds the newline: 109 bytes a line
CMD = f"sh -c 'yes {LINE} | head -c {SIZE_BYTES}'"


def download(url: str) -> int:
    """Stream url (the loopback server's http URL) to nowhere; the byte count."""
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {TOKEN}"})  # noqa: S310
    total = 0
    with urllib.request.urlopen(request, timeout=300) as response:  # noqa: S310
        while chunk := response.read(1 << 20):
            total += len(chunk)
    return total


def _one_download(bench: Bench, url: str) -> dict[str, float]:
    pid = bench.server.pid
    base_kib = status_value(pid, "VmRSS")
    hwm_reset = reset_peak(pid)
    sampler = ProcSampler(pid)
    sampler.start()
    started = time.perf_counter()
    size = download(url)
    elapsed = time.perf_counter() - started
    peak_kib = max(sampler.stop().peak_rss_kib, status_value(pid, "VmHWM") if hwm_reset else 0)
    if size < SIZE_BYTES:
        raise BenchError(f"downloaded {size} bytes, expected at least {SIZE_BYTES}")
    return {
        "bytes": size,
        "seconds": round(elapsed, 3),
        "mb_per_s": round(size / 1e6 / elapsed, 1),
        "rss_base_mib": round(base_kib / 1024, 1),
        "rss_growth_mib": round((peak_kib - base_kib) / 1024, 1),
    }


def log_download(bench: Bench, *, runs: int, log: Any) -> dict[str, Any]:
    """Produce a 200 MB output in one container, then download it `runs` times."""
    job = bench.create_job(CMD, "big-log")
    target = bench.targets[:1]
    started = time.perf_counter()
    executor_id = bench.start(job, target)
    (result,) = bench.wait_final(job, executor_id, poll_s=0.5, timeout_s=900)["Result"]
    produce_s = time.perf_counter() - started
    if result["Status"] != "FINISHED" or result.get("OutputTruncated"):
        raise BenchError(f"the 200 MB run ended {result['Status']}, truncated={result.get('OutputTruncated')}")
    log(f"200 MB output produced and stored in {produce_s:.1f} s")
    url = bench.log_url(job, executor_id, target[0]["ContainerId"])
    samples = []
    for round_no in range(runs):
        samples.append(_one_download(bench, url))
        log(f"log download round {round_no + 1}: {samples[-1]}")
    return {
        "size_mb": SIZE_BYTES / 1e6,
        "store_s": round(produce_s, 1),
        "mb_per_s": median([s["mb_per_s"] for s in samples]),
        "rss_growth_mib": median([s["rss_growth_mib"] for s in samples]),
        "rss_base_mib": samples[0]["rss_base_mib"],
        "runs": samples,
    }
