"""What a process costs, from /proc: RSS, peak RSS, threads, CPU seconds; a sampler of the highest values."""

from __future__ import annotations

import os
import resource
import threading
import time
from pathlib import Path

_TICKS_PER_S = os.sysconf("SC_CLK_TCK")


class ProcError(RuntimeError):
    """The process has gone or /proc lacks a field."""


def status_value(pid: int, key: str) -> int:
    """An integer field of /proc/<pid>/status (VmRSS and VmHWM in KiB, Threads a count)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1])
    raise ProcError(f"no {key} in /proc/{pid}/status")


def reset_peak(pid: int) -> bool:
    """Reset VmHWM to the current RSS (Linux clear_refs 5); False where the kernel refuses."""
    try:
        Path(f"/proc/{pid}/clear_refs").write_text("5")
        return True
    except OSError:
        return False


def cpu_s(pid: int) -> float:
    """User + system CPU seconds of a process, all its threads (utime and stime of /proc/<pid>/stat)."""
    stat = Path(f"/proc/{pid}/stat").read_text()
    fields = stat[stat.rindex(")") + 2 :].split()  # after the command name, which may hold spaces
    return (int(fields[11]) + int(fields[12])) / _TICKS_PER_S


def own_cpu_s() -> float:
    """User + system CPU seconds of this process, all its threads."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


class ProcSampler(threading.Thread):
    """Samples VmRSS and Threads of a process every few milliseconds until stopped; keeps the highest."""

    def __init__(self, pid: int, *, every_s: float = 0.005) -> None:
        """Sample `pid` every `every_s` seconds."""
        super().__init__(daemon=True)
        self.pid, self.every_s = pid, every_s
        self.peak_rss_kib = 0
        self.peak_threads = 0
        self.samples = 0
        self._done = threading.Event()

    def run(self) -> None:
        """Keep the highest VmRSS and thread count seen."""
        while not self._done.is_set():
            try:
                self.peak_rss_kib = max(self.peak_rss_kib, status_value(self.pid, "VmRSS"))
                self.peak_threads = max(self.peak_threads, status_value(self.pid, "Threads"))
                self.samples += 1
            except (OSError, ProcError):
                return
            time.sleep(self.every_s)

    def stop(self) -> ProcSampler:
        """Stop sampling (the peaks stay readable)."""
        self._done.set()
        self.join()
        return self
