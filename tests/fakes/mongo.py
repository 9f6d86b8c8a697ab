"""In-memory stand-in for pymongo's AsyncMongoClient: a thin async adapter over mongomock.

Only the names of pymongo's async API are exposed, with its sync/async split (`find`, `sort`, `limit`,
`batch_size` are plain calls; operations are awaited), so code that passes here runs on a real server.
Each operation yields to the event loop first, as a network round trip would, so concurrent callers
interleave. Set `client.unreachable = True` to make every operation fail like a server that is down.
`hello` answers as a standalone server (no transactions); `client.hello_reply` can say otherwise.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any, NoReturn

import mongomock
from pymongo import ReplaceOne, UpdateOne
from pymongo.errors import InvalidOperation, ServerSelectionTimeoutError


class FakeAsyncMongoClient:
    """Async facade over one `mongomock.MongoClient`; takes AsyncMongoClient's arguments."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self._sync = mongomock.MongoClient(*args, **kwargs)
        self._closed = False
        self.unreachable = False
        self.hello_reply: dict[str, Any] = {"ok": 1.0, "isWritablePrimary": True, "maxWireVersion": 25}
        self.calls: list[str] = []  #: operation names, in call order (to count round trips)

    async def _io(self, name: str) -> None:
        """One simulated round trip."""
        await asyncio.sleep(0)
        if self._closed:
            raise InvalidOperation("Cannot use AsyncMongoClient after close")
        if self.unreachable:
            raise ServerSelectionTimeoutError("fake: No servers found yet, Timeout: 5.0s")
        self.calls.append(name)

    def __getitem__(self, name: str) -> FakeAsyncDatabase:
        return FakeAsyncDatabase(self, self._sync[name])

    def __getattr__(self, name: str) -> FakeAsyncDatabase:
        if name.startswith("_"):
            raise AttributeError(name)
        return self[name]

    def get_database(self, name: str | None = None, **kwargs: Any) -> FakeAsyncDatabase:
        """Like AsyncMongoClient.get_database."""
        return FakeAsyncDatabase(self, self._sync.get_database(name, **kwargs))

    async def drop_database(self, name_or_database: str | FakeAsyncDatabase) -> None:
        """Like AsyncMongoClient.drop_database."""
        await self._io("drop_database")
        name = name_or_database if isinstance(name_or_database, str) else name_or_database.name
        self._sync.drop_database(name)

    async def list_database_names(self) -> list[str]:
        """Like AsyncMongoClient.list_database_names."""
        await self._io("list_database_names")
        names: list[str] = self._sync.list_database_names()
        return names

    async def close(self) -> None:
        """Like AsyncMongoClient.close: later operations raise InvalidOperation."""
        self._closed = True

    async def __aenter__(self) -> FakeAsyncMongoClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()


class FakeAsyncDatabase:
    """Like AsyncDatabase: collections by item or attribute, awaited commands."""

    def __init__(self, client: FakeAsyncMongoClient, sync: Any) -> None:
        self.client = client
        self._sync = sync

    @property
    def name(self) -> str:
        """The database name."""
        return str(self._sync.name)

    def __getitem__(self, name: str) -> FakeAsyncCollection:
        return FakeAsyncCollection(self, self._sync[name])

    def __getattr__(self, name: str) -> FakeAsyncCollection:
        if name.startswith("_"):
            raise AttributeError(name)
        return self[name]

    def get_collection(self, name: str, **kwargs: Any) -> FakeAsyncCollection:
        """Like AsyncDatabase.get_collection."""
        return FakeAsyncCollection(self, self._sync.get_collection(name, **kwargs))

    def __bool__(self) -> NoReturn:
        raise NotImplementedError("Database objects do not implement truth value testing")

    async def command(self, command: str | dict[str, Any], *args: Any, **kwargs: Any) -> dict[str, Any]:
        """Like AsyncDatabase.command (mongomock knows ping and a few others; `hello` is answered here)."""
        await self.client._io("command")
        if command in ("hello", {"hello": 1}):
            return dict(self.client.hello_reply)
        reply: dict[str, Any] = self._sync.command(command, *args, **kwargs)
        return reply

    async def drop_collection(self, name: str) -> None:
        """Like AsyncDatabase.drop_collection."""
        await self.client._io("drop_collection")
        self._sync.drop_collection(name)

    async def list_collection_names(self) -> list[str]:
        """Like AsyncDatabase.list_collection_names."""
        await self.client._io("list_collection_names")
        names: list[str] = self._sync.list_collection_names()
        return names


def _operation(name: str) -> Callable[..., Awaitable[Any]]:
    """An awaited AsyncCollection method that runs mongomock's method of the same name."""

    async def operation(self: FakeAsyncCollection, *args: Any, **kwargs: Any) -> Any:
        await self.database.client._io(name)
        return getattr(self._sync, name)(*args, **kwargs)

    operation.__name__ = name
    operation.__doc__ = f"Like AsyncCollection.{name}."
    return operation


