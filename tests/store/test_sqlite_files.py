"""SQLite specifics of output files: large chunks are appended to a file per target, the rows keep where."""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

import pytest

from dce_jobs.errors import StoreUnavailable
from dce_jobs.models import STDERR, STDOUT, OutputChunk
from dce_jobs.store.ranges import ByteRange
from dce_jobs.store.sqlite import SqliteStore
from dce_jobs.store.sqlite_files import OutputFiles
from tests.store.records import make_job, read_output, started

BIG = 64 * 1024


def _files(path: Path) -> list[Path]:
    return sorted(p for p in Path(f"{path}-output").rglob("*") if p.is_file())


def _folders(path: Path) -> list[Path]:
    root = Path(f"{path}-output")
    return [root, *(p for p in root.rglob("*") if p.is_dir())]


async def test_large_chunks_live_in_files_small_ones_in_rows_and_both_read_back_after_a_restart(
    tmp_path: Path,
) -> None:
    path = tmp_path / "jobs.db"
    job = make_job()
    big = [os.urandom(BIG) for _ in range(3)]
    store = SqliteStore(path)
    await store.open()
    try:
        await store.create_job(job)
        first, second = await started(store, job, "1.000001", 1.0)
        chunks = [
            OutputChunk(job.job_id, "1.000001", 0, 0, big[0]),
            OutputChunk(job.job_id, "1.000001", 0, 1, b"small\n"),
            OutputChunk(job.job_id, "1.000001", 1, 0, big[1], ((STDOUT, 100), (STDERR, BIG - 100))),
            OutputChunk(job.job_id, "1.000001", 0, 2, big[2]),
        ]
        await store.write_batch(chunks, [])
    finally:
        await store.close()
    db = sqlite3.connect(path)
    try:
        rows = db.execute("SELECT idx, seq, length(data), size FROM output ORDER BY idx, seq").fetchall()
    finally:
        db.close()
    assert rows == [(0, 0, 0, BIG), (0, 1, 6, None), (0, 2, 0, BIG), (1, 0, 0, BIG)]
    assert [p.stat().st_size for p in _files(path)] == [2 * BIG, BIG]
    assert {p.stat().st_mode & 0o777 for p in _files(path)} == {0o600}
    assert {p.stat().st_mode & 0o777 for p in _folders(path)} == {0o700}

    store = SqliteStore(path)  # the next start reads what the last one wrote
    await store.open()
    try:
        assert await read_output(store, first) == [big[0], b"small\n", big[2]]
        stderr = store.iter_output(job.job_id, "1.000001", 1, stream=STDERR)
        assert b"".join([c async for c in stderr]) == big[1][100:]
        assert await store.tail_output(job.job_id, "1.000001", 0, max_bytes=10) == (big[2][-10:], True)
        tails = await store.tail_outputs(job.job_id, "1.000001", [0, 1], max_bytes=BIG + 3)
        assert tails == {0: (b"ll\n" + big[2], True), 1: (big[1], False)}
        part = await store.read_output_range(job.job_id, "1.000001", 0, wanted=ByteRange(BIG - 2, BIG + 7))  # inclusive
        assert part.data == big[0][-2:] + b"small\n" + big[2][:2]
        assert second.index == 1
    finally:
        await store.close()


async def test_a_target_that_wrote_rows_before_goes_on_in_its_file(tmp_path: Path) -> None:
    path = tmp_path / "jobs.db"
    job = make_job()
    store = SqliteStore(path, file_min_bytes=1 << 30)  # as a version that kept every chunk in a row
    await store.open()
    try:
        await store.create_job(job)
        target, _ = await started(store, job, "1.000001", 1.0)
        await store.append_output(target, 0, b"a" * BIG)
    finally:
        await store.close()
    store = SqliteStore(path)
    await store.open()
    try:
        await store.append_output(target, 1, b"b" * BIG)
        assert await read_output(store, target) == [b"a" * BIG, b"b" * BIG]
        assert await store.tail_output(job.job_id, "1.000001", 0, max_bytes=BIG + 1) == (b"a" + b"b" * BIG, True)
    finally:
        await store.close()


