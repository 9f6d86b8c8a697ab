"""Stores written by a version before the lists: their jobs and executions load, with defaults, and list."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from dce_jobs.queries import ExecutionQuery, JobQuery
from dce_jobs.stats import StatsQuery
from dce_jobs.store import mongo_lists, sqlite_schema
from dce_jobs.store.mongo import MongoStore
from dce_jobs.store.mongo_lists import add_last_run_starts, fill_execution_apps, upgrade_old_records
from dce_jobs.store.sqlite import SqliteStore
from tests.fakes.mongo import FakeAsyncMongoClient
from tests.store.conftest import OpenMongo, opened
from tests.store.records import make_execution, make_job, results_of

#: the tables as the version before the lists created them
_OLD_SCHEMA = """
CREATE TABLE jobs (job_id TEXT PRIMARY KEY, app_name TEXT NOT NULL, name TEXT NOT NULL,
    created_at REAL NOT NULL, doc TEXT NOT NULL, UNIQUE (app_name, name));
CREATE TABLE executions (job_id TEXT NOT NULL, executor_id TEXT NOT NULL, created_at REAL NOT NULL, doc TEXT NOT NULL,
    PRIMARY KEY (job_id, executor_id));
CREATE TABLE results (job_id TEXT NOT NULL, executor_id TEXT NOT NULL, idx INTEGER NOT NULL, status TEXT NOT NULL,
    doc TEXT NOT NULL, PRIMARY KEY (job_id, executor_id, idx));
CREATE TABLE output (job_id TEXT NOT NULL, executor_id TEXT NOT NULL, idx INTEGER NOT NULL, seq INTEGER NOT NULL,
    data BLOB NOT NULL, streams TEXT, PRIMARY KEY (job_id, executor_id, idx, seq));
