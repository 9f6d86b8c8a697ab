"""The `store` fixture: every Store backend, opened and closed around each test.

mongo-wire is MongoStore over the wire protocol, through PyMongo's AsyncMongoClient, against an nx-27017
server started once per session; mongo-real is the same against DCE_JOBS_TEST_MONGO_URL when it is set.
"""

from __future__ import annotations

import importlib.util
import os
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from functools import partial
from pathlib import Path
from typing import TypeVar

import pytest

from dce_jobs.store.base import Store
from dce_jobs.store.mongo import MongoStore
from tests.fakes.mongo import FakeAsyncMongoClient, RecordingFactory
from tests.mongo_wire import nx27017

MONGO_URL_ENV = "DCE_JOBS_TEST_MONGO_URL"

_S = TypeVar("_S", bound=Store)

_HAS_SQLITE = importlib.util.find_spec("dce_jobs.store.sqlite") is not None

_REAL = pytest.mark.skipif(not os.environ.get(MONGO_URL_ENV), reason=f"{MONGO_URL_ENV} not set")

# mongo-wire-txn forces the transaction path on nx-27017, which has single-database transactions although
# its `hello` reports a standalone server (where MongoStore would not use them)
MONGO_BACKENDS = [
    pytest.param("mongo-fake"),
    pytest.param("mongo-wire"),
    pytest.param("mongo-wire-txn"),
    pytest.param("mongo-real", marks=_REAL),
]

_SQLITE = pytest.mark.skipif(not _HAS_SQLITE, reason="dce_jobs.store.sqlite not written yet")

# sqlite-files keeps every output chunk of one byte or more in its target's file (by default only large ones)
BACKENDS = [
    pytest.param("sqlite", marks=_SQLITE),
    pytest.param("sqlite-files", marks=_SQLITE),
    *MONGO_BACKENDS,
]

OpenMongo = Callable[[type[MongoStore]], AbstractAsyncContextManager[MongoStore]]


@pytest.fixture(scope="session")
def wire_mongo_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The URL of an nx-27017 wire-protocol server running for the whole session."""
    with nx27017(tmp_path_factory.mktemp("nx-27017")) as url:
        yield url


@pytest.fixture(params=BACKENDS)
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Store]:
    """An open store of each backend; a server gets a throwaway database."""
    if request.param in ("sqlite", "sqlite-files"):
        from dce_jobs.store.sqlite import SqliteStore

        file_min_bytes = {"sqlite-files": 1}.get(request.param, 16 * 1024)
        async with opened(SqliteStore(tmp_path / "jobs.db", file_min_bytes=file_min_bytes)) as sqlite:
            yield sqlite
    else:
        async with _mongo(request, MongoStore) as mongo:
            yield mongo


@pytest.fixture(params=MONGO_BACKENDS)
def open_mongo(request: pytest.FixtureRequest) -> OpenMongo:
    """Opens a MongoStore (sub)class on each Mongo backend: `async with open_mongo(StoreClass) as store`."""
    return partial(_mongo, request)


@asynccontextmanager
async def _mongo(request: pytest.FixtureRequest, store_class: type[MongoStore]) -> AsyncIterator[MongoStore]:
    name = request.param
    if name == "mongo-fake":
        async with opened(store_class("mongodb://fake", client_factory=FakeAsyncMongoClient)) as store:
            yield store
    elif name in ("mongo-wire", "mongo-wire-txn"):
        url = request.getfixturevalue("wire_mongo_url")
        async with mongo_on(url, store_class, transactions=True if name == "mongo-wire-txn" else None) as store:
            yield store
    else:
        async with mongo_on(os.environ[MONGO_URL_ENV], store_class) as store:
            yield store


@asynccontextmanager
async def opened(store: _S) -> AsyncIterator[_S]:
    """`store`, opened for the block and closed after it."""
    await store.open()
    try:
        yield store
    finally:
        await store.close()


@asynccontextmanager
async def mongo_on(
    url: str, store_class: type[MongoStore] = MongoStore, *, transactions: bool | None = None
) -> AsyncIterator[MongoStore]:
    """An open `store_class` on the server at `url` with a unique database, dropped afterwards."""
    from pymongo import AsyncMongoClient

    db_name = f"dce_jobs_test_{uuid.uuid4().hex[:12]}"
    factory = RecordingFactory(AsyncMongoClient)
    store = store_class(url, db_name=db_name, client_factory=factory, transactions=transactions)
    try:
        async with opened(store):
            try:
                yield store
            finally:
                await factory.clients[0].drop_database(db_name)
    finally:
        for client in factory.clients:
            await client.close()  # idempotent: the store closed it already unless open() failed


@pytest.fixture
def fake_factory() -> RecordingFactory:
    """A factory of FakeAsyncMongoClient for MongoStore-only tests."""
    return RecordingFactory()
