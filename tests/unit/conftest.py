"""Fixtures for unit tests: an app on a temporary SQLite store; a fake swarm engine where a test needs one."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from dce_jobs.app import create_app
from dce_jobs.config import from_env
from dce_jobs.nodes import NodePool
from tests.fakes.engine import FakeSwarm, service

ClientMaker = Callable[..., Awaitable[TestClient[Any, Any]]]


@pytest.fixture
def make_client(aiohttp_client: Any, tmp_path: Path) -> ClientMaker:
    """Build a test client for an app configured from `env` (data dir in tmp_path)."""

    async def make(
        env: dict[str, str] | None = None, *, swarm: FakeSwarm | None = None, **kwargs: Any
    ) -> TestClient[Any, Any]:
        config = from_env({"DCE_JOBS_DATA_DIR": str(tmp_path / "data"), **(env or {})})
        if swarm is not None:
            kwargs["nodes"] = NodePool(config, client_factory=swarm)
        return await aiohttp_client(create_app(config, **kwargs))

    return make


@pytest.fixture
def swarm() -> FakeSwarm:
    """A fake swarm holding the service of job_body() (app 2048) and one of another app."""
    return FakeSwarm(service("2048_2048", app="2048", running=3, desired=3), service("shop_web", app="shop"))


@pytest.fixture
async def client(make_client: ClientMaker, swarm: FakeSwarm) -> TestClient[Any, Any]:
    """A client of an app without token, whose manager engine is the fake swarm."""
    return await make_client(swarm=swarm)


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


@pytest.fixture
def fake_app(make_client: ClientMaker) -> Callable[..., Awaitable[tuple[TestClient[Any, Any], FakeSwarm]]]:
    """Builds an app whose every engine is a fake swarm of `containers` tasks: `client, swarm = await fake_app()`."""

    async def make(env: dict[str, str] | None = None, containers: int = 4) -> tuple[TestClient[Any, Any], FakeSwarm]:
        fake_swarm = FakeSwarm(containers=containers)
        settings = {"DCE_JOBS_DOCKER_HOST": "unix:///fake.sock", **(env or {})}
        nodes = NodePool(from_env(settings), client_factory=fake_swarm.factory)
        return await make_client(settings, nodes=nodes), fake_swarm

    return make
