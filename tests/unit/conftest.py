"""Fixtures for unit tests: an app on a temporary SQLite store, no Docker engine."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from dce_jobs.app import create_app
from dce_jobs.config import from_env

ClientMaker = Callable[..., Awaitable[TestClient[Any, Any]]]


@pytest.fixture
def make_client(aiohttp_client: Any, tmp_path: Path) -> ClientMaker:
    """Build a test client for an app configured from `env` (data dir in tmp_path)."""

    async def make(env: dict[str, str] | None = None, **kwargs: Any) -> TestClient[Any, Any]:
        config = from_env({"DCE_JOBS_DATA_DIR": str(tmp_path / "data"), **(env or {})})
        return await aiohttp_client(create_app(config, **kwargs))

    return make


@pytest.fixture
async def client(make_client: ClientMaker) -> TestClient[Any, Any]:
    """A client of an app without token."""
    return await make_client()


def job_body(**changes: Any) -> dict[str, Any]:
    """A valid job body as the seed shows it."""
    body: dict[str, Any] = {
        "AppName": "2048",
        "ServiceName": "2048_2048",
        "Name": "上线",
        "Cmd": "ps axu",
        "Privileged": True,
        "User": "root:root",
        "Env": ["a=b", "c=d"],
        "SecretArgs": ["xxx", "yyyy"],
    }
    body.update(changes)
    return body
