"""What only MongoStore promises: driver options, error translation, secrecy of the URL, query counts."""

from __future__ import annotations

import uuid
from functools import partial
from typing import Any

import pytest
from pymongo import AsyncMongoClient, monitoring

from dce_jobs.errors import Conflict, StoreUnavailable
from dce_jobs.models import ContainerResult, Execution, Target
from dce_jobs.queries import ExecutionQuery, Window
from dce_jobs.store.mongo import MongoStore
from tests.fakes.mongo import FakeAsyncMongoClient, RecordingFactory
from tests.store.records import make_job, started

URL = "mongodb://admin:s3cr%40t-pw@db1:27017,db2:27017/?replicaSet=rs0"
SECRETS = ("s3cr%40t-pw", "s3cr@t-pw")


async def test_open_builds_the_client_with_the_driver_options(fake_factory: RecordingFactory) -> None:
    store = MongoStore(URL, db_name="jobs_db", client_factory=fake_factory)
    await store.open()
    await store.close()

    assert fake_factory.calls == [((URL,), {"serverSelectionTimeoutMS": 5000, "tz_aware": False})]


async def test_open_creates_the_unique_indexes(fake_factory: RecordingFactory) -> None:
    store = MongoStore(URL, db_name="jobs_db", client_factory=fake_factory)
    await store.open()
    db = fake_factory.clients[0]["jobs_db"]

    unique = {
        name: sorted(
            tuple(k for k, _ in spec["key"])
            for spec in (await db[name].index_information()).values()
            if spec.get("unique")
        )
        for name in ("jobs", "executions", "results", "output")
    }
    await store.close()

    assert unique == {
        "jobs": [("app_name", "name"), ("job_id",)],
        "executions": [("job_id", "executor_id")],
        "results": [("job_id", "executor_id", "index")],
        "output": [("job_id", "executor_id", "index", "seq")],
    }


async def test_open_creates_the_indexes_the_lists_and_statistics_read(fake_factory: RecordingFactory) -> None:
    """Each list's filter and order, the executors of a job and the duration percentiles have an index."""
    store = MongoStore(URL, db_name="jobs_db", client_factory=fake_factory)
    await store.open()
    db = fake_factory.clients[0]["jobs_db"]
    keys = {
        name: {tuple(k for k, _ in spec["key"]) for spec in (await db[name].index_information()).values()}
        for name in ("jobs", "executions")
    }
    await store.close()

    assert {("created_at", "job_id"), ("updated_at", "job_id"), ("name_fold", "job_id")} <= keys["jobs"]
    assert ("app_name", "created_at", "job_id") in keys["jobs"]
    assert {("job_id", "created_at", "executor_id"), ("duration_s", "created_at")} <= keys["executions"]
    assert ("app_name", "duration_s", "created_at") in keys["executions"]  # the statistics of one AppName
    assert ("last_run.started_at", "job_id") in keys["jobs"]  # the LastRunTime order


def test_repr_leaves_out_the_credentials() -> None:
    text = repr(MongoStore(URL, client_factory=FakeAsyncMongoClient))

    assert "db1:27017,db2:27017" in text
    assert not any(s in text for s in (*SECRETS, "admin"))


async def test_ping_of_an_unreachable_server_is_store_unavailable(fake_factory: RecordingFactory) -> None:
    store = MongoStore(URL, client_factory=fake_factory)
    await store.open()
    fake_factory.clients[0].unreachable = True

    with pytest.raises(StoreUnavailable) as caught:
        await store.ping()
    await store.close()

    assert caught.value.error_id == "store_unavailable"
    assert "ServerSelectionTimeoutError" in caught.value.message
    assert not any(s in caught.value.message for s in SECRETS)
    assert caught.value.__cause__ is not None


async def test_real_driver_without_a_server_fails_open_with_store_unavailable() -> None:
    # the real AsyncMongoClient, pointed at a closed port: checks the translation of genuine driver errors
    url = "mongodb://admin:s3cr%40t-pw@127.0.0.1:1/"

    def quick_client(*args: Any, **kwargs: Any) -> AsyncMongoClient[Any]:
        return AsyncMongoClient(*args, **{**kwargs, "serverSelectionTimeoutMS": 200})

    store = MongoStore(url, client_factory=quick_client)
    with pytest.raises(StoreUnavailable) as caught:
        await store.open()
    await store.close()

    assert "127.0.0.1:1" in caught.value.message
    assert "Topology Description" not in caught.value.message
    assert not any(s in caught.value.message for s in SECRETS)


