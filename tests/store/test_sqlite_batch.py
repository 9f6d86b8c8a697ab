"""SQLite specifics of batched writes: one transaction, so a batch is stored whole or not at all."""

from __future__ import annotations

from pathlib import Path

import pytest

from dce_jobs.errors import DceJobsError
from dce_jobs.models import OutputChunk, Status
from dce_jobs.store.sqlite import SqliteStore
from tests.store.records import make_job, read_output, started


async def test_a_batch_that_fails_part_way_stores_nothing(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "jobs.db")
    await store.open()
    try:
        job = make_job()
        await store.create_job(job)
        first, second = await started(store, job, "1.000001", 1.0)
        good = OutputChunk(job.job_id, "1.000001", 0, 0, b"kept only if all of it is")
        broken = OutputChunk(job.job_id, "1.000001", 1, 0, None)  # type: ignore[arg-type]  # NOT NULL refuses it

        with pytest.raises(DceJobsError):
            await store.write_batch([good, broken], [first.replace(status=Status.RUNNING)])

        assert await read_output(store, first) == []
        assert await store.list_results(job.job_id, "1.000001") == [first, second]
    finally:
        await store.close()


async def test_new_files_use_larger_pages_and_a_larger_checkpoint(tmp_path: Path) -> None:
    import sqlite3

    store = SqliteStore(tmp_path / "jobs.db")
    await store.open()
    await store.close()
    db = sqlite3.connect(tmp_path / "jobs.db")
    try:
        assert db.execute("PRAGMA page_size").fetchone()[0] == 16 * 1024
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    finally:
        db.close()