"""
JOB = {
    "job_id": "j1",
    "app_name": "shop",
    "service_name": "shop_web",
    "name": "Backup",
    "cmd": "echo hi",
    "privileged": False,
    "user": "",
    "env": [],
    "secret_args": [],
    "created_at": 10.0,
    "updated_at": 20.0,
}
EXECUTIONS = [
    {"job_id": "j1", "executor_id": "30.000000", "created_at": 30.0, "targets": [], "retry_of": ""},
    {"job_id": "j1", "executor_id": "40.000000", "created_at": 40.0, "targets": [], "retry_of": "30.000000"},
]


def _result(executor_id: str, status: str, exit_code: int | None, finished_at: float | None) -> dict[str, object]:
    return {
        "job_id": "j1",
        "executor_id": executor_id,
        "index": 0,
        "container_id": "c" * 64,
        "node_id": "n1",
        "status": status,
        "exit_code": exit_code,
        "finished_at": finished_at,
        "end_reason": "exited" if status == "FINISHED" else None,
    }


RESULTS = [_result("30.000000", "FINISHED", 0, 31.0), _result("40.000000", "FINISHED", 1, 41.0)]


async def _check(store: SqliteStore | MongoStore) -> None:
    job = await store.get_job("j1")
    assert (job.created_by, job.updated_by, job.executors) == ("", "", ("30.000000", "40.000000"))
    assert job.last_run is not None and (job.last_run.executor_id, job.last_run.state) == ("40.000000", "failed")
    page = await store.find_jobs(JobQuery(name_part="back", last_state="failed"))
    assert [j.job_id for j in page.items] == ["j1"]
    assert [j.job_id for j in (await store.find_jobs(JobQuery(sort="last_started_at"))).items] == ["j1"]
    history = await store.find_executions(ExecutionQuery(app_name="shop"))
    assert [(e.executor_id, e.trigger, e.state, e.ended_at) for e in history.items] == [
        ("40.000000", "retry", "failed", 41.0),
        ("30.000000", "manual", "succeeded", 31.0),
    ]


async def test_an_older_sqlite_file_is_upgraded_on_open(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite3"
    db = sqlite3.connect(path)
    db.executescript(_OLD_SCHEMA)
    db.execute("INSERT INTO jobs VALUES ('j1', 'shop', 'Backup', 10.0, ?)", (json.dumps(JOB),))
    for e in EXECUTIONS:
        db.execute("INSERT INTO executions VALUES ('j1', ?, ?, ?)", (e["executor_id"], e["created_at"], json.dumps(e)))
    for r in RESULTS:
        db.execute("INSERT INTO results VALUES ('j1', ?, 0, ?, ?)", (r["executor_id"], r["status"], json.dumps(r)))
    db.commit()
    db.close()
    async with opened(SqliteStore(path)) as store:
        await _check(store)
        # the indexes the lists and the statistics name (INDEXED BY) exist on an upgraded file too
        assert [j.executors for j in await store.list_jobs()] == [("30.000000", "40.000000")]
        stats = await store.execution_stats(StatsQuery(since_s=0.0, until_s=100.0))
        assert (stats.ended_count, stats.durations_s[50]) == (2, 1.0)
    db = sqlite3.connect(path)
    names = {row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type = 'index'")}
    db.close()
    assert {"executions_job", "executions_duration", "executions_created", "jobs_created", "jobs_last_run"} <= names


async def test_older_mongo_documents_are_upgraded_on_open() -> None:
    async with opened(MongoStore("mongodb://fake", client_factory=FakeAsyncMongoClient)) as store:
        db = store._db  # noqa: SLF001 - documents as the older version wrote them
        await db["jobs"].insert_one(dict(JOB))
        await db["executions"].insert_many([dict(e) for e in EXECUTIONS])
        await db["results"].insert_many([dict(r) for r in RESULTS])
        await upgrade_old_records(db)  # what open() runs
        await _check(store)


#: executions as the statistics' version (before the lists) stored them: state, end and duration beside the doc
STATS_ERA = [
    {**EXECUTIONS[0], "schedule_id": "s1", "state": "succeeded", "ended_at": 31.0, "duration_s": 1.0},
    {**EXECUTIONS[1], "state": "failed", "ended_at": 41.0, "duration_s": 1.0},
]


async def _check_stats_era(store: SqliteStore | MongoStore) -> None:
    job = await store.get_job("j1")
    assert job.last_run is not None and (job.last_run.state, job.last_run.ended_at) == ("failed", 41.0)
    history = await store.find_executions(ExecutionQuery(app_name="shop"))
    assert [(e.executor_id, e.trigger, e.state, e.ended_at) for e in history.items] == [
        ("40.000000", "retry", "failed", 41.0),
        ("30.000000", "schedule", "succeeded", 31.0),
    ]
    assert [e.counts and e.counts["succeeded"] for e in history.items] == [0, 1]
    stats = await store.execution_stats(StatsQuery(since_s=0.0, until_s=100.0))
    assert stats.ended_count == 2 and set(stats.durations_s.values()) == {1.0}


async def test_a_sqlite_file_of_the_statistics_version_keeps_its_ends_and_gets_the_lists(tmp_path: Path) -> None:
    path = tmp_path / "stats.sqlite3"
    db = sqlite3.connect(path)
    db.executescript(_OLD_SCHEMA)
    for column in ("state TEXT", "ended_at REAL", "duration_s REAL"):
        db.execute(f"ALTER TABLE executions ADD COLUMN {column}")
    db.execute("INSERT INTO jobs VALUES ('j1', 'shop', 'Backup', 10.0, ?)", (json.dumps(JOB),))
    for e in STATS_ERA:
        row = (e["executor_id"], e["created_at"], json.dumps(e), e["state"], e["ended_at"], e["duration_s"])
        db.execute("INSERT INTO executions VALUES ('j1', ?, ?, ?, ?, ?, ?)", row)
    for r in RESULTS:
        db.execute("INSERT INTO results VALUES ('j1', ?, 0, ?, ?)", (r["executor_id"], r["status"], json.dumps(r)))
    db.commit()
    db.close()
    async with opened(SqliteStore(path)) as store:
        await _check_stats_era(store)


async def test_mongo_documents_of_the_statistics_version_keep_their_ends_and_get_the_lists() -> None:
    async with opened(MongoStore("mongodb://fake", client_factory=FakeAsyncMongoClient)) as store:
        db = store._db  # noqa: SLF001 - documents as the older version wrote them
        await db["jobs"].insert_one(dict(JOB))
        await db["executions"].insert_many([{**e, "hour": 0} for e in STATS_ERA])
        await db["results"].insert_many([dict(r) for r in RESULTS])
        await upgrade_old_records(db)  # what open() runs
        await _check_stats_era(store)


async def _two_jobs_that_ran(store: SqliteStore | MongoStore) -> list[str]:
    """Jobs a (ran at 50) and b (ran at 30, then at 60, then that run removed): LastRunTime order b, a."""
    jobs = [make_job("a", job_id="ja"), make_job("b", job_id="jb")]
    for job in jobs:
        await store.create_job(job)
    for job, executor_id, started_at in ((jobs[0], "x1", 50.0), (jobs[1], "x2", 30.0), (jobs[1], "x3", 60.0)):
        execution = make_execution(job, executor_id, started_at)
        await store.create_execution(execution, results_of(execution))
    await store.delete_execution(jobs[1].job_id, "x3")
    return [job.name for job in jobs]


async def _by_last_run(store: SqliteStore | MongoStore) -> list[str]:
    return [j.name for j in (await store.find_jobs(JobQuery(sort="last_started_at"))).items]


async def test_a_sqlite_file_from_before_the_last_run_order_gets_its_starts(tmp_path: Path) -> None:
    path = tmp_path / "lists.sqlite3"
    async with opened(SqliteStore(path)) as store:
        await _two_jobs_that_ran(store)
    db = sqlite3.connect(path)  # as the version before kept it: no start, user_version 1
    db.execute("UPDATE jobs SET last_started_at = NULL")
    db.execute("PRAGMA user_version = 1")
    db.commit()
    db.close()
    async with opened(SqliteStore(path)) as store:
        assert await _by_last_run(store) == ["b", "a"]
    db = sqlite3.connect(path)
    assert sorted(row[0] for row in db.execute("SELECT last_started_at FROM jobs")) == [30.0, 50.0]
    db.close()


async def test_mongo_jobs_from_before_the_last_run_order_get_their_starts() -> None:
    async with opened(MongoStore("mongodb://fake", client_factory=FakeAsyncMongoClient)) as store:
        await _two_jobs_that_ran(store)
        db = store._db  # noqa: SLF001 - last_run as the version before kept it
        await db["jobs"].update_many({}, {"$unset": {"last_run.started_at": ""}})
        assert await _by_last_run(store) == ["a", "b"]  # both without a start: by JobId
        await add_last_run_starts(db)  # what open() runs
        await add_last_run_starts(db)
        assert await _by_last_run(store) == ["b", "a"]
        assert sorted([d["last_run"]["started_at"] async for d in db["jobs"].find({})]) == [30.0, 50.0]


async def _runs_of_two_apps(store: SqliteStore | MongoStore) -> None:
    """Jobs of shop (runs x1, x3) and blog (x2), the runs stored with their AppName."""
    shop, blog = make_job("a", "shop", job_id="ja"), make_job("b", "blog", job_id="jb")
    for job in (shop, blog):
        await store.create_job(job)
    for job, executor_id, started_at in ((shop, "x1", 10.0), (blog, "x2", 20.0), (shop, "x3", 30.0)):
        await store.create_execution(make_execution(job, executor_id, started_at, targets=0), [])


async def _check_apps(store: SqliteStore | MongoStore) -> None:
    shop = await store.find_executions(ExecutionQuery(app_name="shop"))
    assert [e.executor_id for e in shop.items] == ["x3", "x1"]
    assert [e.executor_id for e in (await store.find_executions(ExecutionQuery(app_name="blog"))).items] == ["x2"]
    stats = await store.execution_stats(StatsQuery(since_s=0.0, until_s=100.0, app_name="shop"))
    assert sum(stats.per_hour.values()) == 2


async def test_sqlite_executions_without_an_app_get_their_jobs_at_open(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sqlite_schema, "_APP_BATCH", 2)  # several batches
    path = tmp_path / "apps.sqlite3"
    async with opened(SqliteStore(path)) as store:
        await _runs_of_two_apps(store)
    db = sqlite3.connect(path)  # as a version that did not keep it wrote them, and a run whose job is gone
    db.execute("UPDATE executions SET app_name = CASE executor_id WHEN 'x3' THEN NULL ELSE '' END")
    db.execute(
        "INSERT INTO executions (job_id, executor_id, created_at, doc, app_name) VALUES ('gone', 'x0', 5, '{}', '')"
    )
    db.commit()
    db.close()
    for _ in range(2):  # idempotent
        async with opened(SqliteStore(path)) as store:
            await _check_apps(store)
    db = sqlite3.connect(path)
    assert db.execute("SELECT app_name FROM executions WHERE job_id = 'gone'").fetchall() == [("",)]
    db.close()


async def test_mongo_executions_without_an_app_get_their_jobs_at_open(
    open_mongo: OpenMongo, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(mongo_lists, "_IDS_PER_QUERY", 1)  # a batch a job
    async with open_mongo(MongoStore) as store:
        await _runs_of_two_apps(store)
        db = store._db  # noqa: SLF001 - documents as a version that did not keep the AppName wrote them
        await db["executions"].update_many({}, {"$set": {"app_name": ""}})
        await db["executions"].update_one({"executor_id": "x3"}, {"$set": {"app_name": None}})
        await db["executions"].insert_one({"job_id": "gone", "executor_id": "x0", "created_at": 5.0, "app_name": ""})
        for _ in range(2):  # what open() runs; idempotent
            await fill_execution_apps(db)
            await _check_apps(store)
        assert [d["app_name"] async for d in db["executions"].find({"job_id": "gone"})] == [""]
