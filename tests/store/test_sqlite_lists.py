"""What only SqliteStore promises about the execution histories: the indexes they walk, JobName of a job gone."""

from __future__ import annotations

import json
import re
import sqlite3
from collections.abc import AsyncIterator
from contextlib import closing
from pathlib import Path

import pytest

from dce_jobs.queries import ExecutionQuery, Window
from dce_jobs.store.base import job_to_doc
from dce_jobs.store.sqlite import SqliteStore
from dce_jobs.store.sqlite_lists import DecodedJobs
from tests.store.records import make_execution, make_job, results_of


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[SqliteStore]:
    """An open SqliteStore in tmp_path/s.db with two jobs, three executions."""
    opened = SqliteStore(tmp_path / "s.db")
    await opened.open()
    backup, report = make_job("backup"), make_job("report")
    for job in (backup, report):
        await opened.create_job(job)
    for i, job in enumerate((backup, report, backup)):
        execution = make_execution(job, f"x{i}", 2000.0 + i)
        await opened.create_execution(execution, results_of(execution))
    try:
        yield opened
    finally:
        await opened.close()


def _traced(store: SqliteStore) -> list[str]:
    statements: list[str] = []
    for _ in range(3):  # every reader connection traces what it runs
        db = store._reader_dbs.get()  # noqa: SLF001 - the connections the reads run on
        db.set_trace_callback(statements.append)
        store._reader_dbs.put(db)  # noqa: SLF001
    return statements


@pytest.mark.parametrize(
    ("query", "index"),
    [
        (ExecutionQuery(window=Window(3, 20)), "executions_newest"),
        (ExecutionQuery(job_id="j", window=Window(1, 20)), "executions_job"),
        (ExecutionQuery(app_name="shop", window=Window(1, 20)), "executions_app"),
    ],
)
async def test_a_history_page_walks_an_executions_index_and_names_its_jobs_by_key(
    store: SqliteStore, tmp_path: Path, query: ExecutionQuery, index: str
) -> None:
    """JobName costs one lookup by the jobs primary key per entry of the page, after the page is cut."""
    statements = _traced(store)
    await store.find_executions(query)
    (sql,) = [s for s in statements if "LEFT JOIN jobs" in s]
    with closing(sqlite3.connect(tmp_path / "s.db")) as db:
        plan = [str(row[3]) for row in db.execute(f"EXPLAIN QUERY PLAN {sql}")]
    assert any(step.startswith("CO-ROUTINE") for step in plan), plan  # the page, before the join
    assert any(re.search(rf"^(SCAN|SEARCH) executions USING (COVERING )?INDEX {index}\b", step) for step in plan), plan
    assert "SEARCH j USING INDEX sqlite_autoindex_jobs_1 (job_id=?) LEFT-JOIN" in plan, plan
    assert not any(step.startswith("SCAN j") for step in plan), plan


async def test_an_entry_whose_job_row_is_gone_has_no_job_name(store: SqliteStore, tmp_path: Path) -> None:
    """Deleting a job deletes its executions; were one left (another process between two reads), it stays listed."""
    with closing(sqlite3.connect(tmp_path / "s.db", isolation_level=None)) as db:
        db.execute("DELETE FROM jobs WHERE name = 'backup'")
    page = await store.find_executions(ExecutionQuery(window=Window(1, 20)))
    assert [(e.executor_id, e.job_name) for e in page.items] == [("x2", None), ("x1", "report"), ("x0", None)]
    assert page.total == 3


def test_decoded_jobs_keep_no_more_than_their_bound_of_text(monkeypatch: pytest.MonkeyPatch) -> None:
    """Large job documents do not fill memory: past MAX_CHARS the decoded jobs kept start again."""
    monkeypatch.setattr(DecodedJobs, "MAX_CHARS", 10_000)
    decoded = DecodedJobs()
    jobs = [make_job(name=f"n{i}").replace(cmd="x" * 3000) for i in range(8)]
    for _ in range(2):
        for job in jobs:
            row = (job.job_id, json.dumps(job_to_doc(job)), None, None, None)
            assert decoded.job(row, ["1.0"]).replace(executors=()) == job
        assert len(decoded._jobs) <= 3