async def test_use_before_open_is_store_unavailable() -> None:
    store = MongoStore(URL, client_factory=FakeAsyncMongoClient)

    with pytest.raises(StoreUnavailable):
        await store.get_job("x")
    with pytest.raises(StoreUnavailable):
        await store.ping()


async def test_list_jobs_reads_executors_in_one_query(fake_factory: RecordingFactory) -> None:
    store = MongoStore(URL, client_factory=fake_factory)
    await store.open()
    for i in range(20):
        job = make_job(f"job{i}")
        await store.create_job(job)
        await started(store, job, f"{i}.000001", float(i))
    calls = fake_factory.clients[0].calls
    calls.clear()

    jobs = await store.list_jobs()
    await store.close()

    assert len(jobs) == 20 and all(len(j.executors) == 1 for j in jobs)
    assert calls == ["find", "find"]


async def test_iter_output_reads_in_batches(fake_factory: RecordingFactory) -> None:
    store = MongoStore(URL, client_factory=fake_factory)
    await store.open()
    job = make_job()
    await store.create_job(job)
    (target,) = await started(store, job, "1.000001", 1.0, targets=1)
    for seq in range(40):
        await store.append_output(target, seq, b"x")
    calls = fake_factory.clients[0].calls
    calls.clear()

    chunks = [c async for c in store.iter_output(job.job_id, "1.000001", 0)]
    await store.close()

    assert len(chunks) == 40
    assert calls == ["find"] * 3  # 16 + 16 + 8


async def test_a_result_clash_undoes_the_new_execution(fake_factory: RecordingFactory) -> None:
    store = MongoStore(URL, client_factory=fake_factory)
    await store.open()
    job = make_job()
    await store.create_job(job)
    stray = ContainerResult(job_id=job.job_id, executor_id="2.000001", index=0, container_id="c", node_id="n")
    await store.save_result(stray)
    execution = Execution(job.job_id, "2.000001", 2.0, (Target("c", "n"),))

    with pytest.raises(Conflict) as caught:
        await store.create_execution(execution, [stray])
    executors = (await store.get_job(job.job_id)).executors
    await store.close()

    assert caught.value.error_id == "executor_id_taken"
    assert executors == ()


class _Finds(monitoring.CommandListener):
    """The filters of the `find` commands sent, by collection."""

    def __init__(self) -> None:
        self.filters: list[tuple[str, dict[str, Any]]] = []

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        if event.command_name == "find":
            self.filters.append((event.command["find"], dict(event.command.get("filter", {}))))

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
        pass

    def failed(self, event: monitoring.CommandFailedEvent) -> None:
        pass


async def test_a_history_page_names_its_jobs_with_one_find_of_its_own_job_ids(wire_mongo_url: str) -> None:
    """JobName: one more find, by $in of the page's distinct JobIds only; an entry whose job is gone gets None."""
    finds = _Finds()
    factory = RecordingFactory(partial(AsyncMongoClient, event_listeners=[finds]))
    db_name = f"dce_jobs_test_{uuid.uuid4().hex[:12]}"
    store = MongoStore(wire_mongo_url, db_name=db_name, client_factory=factory)
    await store.open()
    try:
        jobs = [make_job(f"job{i}") for i in range(6)]
        for job in jobs:
            await store.create_job(job)
        for i in range(12):  # newest first: x11 (job5), x10 (job4), x9 (job3), x8 (job2), x7 (job1), ...
            await started(store, jobs[i % 6], f"x{i:02d}", 2000.0 + i)
        await store._db["jobs"].delete_one({"job_id": jobs[4].job_id})  # noqa: SLF001 - a delete racing the read
        finds.filters.clear()

        page = await store.find_executions(ExecutionQuery(window=Window(2, 4)))
    finally:
        await factory.clients[0].drop_database(db_name)
        await store.close()

    assert [(e.executor_id, e.job_name) for e in page.items] == [
        ("x07", "job1"),
        ("x06", "job0"),
        ("x05", "job5"),
        ("x04", None),
    ]
    page_ids = sorted(j.job_id for j in (jobs[1], jobs[0], jobs[5], jobs[4]))
    assert finds.filters[0][0] == "executions"
    assert finds.filters[1:] == [("jobs", {"job_id": {"$in": page_ids}})]