async def test_removing_an_execution_or_a_job_removes_its_files(tmp_path: Path) -> None:
    path = tmp_path / "jobs.db"
    store = SqliteStore(path)
    await store.open()
    try:
        job, other = make_job(), make_job(name="other")
        for each in (job, other):
            await store.create_job(each)
        gone, _ = await started(store, job, "1.000001", 1.0)
        kept, _ = await started(store, job, "2.000001", 2.0)
        elsewhere, _ = await started(store, other, "1.000001", 1.0)
        for target in (gone, kept, elsewhere):
            await store.append_output(target, 0, os.urandom(BIG))
        assert len(_files(path)) == 3

        await store.delete_execution(job.job_id, "1.000001")
        assert await read_output(store, gone) == []
        assert len(_files(path)) == 2 and len(await read_output(store, kept)) == 1

        await store.delete_job(job.job_id)
        assert len(_files(path)) == 1 and len(await read_output(store, elsewhere)) == 1
        # a new run of the deleted execution's id starts a new file
        again, _ = await started(store, other, "3.000001", 3.0)
        await store.append_output(again, 0, b"x" * BIG)
        assert await read_output(store, again) == [b"x" * BIG]
    finally:
        await store.close()


async def test_ids_never_name_a_path_outside_the_output_folder(tmp_path: Path) -> None:
    path = tmp_path / "jobs.db"
    store = SqliteStore(path, file_min_bytes=1)
    await store.open()
    try:
        for job_id in ("../../escape", "a/b", ".hidden", "plain-id_1"):
            job = make_job(job_id=job_id, name=job_id)
            await store.create_job(job)
            target, _ = await started(store, job, "..", 1.0)
            await store.append_output(target, 0, job_id.encode())
            assert await read_output(store, target) == [job_id.encode()]
    finally:
        await store.close()
    assert _inside(Path(f"{path}-output"), _files(path)) and len(_files(path)) == 4
    assert _names(tmp_path) <= {"jobs.db", "jobs.db-output", "jobs.db-wal", "jobs.db-shm"}


def _inside(root: Path, files: list[Path]) -> bool:
    return all(p.resolve().is_relative_to(root.resolve()) for p in files)


def _names(folder: Path) -> set[str]:
    return {p.name for p in folder.iterdir()}


def test_files_stay_open_for_the_targets_writing_and_are_reopened_after_being_closed(tmp_path: Path) -> None:
    files = OutputFiles(tmp_path / "out")
    keys = [("job", "1.000001", index) for index in range(100)]  # more than are kept open
    first = files.append([(key, b"a" * (key[2] + 1)) for key in keys])
    second = files.append([(key, b"b") for key in reversed(keys)])
    files.done(keys[0])
    third = files.append([(keys[0], b"c")])
    files.close()
    assert first == [0] * 100 and second == [index + 1 for index in reversed(range(100))] and third == [2]
    with files.reader(keys[0]) as reader:
        assert reader.read(0, 10) == b"abc"
    with files.reader(keys[99]) as reader:
        assert reader.read(99, 5) == b"ab"


async def test_an_output_file_that_cannot_be_read_is_a_store_error_not_a_crash(tmp_path: Path) -> None:
    path = tmp_path / "jobs.db"
    store = SqliteStore(path)
    await store.open()
    try:
        job = make_job()
        await store.create_job(job)
        target, _ = await started(store, job, "1.000001", 1.0)
        await store.append_output(target, 0, os.urandom(BIG))
        (file,) = _files(path)
        file.unlink()
        file.mkdir()  # reads of it now fail with an OSError (as root too, unlike a chmod)
        with pytest.raises(StoreUnavailable, match="output files"):
            await read_output(store, target)
        with pytest.raises(StoreUnavailable, match="output files"):
            await store.tail_output(job.job_id, "1.000001", 0, max_bytes=100)
    finally:
        await store.close()
