"""Fixtures on the project's real Docker Swarm lab: nodes, test services, and the app wired to them."""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from dce_jobs.app import create_app
from dce_jobs.config import from_env
from tests.client import inspect
from tests.server import Server

from .lab import Lab

LAB_DIR = os.environ.get("DCE_JOBS_TEST_LAB_DIR", "/tmp/dce-jobs-test-lab")

ClientMaker = Callable[..., Awaitable[TestClient[Any, Any]]]


@pytest.fixture(scope="session")
def lab() -> Iterator[Lab]:
    """A 3-node swarm (manager + 2 workers), each dockerd in its own network namespace; torn down after."""
    if os.geteuid() != 0:
        pytest.skip("the Docker lab needs root")
    started = Lab.up(nodes=3, lab_dir=LAB_DIR, prefix="dct", net="10.215.0")
    try:
        yield started
    finally:
        started.down()


@pytest.fixture(scope="session")
def local_service(lab: Lab) -> str:
    """A 4-replica service pinned to the manager node (the engine the service itself uses)."""
    lab.create_service("djt-local", 4, node=1)
    return "djt-local"


@pytest.fixture(scope="session")
def other_service(lab: Lab) -> str:
    """A second service, for targets that do not belong to a job's service."""
    lab.create_service("djt-other", 1, node=1)
    return "djt-other"


@pytest.fixture
def make_client(aiohttp_client: Any, tmp_path: Path, lab: Lab) -> ClientMaker:
    """Build a test client of the real app, pointed at the lab's manager (workers via Status.Addr:2375)."""

    async def make(env: dict[str, str] | None = None) -> TestClient[Any, Any]:
        config = from_env(
            {
                "DCE_JOBS_DATA_DIR": str(tmp_path / "data"),
                "DCE_JOBS_DOCKER_HOST": lab.manager.unix_url,
                "DCE_JOBS_CONNECT_TIMEOUT_S": "2",
                "DCE_JOBS_DOCKER_TIMEOUT_S": "10",
                **(env or {}),
            }
        )
        # as the panel does: every request says JSON (state-changing routes refuse others, also without a body)
        return await aiohttp_client(create_app(config), headers={"Content-Type": "application/json"})

    return make


@pytest.fixture
async def client(make_client: ClientMaker) -> TestClient[Any, Any]:
    """A client of the app with default settings."""
    return await make_client()


def targets_of(lab: Lab, service: str, count: int | None = None) -> list[dict[str, str]]:
    """Start-request targets for the running tasks of a service."""
    tasks = lab.tasks(service)
    return [{"ContainerId": t["ContainerId"], "NodeId": t["NodeId"]} for t in tasks[:count]]


def engine(lab: Lab, index: int) -> Any:
    """A docker-py low-level client of lab node `index` (test side only)."""
    import docker

    return docker.APIClient(base_url=lab.node(index).unix_url, timeout=30)


def node_index(lab: Lab, node_id: str) -> int:
    """Lab index of the node with this Swarm NodeId."""
    return next(n.index for n in lab.nodes if n.node_id == node_id)


def processes(lab: Lab, container_id: str) -> str:
    """`ps` output inside a container on the manager node."""
    client = engine(lab, 1)
    exec_id = client.exec_create(container_id, ["ps", "-o", "pid,args"])["Id"]
    return client.exec_start(exec_id).decode()


async def wait_status(
    client: Any, job: dict[str, Any], executor_id: str, statuses: set[str], timeout_s: float = 20
) -> dict[str, Any]:
    """Poll until every result is in one of `statuses`."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        body = await inspect(client, job, executor_id)
        if all(r["Status"] in statuses for r in body["Result"]):
            return body
        await asyncio.sleep(0.1)
    pytest.fail(f"not {statuses} after {timeout_s} s")


@pytest.fixture
def server(lab: Lab, tmp_path: Path) -> Iterator[Server]:
    """A real server process on the lab's manager, two targets running at once (the rest wait in STARTING)."""
    process = Server(
        data_dir=tmp_path / "data",
        log_path=tmp_path / "server.log",
        env={
            "DCE_JOBS_DOCKER_HOST": lab.manager.unix_url,
            "DCE_JOBS_MAX_RUNNING": "2",
            "DCE_JOBS_SHUTDOWN_GRACE_S": "1",
        },
    )
    process.wait_ready()
    yield process
    process.stop()


def server_final(server: Server, job_id: str, executor_id: str, timeout_s: float = 60) -> dict[str, Any]:
    """Every Result of the execution final (through the server's own client)."""
    return server.wait_final(job_id, executor_id, timeout_s=timeout_s)