class FakeAsyncCollection:
    """Like AsyncCollection: awaited operations, `find` returning an async cursor."""

    def __init__(self, database: FakeAsyncDatabase, sync: Any) -> None:
        self.database = database
        self._sync = sync

    @property
    def name(self) -> str:
        """The collection name."""
        return str(self._sync.name)

    def __bool__(self) -> NoReturn:
        raise NotImplementedError("Collection objects do not implement truth value testing")

    def find(self, *args: Any, **kwargs: Any) -> FakeAsyncCursor:
        """Like AsyncCollection.find: lazy, nothing runs until the cursor is read."""
        return FakeAsyncCursor(self.database.client, self._sync.find(*args, **kwargs))

    async def aggregate(self, pipeline: list[dict[str, Any]], **kwargs: Any) -> FakeAsyncCursor:
        """Like AsyncCollection.aggregate: awaited, answers a cursor."""
        await self.database.client._io("aggregate")
        return FakeAsyncCursor(self.database.client, iter(self._sync.aggregate(pipeline, **kwargs)))

    async def bulk_write(self, requests: list[Any], *, ordered: bool = True, **kwargs: Any) -> None:
        """Like AsyncCollection.bulk_write of UpdateOne / ReplaceOne upserts, in order (mongomock's own does not
        take pymongo 4.9's operations); one round trip."""
        await self.database.client._io("bulk_write")
        for request in requests:
            if isinstance(request, UpdateOne):
                self._sync.update_one(request._filter, request._doc, upsert=bool(request._upsert))
            elif isinstance(request, ReplaceOne):
                self._sync.replace_one(request._filter, request._doc, upsert=bool(request._upsert))
            else:
                raise NotImplementedError(f"the fake's bulk_write takes no {type(request).__name__}")

    insert_one = _operation("insert_one")
    insert_many = _operation("insert_many")
    find_one = _operation("find_one")
    find_one_and_update = _operation("find_one_and_update")
    find_one_and_replace = _operation("find_one_and_replace")
    find_one_and_delete = _operation("find_one_and_delete")
    update_one = _operation("update_one")
    update_many = _operation("update_many")
    replace_one = _operation("replace_one")
    delete_one = _operation("delete_one")
    delete_many = _operation("delete_many")
    count_documents = _operation("count_documents")
    estimated_document_count = _operation("estimated_document_count")
    distinct = _operation("distinct")
    create_index = _operation("create_index")
    create_indexes = _operation("create_indexes")
    drop_index = _operation("drop_index")
    drop_indexes = _operation("drop_indexes")
    index_information = _operation("index_information")
    drop = _operation("drop")


class FakeAsyncCursor:
    """Like AsyncCursor: `sort`/`limit`/`skip`/`batch_size` chain, reading is awaited."""

    def __init__(self, client: FakeAsyncMongoClient, sync: Any) -> None:
        self._client = client
        self._sync = sync
        self._started = False
        self._alive = True

    def sort(self, key_or_list: Any, direction: Any = None) -> FakeAsyncCursor:
        """Like AsyncCursor.sort."""
        self._sync.sort(key_or_list, direction)
        return self

    def limit(self, limit: int) -> FakeAsyncCursor:
        """Like AsyncCursor.limit."""
        self._sync.limit(limit)
        return self

    def skip(self, skip: int) -> FakeAsyncCursor:
        """Like AsyncCursor.skip."""
        self._sync.skip(skip)
        return self

    def batch_size(self, batch_size: int) -> FakeAsyncCursor:
        """Like AsyncCursor.batch_size."""
        self._sync.batch_size(batch_size)
        return self

    @property
    def alive(self) -> bool:
        """False once exhausted or closed."""
        return self._alive

    async def _fetch(self) -> dict[str, Any] | None:
        if not self._alive:
            return None
        if not self._started:
            # the query goes to the server on the first read, as with a real cursor
            await self._client._io("find")
            self._started = True
        try:
            doc: dict[str, Any] = next(self._sync)
        except StopIteration:
            self._alive = False
            return None
        return doc

    async def to_list(self, length: int | None = None) -> list[dict[str, Any]]:
        """Like AsyncCursor.to_list."""
        if isinstance(length, int) and length < 1:
            raise ValueError("to_list() length must be greater than 0")
        docs: list[dict[str, Any]] = []
        while length is None or len(docs) < length:
            doc = await self._fetch()
            if doc is None:
                break
            docs.append(doc)
        return docs

    def __aiter__(self) -> FakeAsyncCursor:
        return self

    async def __anext__(self) -> dict[str, Any]:
        doc = await self._fetch()
        if doc is None:
            raise StopAsyncIteration
        return doc

    async def next(self) -> dict[str, Any]:
        """Like AsyncCursor.next."""
        return await self.__anext__()

    async def close(self) -> None:
        """Like AsyncCursor.close."""
        self._alive = False
        self._sync.close()

    async def __aenter__(self) -> FakeAsyncCursor:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()


class RecordingFactory:
    """A client factory for MongoStore that keeps the arguments it got and the clients it made."""

    def __init__(self, client_class: Callable[..., Any] = FakeAsyncMongoClient) -> None:
        self._client_class = client_class
        self.clients: list[Any] = []
        self.calls: list[tuple[tuple[Any, ...], dict[str, Any]]] = []

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        self.calls.append((args, kwargs))
        self.clients.append(self._client_class(*args, **kwargs))
        return self.clients[-1]
