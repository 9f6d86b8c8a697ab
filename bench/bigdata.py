"""A lot of data: 10,000 jobs and 100,000 executions in SQLite, served by this code beside a baseline.

The data goes in through the store API (no HTTP, no engine), once per bench run. A copy of the file is served by
the baseline code (`git archive` of a given commit, default main: `--baseline`), without the indexes this code
adds, on another port; both answer the same requests in the same run: the paged and the seed's job list and the
statistics here, inspect during a run in bench/load.py (on the lab).
"""

from __future__ import annotations

import asyncio
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

import aiohttp

from dce_jobs.models import ContainerResult, EndReason, Execution, ExecutionState, Job, Status, Target
from dce_jobs.store.sqlite import SqliteStore
from tests.server import free_port

from .load import CONCURRENCY, hammer
from .procstat import cpu_s

TOKEN = "bench-token"  # noqa: S105 - a throwaway token of a loopback-only server
JOBS = 10_000
EXECUTIONS = 100_000
HISTORY_S = 29 * 86400  #: the executions' start times spread over this much of the past (GET /api/stats: Days=30)
ROOT = Path(__file__).resolve().parent.parent


async def fill(path: Path, *, jobs: int = JOBS, executions: int = EXECUTIONS, log: Any = print) -> None:
    """Store `jobs` jobs (3 apps) and `executions` ended executions spread over them and over the last 29 days."""
    store = SqliteStore(path)
    await store.open()
    try:
        started = time.perf_counter()
        first_run_s = time.time() - HISTORY_S
        stored = []
        for i in range(jobs):
            job = Job(
                job_id=f"{i:08d}-bench",
                app_name=f"app{i % 3}",
                service_name=f"app{i % 3}_web",
                name=f"bench job {i:05d}",
                cmd="echo hi",
                env=("A=1",),
                created_at=first_run_s - jobs + i,
                updated_at=first_run_s - jobs + i,
                created_by="bench",
            )
            await store.create_job(job)
            stored.append(job)
        log(f"bigdata: {jobs} jobs stored in {time.perf_counter() - started:.1f} s")
        started = time.perf_counter()
        per_job, gap_s = executions // jobs, HISTORY_S / executions
        for n in range(executions):
            await _store_run(store, stored[n % jobs], n, first_run_s + n * gap_s)
        log(f"bigdata: {executions} executions ({per_job} a job) stored in {time.perf_counter() - started:.1f} s")
    finally:
        await store.close()


async def _store_run(store: SqliteStore, job: Job, n: int, created_at: float) -> None:
    """One ended execution of one target (a server opening the file has nothing to recover): 1 in 10 failed."""
    duration_s = 1.0 + n % 120
    failed = n % 10 == 0
    execution = Execution(
        job_id=job.job_id,
        executor_id=f"{created_at:.6f}",
        created_at=created_at,
        targets=(Target(container_id="c" * 64, node_id="n1"),),
        app_name=job.app_name,
        service_name=job.service_name,
        started_by="bench",
    )
    result = ContainerResult(
        job.job_id,
        execution.executor_id,
        0,
        "c" * 64,
        "n1",
        status=Status.FINISHED,
        exit_code=1 if failed else 0,
        end_reason=EndReason.EXITED,
        started_at=created_at,
        finished_at=created_at + duration_s,
    )
    await store.create_execution(execution, [result])
    counts = {"waiting": 0, "running": 0, "succeeded": 0 if failed else 1, "failed": 1 if failed else 0, "stopped": 0}
    state = ExecutionState.FAILED if failed else ExecutionState.SUCCEEDED
    await store.end_execution(execution, state=state, ended_at=created_at + duration_s, counts=counts)


def strip_new_indexes(path: Path) -> None:
    """Drop the indexes this code adds, as a file the baseline wrote would not have them."""
    db = sqlite3.connect(path)
    try:
        names = [r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL")]
        for name in names:
            if name.split("_")[0] in {"jobs", "executions", "audit"}:
                db.execute(f"DROP INDEX {name}")
        db.commit()
    finally:
        db.close()


@contextmanager
def serve(code_dir: Path, data_dir: Path, port: int) -> Iterator[tuple[str, int]]:
    """`python -m dce_jobs serve` of the code in `code_dir` on the data in `data_dir`, until the block ends: its URL
    and process id."""
    env = {
        **os.environ,
        "PYTHONPATH": str(code_dir),
        "DCE_JOBS_DATA_DIR": str(data_dir),
        "DCE_JOBS_PORT": str(port),
        "DCE_JOBS_API_TOKEN": TOKEN,
        "DCE_JOBS_DOCKER_HOST": "unix:///nonexistent.sock",
        "DCE_JOBS_LOG_LEVEL": "WARNING",
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "dce_jobs", "serve"], cwd=code_dir, env=env, stdout=subprocess.DEVNULL
    )
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_ready(url)
        yield url, process.pid
    finally:
        process.terminate()
        process.wait(timeout=30)


