"""The bench environment: a one-node lab of its own, a service of many replicas, a `dce-jobs serve` on it."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
import time
import urllib.parse
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import docker
import requests

from tests.integration.lab import Lab
from tests.server import Server, ServerError

LAB_DIR = "/tmp/dce-jobs-bench-lab"  # noqa: S108 - the lab's fixed home, its own identity (dbn, 10.219.0)
SERVICE = "dbn-fan"
TOKEN = "bench-token"  # noqa: S105 - a throwaway token of a loopback-only server
OUTPUT_LIMIT_BYTES = 256 * 1024 * 1024
FINAL = {"FINISHED", "CREATE_FAILED", "RUNNING_FAILED"}


class BenchError(RuntimeError):
    """The bench could not set up or a run went wrong."""


@dataclass
class Bench:
    """Everything a measurement needs: the lab, the server, a docker client and the service's targets."""

    lab: Lab
    server: Server
    docker: docker.APIClient
    targets: list[dict[str, str]]
    notes: list[str]
    server_env: dict[str, str]  #: what the bench's server runs with, for further servers on the same lab
    workdir: Path  #: the bench's scratch folder, removed at the end

    def call(self, method: str, path: str, body: Any = None) -> Any:
        """One API call with the token; the decoded JSON answer, BenchError unless 2xx."""
        try:
            return self.server.json(method, path, body)
        except ServerError as e:
            raise BenchError(str(e)) from None

    def create_job(self, cmd: str, name: str) -> dict[str, Any]:
        """A job on the bench service."""
        job: dict[str, Any] = self._api(
            self.server.create_job, SERVICE, cmd, app="bench", name=f"{name}-{time.monotonic_ns()}"
        )
        return job

    def start(self, job: dict[str, Any], targets: list[dict[str, str]], **settings: Any) -> str:
        """Start a job on targets (with start settings such as Parallelism); the new ExecutorId."""
        executor_id: str = self._api(self.server.start, job, targets, **settings)
        return executor_id

    def stop(self, job: dict[str, Any], executor_id: str) -> dict[str, Any]:
        """Stop an execution; the inspect body."""
        return self.call("POST", f"/api/jobs/{job['JobId']}/executors/{executor_id}/stop", {})  # type: ignore[no-any-return]

    def inspect(self, job: dict[str, Any], executor_id: str) -> dict[str, Any]:
        """The inspect body of one execution."""
        body: dict[str, Any] = self._api(self.server.inspect, job, executor_id)
        return body

    def wait_final(self, job: dict[str, Any], executor_id: str, *, poll_s: float, timeout_s: float) -> dict[str, Any]:
        """Poll inspect until every Result is final."""
        body: dict[str, Any] = self._api(self.server.wait_final, job, executor_id, poll_s=poll_s, timeout_s=timeout_s)
        return body

    def wait_end_event(self, job: dict[str, Any], executor_id: str, *, timeout_s: float) -> None:
        """Follow the execution's event stream until its `end` event (sent once every target is final)."""
        url = f"{self.server.url}/api/jobs/{job['JobId']}/executors/{executor_id}/events"
        headers = {"Authorization": f"Bearer {self.server.token}"} if self.server.token else {}
        with requests.get(url, headers=headers, stream=True, timeout=timeout_s) as response:
            if response.status_code != 200:
                raise BenchError(f"events of {executor_id}: HTTP {response.status_code} {response.text[:200]}")
            for line in response.iter_lines():
                if line == b"event: end":
                    return
        raise BenchError(f"the event stream of {executor_id} closed before its end event")

    @staticmethod
    def _api(call: Any, *args: Any, **kwargs: Any) -> Any:
        """A call of the tests' one API client, its failures as BenchError."""
        try:
            return call(*args, **kwargs)
        except ServerError as e:
            raise BenchError(str(e)) from None

    def log_url(self, job: dict[str, Any], executor_id: str, container_id: str) -> str:
        """Download URL of one container's log."""
        query = urllib.parse.urlencode({"ContainerId": container_id})
        return f"{self.server.url}/api/jobs/{job['JobId']}/log/{executor_id}?{query}"


def scale(lab: Lab, replicas: int, *, timeout_s: float, service: str = SERVICE) -> int:
    """Scale a lab service and wait (bounded) for its running tasks; return how many run.

    `docker service scale` changes the replica count only; docker-py's Service.scale re-sends the whole spec,
    which makes Swarm replace every running task one by one (targets then vanish during the bench).
    """
    host = lab.manager.unix_url
    done = subprocess.run(
        ["docker", "-H", host, "service", "scale", "--detach", f"{service}={replicas}"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    if done.returncode != 0:
        raise BenchError(f"docker service scale {service}={replicas}: {done.stderr.strip()[:300]}")
    client = docker.APIClient(base_url=host, timeout=120)
    try:
        deadline = time.monotonic() + timeout_s
        running = 0
        while time.monotonic() < deadline:
            try:  # a manager busy starting hundreds of containers may answer slowly: keep asking
                tasks = client.tasks(filters={"service": service, "desired-state": "running"})
            except (docker.errors.DockerException, requests.RequestException):
                continue
            running = sum((t.get("Status") or {}).get("State") == "running" for t in tasks)
            if running >= replicas:
                break
            time.sleep(2)
        return running
    finally:
        client.close()


def tasks_of(lab: Lab, service: str, *, attempts: int = 6) -> list[dict[str, Any]]:
    """The service's running tasks (lab.tasks), asked again when a busy manager answers too slowly."""
    for attempt in range(attempts):
        try:
            return lab.tasks(service)
        except (docker.errors.DockerException, requests.RequestException):
            if attempt == attempts - 1:
                raise
            time.sleep(5)
    return []


@contextmanager
def bench_env(*, replicas: int, log: Any) -> Iterator[Bench]:
    """Lab up, service scaled to `replicas`, server started; everything torn down afterwards."""
    workdir = Path(tempfile.mkdtemp(prefix="dce-jobs-bench-"))
    log("lab up (1 node, prefix dbn, 10.219.0.0/24)")
    lab = Lab.up(nodes=1, lab_dir=LAB_DIR, prefix="dbn", net="10.219.0")
    server: Server | None = None
    client: docker.APIClient | None = None
    try:
        lab.create_service(SERVICE, 10, node=1)
        log(f"scaling {SERVICE} to {replicas} replicas")
        started = time.monotonic()
        running = scale(lab, replicas, timeout_s=480)
        client = docker.APIClient(base_url=lab.manager.unix_url, timeout=120, max_pool_size=16)
        notes = [f"{running}/{replicas} replicas of {SERVICE} running after {time.monotonic() - started:.0f} s"]
        env = {
            "DCE_JOBS_API_TOKEN": TOKEN,
            "DCE_JOBS_DOCKER_HOST": lab.manager.unix_url,
            "DCE_JOBS_OUTPUT_LIMIT_BYTES": str(OUTPUT_LIMIT_BYTES),
            "DCE_JOBS_DOCKER_TIMEOUT_S": "120",
        }
        server = Server(data_dir=workdir / "data", log_path=workdir / "server.log", env=env).wait_ready()
        server.token = TOKEN
        targets = [{"ContainerId": t["ContainerId"], "NodeId": t["NodeId"]} for t in tasks_of(lab, SERVICE)]
        yield Bench(
            lab=lab, server=server, docker=client, targets=targets, notes=notes, server_env=env, workdir=workdir
        )
    finally:
        if server is not None:
            server.stop()
        if client is not None:
            client.close()
        log("lab down")
        lab.down(timeout_s=600)
        shutil.rmtree(workdir, ignore_errors=True)
