"""MongoStore's multi-document writes (all or nothing, by a transaction or by undoing) and the wire-server helper."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from pymongo import MongoClient
from pymongo.errors import AutoReconnect, ServerSelectionTimeoutError

from dce_jobs.errors import Conflict, NotFound, StoreUnavailable
from dce_jobs.models import ContainerResult
from dce_jobs.store.mongo import MongoStore
from tests.fakes.mongo import RecordingFactory
from tests.mongo_wire import nx27017
from tests.store.conftest import OpenMongo
from tests.store.records import make_execution, make_job, read_output, results_of, started

LOST = "connection lost part-way"


class _FailingPartWay:
    """A collection whose `method` does its work on the first `keep` documents, then loses the connection."""

    def __init__(self, inner: Any, method: str, keep: int = 1) -> None:
        self._inner, self._method, self._keep = inner, method, keep

    def __getattr__(self, name: str) -> Any:
        if name == self._method == "insert_many":
            return self._insert_many
        if name == self._method:
            return self._fail
        return getattr(self._inner, name)

    async def _insert_many(self, docs: list[dict[str, Any]], **kwargs: Any) -> None:
        await self._inner.insert_many(list(docs)[: self._keep], **kwargs)
        raise AutoReconnect(LOST)

    async def _fail(self, *args: Any, **kwargs: Any) -> None:
        raise AutoReconnect(LOST)


class _Breaking(MongoStore):
    """A MongoStore whose `method` on `collection` fails part-way while `broken` is set."""

    collection = method = ""
    broken = True

    def _col(self, name: str) -> Any:
        inner = super()._col(name)
        return _FailingPartWay(inner, self.method) if self.broken and name == self.collection else inner


class ResultsInsertFails(_Breaking):
    """Inserting results stores the first one, then the connection drops."""

    collection, method = "results", "insert_many"


class ExecutionsDeleteFails(_Breaking):
    """Deleting executions loses the connection (after output and results went, without a transaction)."""

    collection, method = "executions", "delete_many"


async def test_results_insert_failing_part_way_leaves_nothing_behind(open_mongo: OpenMongo) -> None:
    async with open_mongo(ResultsInsertFails) as store:
        job = make_job()
        await store.create_job(job)
        execution = make_execution(job, "1.000001", 1.0, targets=3)

        with pytest.raises(StoreUnavailable) as caught:
            await store.create_execution(execution, results_of(execution))

        assert LOST in caught.value.message
        assert (await store.get_job(job.job_id)).executors == ()
        with pytest.raises(NotFound):
            await store.get_execution(job.job_id, "1.000001")
        assert await store.list_results(job.job_id, "1.000001") == []
        assert await store.list_unfinished_results() == []


async def test_a_result_clash_part_way_removes_only_what_the_call_inserted(open_mongo: OpenMongo) -> None:
    async with open_mongo(MongoStore) as store:
        job = make_job()
        await store.create_job(job)
        execution = make_execution(job, "1.000001", 1.0, targets=3)
        stray = results_of(execution)[1].replace(container_id="older")
        await store.save_result(stray)

        with pytest.raises(Conflict) as caught:
            await store.create_execution(execution, results_of(execution))

        assert caught.value.error_id == "executor_id_taken"
        assert (await store.get_job(job.job_id)).executors == ()
        assert await store.list_results(job.job_id, "1.000001") == [stray]


async def test_an_interrupted_delete_leaves_the_job_to_delete_again(open_mongo: OpenMongo) -> None:
    async with open_mongo(ExecutionsDeleteFails) as store:
        job = make_job()
        await store.create_job(job)
        results = await started(store, job, "1.000001", 1.0)
        await store.append_output(results[0], 0, b"out")

        with pytest.raises(StoreUnavailable):
            await store.delete_job(job.job_id)

        # the job is still there to delete again: with a transaction with all its results, without maybe not
        assert (await store.get_job(job.job_id)).executors == ("1.000001",)
        assert await read_output(store, results[0]) == []  # the output goes first, outside any transaction
        if store.transactions:
            assert await store.list_results(job.job_id, "1.000001") == results
        assert isinstance(store, ExecutionsDeleteFails)
        store.broken = False
        await store.delete_job(job.job_id)
        with pytest.raises(NotFound):
            await store.get_job(job.job_id)
        assert await store.list_unfinished_results() == []


@pytest.mark.parametrize(
    ("hello", "expected"),
    [
        ({"ok": 1.0, "isWritablePrimary": True}, False),  # standalone
        ({"ok": 1.0, "isWritablePrimary": True, "setName": "rs0"}, True),  # replica set member
        ({"ok": 1.0, "isWritablePrimary": True, "msg": "isdbgrid"}, True),  # mongos
    ],
)
async def test_transactions_are_used_where_hello_says_the_server_has_them(
    fake_factory: RecordingFactory, hello: dict[str, Any], expected: bool
) -> None:
    def client(*args: Any, **kwargs: Any) -> Any:
        made = fake_factory(*args, **kwargs)
        made.hello_reply = hello
        return made

    store = MongoStore("mongodb://db1", client_factory=client)
    await store.open()
    await store.close()

    assert store.transactions is expected


async def test_the_wire_server_reports_a_standalone_server(wire_mongo_url: str) -> None:
    store = MongoStore(wire_mongo_url, db_name="dce_jobs_hello")
    await store.open()
    await store.close()

    assert store.transactions is False


async def test_a_stray_result_of_another_execution_is_not_touched(open_mongo: OpenMongo) -> None:
    async with open_mongo(ResultsInsertFails) as store:
        job = make_job()
        await store.create_job(job)
        neighbour = ContainerResult(job_id=job.job_id, executor_id="0.000001", index=0, container_id="c", node_id="n")
        await store.save_result(neighbour)
        execution = make_execution(job, "1.000001", 1.0, targets=2)

        with pytest.raises(StoreUnavailable):
            await store.create_execution(execution, results_of(execution))

        assert await store.list_unfinished_results() == [neighbour]


def test_the_wire_server_helper_stops_the_server_and_removes_its_data(tmp_path: Path) -> None:
    data_dir = tmp_path / "nx"
    with nx27017(data_dir) as url:
        with _client(url, timeout_ms=5000) as client:
            client["probe"]["c"].insert_one({"k": 1})
        assert list(data_dir.glob("probe.db*"))

    assert not data_dir.exists()
    with _client(url, timeout_ms=300) as client, pytest.raises(ServerSelectionTimeoutError):
        client.admin.command("ping")


def _client(url: str, *, timeout_ms: int) -> MongoClient[dict[str, Any]]:
    return MongoClient(url, serverSelectionTimeoutMS=timeout_ms)