def _wait_ready(url: str) -> None:
    import urllib.request

    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"{url}/api/health", timeout=2):  # noqa: S310 - a loopback URL
                return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"{url} did not answer within 120 s")


async def _measure(url: str, path: str, *, count: int, concurrency: int) -> dict[str, Any]:
    connector = aiohttp.TCPConnector(limit=concurrency)
    headers = {"Authorization": f"Bearer {TOKEN}"}
    async with aiohttp.ClientSession(connector=connector, headers=headers) as session:
        async with session.get(f"{url}{path}") as response:  # warm up; also shows the body size
            size = len(await response.read())
            total = response.headers.get("X-Total-Count")
        sample = await hammer(session, f"{url}{path}", count=count, duration_s=300, concurrency=concurrency)
    return {"path": path, "body_bytes": size, "x_total_count": total, **sample.summary()}


def baseline_tree(commit: str, into: Path) -> Path:
    """The code of `commit` (its dce_jobs package), unpacked into `into`."""
    archive = subprocess.run(["git", "archive", commit, "dce_jobs"], cwd=ROOT, check=True, capture_output=True)
    into.mkdir(parents=True, exist_ok=True)
    subprocess.run(["tar", "-x", "-C", str(into)], input=archive.stdout, check=True)
    return into


@contextmanager
def filled_store(*, baseline: str, log: Any = print) -> Iterator[tuple[Path, Path]]:
    """A filled SQLite file and the baseline's code, in a scratch folder removed when the block ends."""
    with tempfile.TemporaryDirectory(prefix="dce-jobs-bigdata-") as tmp:
        root = Path(tmp)
        (root / "filled").mkdir(mode=0o700)
        asyncio.run(fill(root / "filled" / "dce-jobs.sqlite3", log=log))
        yield root / "filled" / "dce-jobs.sqlite3", baseline_tree(baseline, root / "baseline")


def data_copy(filled: Path, into: Path, *, baseline: bool) -> Path:
    """A data folder holding a copy of the filled file (for the baseline: without the indexes this code adds)."""
    into.mkdir(mode=0o700, parents=True)
    shutil.copy2(filled, into / filled.name)
    if baseline:
        strip_new_indexes(into / filled.name)
    return into


#: GET /api/stats/executions over the last 30 days: every stored execution
STATS_PATH = "/api/stats/executions?Days=30"


#: (key, path, requests in a quick run and in a full one, clients) of each figure
_FIGURES = (
    ("paged_size50", "/api/jobs?Size=50&Page=7", (400, 2000), 16),
    ("unpaged_16_clients", "/api/jobs", (48, 160), CONCURRENCY),
    ("unpaged_1_client", "/api/jobs", (12, 40), 1),
    ("stats_30_days", STATS_PATH, (40, 200), 1),
)


def bigdata(*, filled: Path, baseline_code: Path, baseline: str, quick: bool, log: Any = print) -> dict[str, Any]:
    """Serve copies of the filled file by both codes at once; measure the paged and the seed's job list and the
    statistics on one and then the other, figure by figure (the machine's load drifts less between the two)."""
    with tempfile.TemporaryDirectory(prefix="dce-jobs-bigdata-serve-") as tmp, ExitStack() as servers:
        root = Path(tmp)
        figures: dict[str, Any] = {"jobs": JOBS, "executions": EXECUTIONS, "baseline_commit": baseline}
        running = {}
        for label, code in (("this", ROOT), ("baseline", baseline_code)):
            data = data_copy(filled, root / label, baseline=label == "baseline")
            running[label] = servers.enter_context(serve(code, data, free_port()))
            figures[label] = {}
        for number, (key, path, counts, clients) in enumerate(_FIGURES):
            # the two codes take turns at going first
            for label in ("this", "baseline") if number % 2 == 0 else ("baseline", "this"):
                url, pid = running[label]
                count = counts[0] if quick else counts[1]
                cpu_before_s = cpu_s(pid)
                sample = asyncio.run(_measure(url, path, count=count, concurrency=clients))
                # the server's own CPU per request (warm-up included): what the machine's other load moves least
                sample["cpu_ms_per_request"] = round((cpu_s(pid) - cpu_before_s) * 1000 / (sample["requests"] + 1), 2)
                log(f"bigdata {label}: {key} {sample}")
                figures[label][key] = sample
        return figures
