"""The `store` fixture: every Store backend, opened and closed around each test.

mongo-wire is MongoStore over the wire protocol, through PyMongo's AsyncMongoClient, against an nx-27017
server started once per session; mongo-real is the same against DCE_JOBS_TEST_MONGO_URL when it is set.
"""

from __future__ import annotations

import importlib.util
import os
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest

from dce_jobs.store.base import Store
from dce_jobs.store.mongo import MongoStore
from tests.fakes.mongo import FakeAsyncMongoClient, RecordingFactory
from tests.mongo_wire import nx27017

MONGO_URL_ENV = "DCE_JOBS_TEST_MONGO_URL"

_HAS_SQLITE = importlib.util.find_spec("dce_jobs.store.sqlite") is not None

BACKENDS = [
    pytest.param("sqlite", marks=pytest.mark.skipif(not _HAS_SQLITE, reason="dce_jobs.store.sqlite not written yet")),
    pytest.param("mongo-fake"),
    pytest.param("mongo-wire"),
    pytest.param(
        "mongo-real", marks=pytest.mark.skipif(not os.environ.get(MONGO_URL_ENV), reason=f"{MONGO_URL_ENV} not set")
    ),
]


@pytest.fixture(scope="session")
def wire_mongo_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The URL of an nx-27017 wire-protocol server running for the whole session."""
    with nx27017(tmp_path_factory.mktemp("nx-27017")) as url:
        yield url


@pytest.fixture(params=BACKENDS)
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Store]:
    """An open store of each backend; a server gets a throwaway database."""
    async with _backend(request, tmp_path) as opened:
        yield opened


@asynccontextmanager
async def _backend(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Store]:
    name = request.param
    if name == "sqlite":
        from dce_jobs.store.sqlite import SqliteStore

        async with _opened(SqliteStore(tmp_path / "jobs.db")) as store:
            yield store
    elif name == "mongo-fake":
        async with _opened(MongoStore("mongodb://fake", client_factory=FakeAsyncMongoClient)) as store:
            yield store
    elif name == "mongo-wire":
        async with mongo_on(request.getfixturevalue("wire_mongo_url")) as store:
            yield store
    else:
        async with mongo_on(os.environ[MONGO_URL_ENV]) as store:
            yield store


@asynccontextmanager
async def _opened(store: Store) -> AsyncIterator[Store]:
    await store.open()
    try:
        yield store
    finally:
        await store.close()


@asynccontextmanager
async def mongo_on(url: str, store_class: type[MongoStore] = MongoStore) -> AsyncIterator[MongoStore]:
    """An open `store_class` on the server at `url` with a unique database, dropped afterwards."""
    from pymongo import AsyncMongoClient

    db_name = f"dce_jobs_test_{uuid.uuid4().hex[:12]}"
    factory = RecordingFactory(AsyncMongoClient)
    store = store_class(url, db_name=db_name, client_factory=factory)
    try:
        async with _opened(store):
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
