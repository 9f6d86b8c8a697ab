"""A 1-node lab of our own and a real `dce-jobs serve` (DEBUG log captured) pointed at it."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.integration.lab import Lab
from tests.server import Server

LAB_DIR = "/tmp/dce-jobs-sec-lab"
SERVICE = "dsc-web"
OTHER_SERVICE = "dsc-other"
TOKEN = "sec-token-5f0c9d2e"
FINAL = {"FINISHED", "CREATE_FAILED", "RUNNING_FAILED"}


def pytest_configure(config: pytest.Config) -> None:
    """Register the marker of this folder."""
    config.addinivalue_line("markers", "security: hostile-input and secret-handling checks on a real engine")


@pytest.fixture(scope="session")
def sec_lab() -> Iterator[Lab]:
    """A one-node swarm with a 2-replica service and an unrelated 1-replica one; torn down after."""
    if os.geteuid() != 0:
        pytest.skip("the Docker lab needs root")
    lab = Lab.up(nodes=1, lab_dir=LAB_DIR, prefix="dsc", net="10.218.0")
    try:
        lab.create_service(SERVICE, 2, node=1)
        lab.create_service(OTHER_SERVICE, 1, node=1)
        yield lab
    finally:
        lab.down()


@dataclass
class Api:
    """The running server with its data dir, and blocking JSON helpers that carry the token."""

    server: Server
    data_dir: Path

    def call(self, method: str, path: str, body: Any = None, *, token: str | None = TOKEN) -> tuple[int, Any]:
        """(status, decoded JSON or text) of one request."""
        status, raw, headers = self.server.request(method, path, body=body, token=token)
        if headers.get("Content-Type", "").startswith("application/json"):
            return status, json.loads(raw)
        return status, raw.decode("utf-8", errors="replace")

    def create_job(self, cmd: str, **fields: Any) -> dict[str, Any]:
        """POST a job on SERVICE and return it."""
        body = {"AppName": "sec", "ServiceName": SERVICE, "Name": f"job-{time.monotonic_ns()}", "Cmd": cmd, **fields}
        status, job = self.call("POST", "/api/jobs", body)
        assert status == 200, job
        return job  # type: ignore[no-any-return]

    def start(self, job: dict[str, Any], targets: list[dict[str, str]]) -> str:
        """Start a job on targets; return the ExecutorId."""
        status, body = self.call("POST", f"/api/jobs/{job['JobId']}/start", {"Target": targets})
        assert status == 200, body
        return body["Executors"][-1]  # type: ignore[no-any-return]

    def wait_final(self, job: dict[str, Any], executor_id: str, *, timeout_s: float = 60) -> dict[str, Any]:
        """Poll inspect until every Result is final."""
        deadline = time.monotonic() + timeout_s
        while True:
            status, body = self.call("GET", f"/api/jobs/{job['JobId']}/inspect/{executor_id}")
            assert status == 200, body
            if all(r["Status"] in FINAL for r in body["Result"]):
                return body  # type: ignore[no-any-return]
            if time.monotonic() > deadline:
                pytest.fail(f"not final after {timeout_s} s: {[r['Status'] for r in body['Result']]}")
            time.sleep(0.2)


@pytest.fixture(scope="session")
def api(sec_lab: Lab, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    """`dce-jobs serve` with a token and DEBUG logging, its engine the lab's manager."""
    base = tmp_path_factory.mktemp("security")
    env = {
        "DCE_JOBS_API_TOKEN": TOKEN,
        "DCE_JOBS_DOCKER_HOST": sec_lab.manager.unix_url,
        "DCE_JOBS_LOG_LEVEL": "DEBUG",
        "DCE_JOBS_CONNECT_TIMEOUT_S": "2",
        "DCE_JOBS_DOCKER_TIMEOUT_S": "10",
    }
    server = Server(data_dir=base / "data", log_path=base / "server.log", env=env).wait_ready()
    try:
        yield Api(server=server, data_dir=base / "data")
    finally:
        server.stop()


def targets(lab: Lab, service: str) -> list[dict[str, str]]:
    """Start-request targets for the running tasks of a service."""
    return [{"ContainerId": t["ContainerId"], "NodeId": t["NodeId"]} for t in lab.tasks(service)]


def container_has(lab: Lab, container_id: str, path: str) -> bool:
    """True when `path` exists inside the container (checked with the test's own docker client)."""
    import docker

    client = docker.APIClient(base_url=lab.manager.unix_url, timeout=30)
    try:
        exec_id = client.exec_create(container_id, ["test", "-e", path])["Id"]
        client.exec_start(exec_id)
        return client.exec_inspect(exec_id)["ExitCode"] == 0  # type: ignore[no-any-return]
    finally:
        client.close()
