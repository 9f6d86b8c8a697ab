"""The SQLite store's size before and after a retention sweep: `python -m bench.retention_size [--executions N]`.

Fills a store in a temporary folder with N executions of one job (2 targets, 256 KiB of output each), sweeps
with DCE_JOBS_KEEP_EXECUTIONS=10, and prints the size of the file, its WAL and its output files at each step; then
the same on a file created without auto_vacuum (as older versions made it), and how much that one grows when as
many executions come again.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sqlite3
import tempfile
from pathlib import Path

from dce_jobs.config import Config
from dce_jobs.models import Status, transition
from dce_jobs.retention import Sweeper
from dce_jobs.store.sqlite import SqliteStore
from tests.store.records import make_execution, make_job, results_of

OUTPUT_BYTES = 256 * 1024
KEEP = 10


class _IdleRunner:
    def is_running(self, job_id: str, executor_id: str) -> bool:
        return False


def _mib(path: Path) -> str:
    """The size of the file, its WAL and the output files beside it."""
    files = [p for p in Path(f"{path}-output").rglob("*") if p.is_file()]
    size = sum(os.path.getsize(p) for p in (path, Path(f"{path}-wal"), *files) if p.exists())
    return f"{size / 2**20:.1f} MiB"


async def _fill(store: SqliteStore, job_id: str, count: int, offset: int) -> None:
    job = await store.get_job(job_id)
    for i in range(count):
        execution = make_execution(job, f"{1_000_000 + offset + i:.6f}", 1_000_000.0 + offset + i)
        results = results_of(execution)
        await store.create_execution(execution, results)
        for result in results:
            running = transition(transition(result, Status.CREATED), Status.RUNNING)
            await store.save_result(transition(running, Status.FINISHED, exit_code=0))
            await store.append_output(result, 0, os.urandom(OUTPUT_BYTES))


async def _measure(path: Path, count: int) -> None:
    store = SqliteStore(path)
    await store.open()
    try:
        job = make_job()
        await store.create_job(job)
        await _fill(store, job.job_id, count, 0)
        mode = sqlite3.connect(path).execute("PRAGMA auto_vacuum").fetchone()[0]
        print(f"  auto_vacuum={('NONE', 'FULL', 'INCREMENTAL')[mode]}: {count} executions: {_mib(path)}")
        sweeper = Sweeper(config=Config(keep_executions=KEEP), store=store, runner=_IdleRunner())  # type: ignore[arg-type]
        removed = await sweeper.sweep()
        print(f"  after the sweep (removed {removed}, kept {KEEP}): {_mib(path)}")
        await _fill(store, job.job_id, count - KEEP, count)
        print(f"  after {count - KEEP} new executions: {_mib(path)}")
    finally:
        await store.close()


async def main() -> None:
    """Measure both kinds of file."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--executions", type=int, default=200)
    count = parser.parse_args().executions
    with tempfile.TemporaryDirectory() as folder:
        await _measure(Path(folder) / "new.sqlite3", count)
        old = Path(folder) / "old.sqlite3"
        sqlite3.connect(old).execute("CREATE TABLE IF NOT EXISTS t (x)").connection.commit()  # auto_vacuum NONE
        await _measure(old, count)


if __name__ == "__main__":
    asyncio.run(main())
