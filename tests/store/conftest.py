"""The `store` fixture: every Store backend, opened and closed around each test."""

from __future__ import annotations

import importlib.util
import os
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest

from dce_jobs.store.base import Store
from dce_jobs.store.mongo import MongoStore
from tests.fakes.mongo import FakeAsyncMongoClient, RecordingFactory

MONGO_URL_ENV = "DCE_JOBS_TEST_MONGO_URL"

_HAS_SQLITE = importlib.util.find_spec("dce_jobs.store.sqlite") is not None

BACKENDS = [
    pytest.param("sqlite", marks=pytest.mark.skipif(not _HAS_SQLITE, reason="dce_jobs.store.sqlite not written yet")),
    pytest.param("mongo-fake"),
    pytest.param(
        "mongo-real", marks=pytest.mark.skipif(not os.environ.get(MONGO_URL_ENV), reason=f"{MONGO_URL_ENV} not set")
    ),
]


@pytest.fixture(params=BACKENDS)
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Store]:
    """An open store of each backend; a real MongoDB gets a throwaway database."""
    async with _backend(request.param, tmp_path) as opened:
        yield opened


@asynccontextmanager
async def _backend(name: str, tmp_path: Path) -> AsyncIterator[Store]:
    if name == "sqlite":
        from dce_jobs.store.sqlite import SqliteStore

        async with _opened(SqliteStore(tmp_path / "jobs.db")) as store:
            yield store
    elif name == "mongo-fake":
        async with _opened(MongoStore("mongodb://fake", client_factory=FakeAsyncMongoClient)) as store:
            yield store
    else:
        async with _real_mongo() as store:
            yield store


@asynccontextmanager
async def _opened(store: Store) -> AsyncIterator[Store]:
    await store.open()
    try:
        yield store
    finally:
        await store.close()


@asynccontextmanager
async def _real_mongo() -> AsyncIterator[Store]:
    """MongoStore on DCE_JOBS_TEST_MONGO_URL with a unique database, dropped afterwards."""
    from pymongo import AsyncMongoClient

    db_name = f"dce_jobs_test_{uuid.uuid4().hex[:12]}"
    factory = RecordingFactory(AsyncMongoClient)
    store = MongoStore(os.environ[MONGO_URL_ENV], db_name=db_name, client_factory=factory)
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
