"""A real `dce-jobs serve` on MongoDB over the wire (an nx-27017 server) and a real engine: the API end to end."""

from __future__ import annotations

import json
import os
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from pymongo import MongoClient

from tests.integration.lab import Lab
from tests.mongo_wire import nx27017
from tests.server import Server

pytestmark = pytest.mark.engine

LAB_DIR = "/tmp/dce-jobs-mongo-lab"
SERVICE = "dmw-web"
FINAL = {"FINISHED", "CREATE_FAILED", "RUNNING_FAILED"}
SECRET = f"pw-{uuid.uuid4().hex[:10]}"
# the stored output masks the secret itself; its upper-case form proves the run got the real one
CMD = 'sh -c \'echo "got $(echo $1 | tr a-z A-Z)"; echo "env $GREETING"\' sh'


@pytest.fixture(scope="module")
def mongo_lab() -> Iterator[Lab]:
    """A one-node swarm with a 2-replica service; torn down after."""
    if os.geteuid() != 0:
        pytest.skip("the Docker lab needs root")
    lab = Lab.up(nodes=1, lab_dir=LAB_DIR, prefix="dmw", net="10.223.0")
    try:
        lab.create_service(SERVICE, 2, node=1)
        yield lab
    finally:
        lab.down()


@pytest.fixture(scope="module")
def mongo_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """An nx-27017 wire-protocol server for this module."""
    with nx27017(tmp_path_factory.mktemp("nx-27017-api")) as url:
        yield url


@dataclass
class Api:
    """The running server, its database name, and blocking JSON helpers."""

    server: Server
    db_name: str

    def call(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        """(status, decoded JSON or text) of one request."""
        status, raw, headers = self.server.request(method, path, body=body)
        if headers.get("Content-Type", "").startswith("application/json"):
            return status, json.loads(raw)
        return status, raw.decode("utf-8", errors="replace")

    def ok(self, method: str, path: str, body: Any = None) -> Any:
        """A request that must answer 200."""
        status, answer = self.call(method, path, body)
        assert status == 200, (method, path, status, answer)
        return answer

    def wait_final(self, job_id: str, executor_id: str, *, timeout_s: float = 60) -> dict[str, Any]:
        """Poll inspect until every Result is final."""
        deadline = time.monotonic() + timeout_s
        while True:
            body = self.ok("GET", f"/api/jobs/{job_id}/inspect/{executor_id}")
            if all(r["Status"] in FINAL for r in body["Result"]):
                return body  # type: ignore[no-any-return]
            if time.monotonic() > deadline:
                pytest.fail(f"not final after {timeout_s} s: {[r['Status'] for r in body['Result']]}")
            time.sleep(0.2)


@pytest.fixture
def api(mongo_lab: Lab, mongo_url: str, tmp_path: Path) -> Iterator[Api]:
    """`dce-jobs serve` with DCE_JOBS_MONGO_URL on the wire server (a database of its own), engine = the lab."""
    db_name = f"dce_jobs_api_{uuid.uuid4().hex[:8]}"
    env = {
        "DCE_JOBS_MONGO_URL": mongo_url,
        "DCE_JOBS_MONGO_DB": db_name,
        "DCE_JOBS_DOCKER_HOST": mongo_lab.manager.unix_url,
        "DCE_JOBS_CONNECT_TIMEOUT_S": "2",
        "DCE_JOBS_DOCKER_TIMEOUT_S": "10",
    }
    server = Server(data_dir=tmp_path / "data", log_path=tmp_path / "server.log", env=env).wait_ready()
    try:
        yield Api(server=server, db_name=db_name)
    finally:
        server.stop()


def _documents(url: str, db_name: str) -> dict[str, list[dict[str, Any]]]:
    """Every document of the store's collections, read over the wire by the test itself."""
    client: MongoClient[dict[str, Any]]
    with MongoClient(url, serverSelectionTimeoutMS=5000) as client:
        names = ("jobs", "executions", "results", "output")
        return {name: list(client[db_name][name].find({}, {"_id": False})) for name in names}


def _editable(job: dict[str, Any]) -> dict[str, Any]:
    keys = ("AppName", "ServiceName", "Name", "Cmd", "Privileged", "User", "Env", "SecretArgs", "Timeout")
    return {k: job[k] for k in keys}


def test_the_api_on_mongodb_over_the_wire(api: Api, mongo_lab: Lab, mongo_url: str) -> None:
    mask = "*" * len(SECRET)
    body = {"AppName": "mw", "ServiceName": SERVICE, "Name": "nightly", "Cmd": "true", "SecretArgs": [SECRET]}

    # create, list, get
    job = api.ok("POST", "/api/jobs", body)
    job_id = job["JobId"]
    assert job["SecretArgs"] == [mask]
    assert [j["JobId"] for j in api.ok("GET", "/api/jobs?AppName=mw")] == [job_id]
    assert api.ok("GET", f"/api/jobs/{job_id}") == job
    stored = _documents(mongo_url, api.db_name)["jobs"]
    assert [d["job_id"] for d in stored] == [job_id] and SECRET not in repr(stored)

    # edit keeping the secret by its mask; a second job of the same name is refused
    edited = api.ok(
        "PUT", f"/api/jobs/{job_id}", {**_editable(job), "Name": "nightly-2", "Cmd": CMD, "Env": ["GREETING=hej"]}
    )
    assert (edited["Name"], edited["SecretArgs"], edited["Cmd"]) == ("nightly-2", [mask], CMD)
    status, refused = api.call("POST", "/api/jobs", {**body, "Name": "nightly-2"})
    assert (status, refused["id"], refused["message"]) == (400, "jobs_name_duplicated_error", "nightly-2")
    assert [j["JobId"] for j in api.ok("GET", "/api/jobs")] == [job_id]

    # start on the real engine, inspect the finished results, download the log
    targets = [{"ContainerId": t["ContainerId"], "NodeId": t["NodeId"]} for t in mongo_lab.tasks(SERVICE)]
    assert len(targets) == 2
    executor_id = api.ok("POST", f"/api/jobs/{job_id}/start", {"Target": targets})["Executors"][-1]
    finished = api.wait_final(job_id, executor_id)
    expected_output = f"got {SECRET.upper()}\nenv hej\n"
    assert [r["ContainerId"] for r in finished["Result"]] == [t["ContainerId"] for t in targets]
    for result in finished["Result"]:
        assert (result["Status"], result["ExitCode"], result["Output"]) == ("FINISHED", 0, expected_output), result
    log = api.ok("GET", f"/api/jobs/{job_id}/log/{executor_id}")
    assert log.count(expected_output) == 2 and all(t["ContainerId"] in log for t in targets)
    one = f"/api/jobs/{job_id}/log/{executor_id}?ContainerId={targets[1]['ContainerId']}"
    assert api.ok("GET", one) == expected_output

    # a restart of the server keeps everything
    job_before = api.ok("GET", f"/api/jobs/{job_id}")
    assert job_before["Executors"] == [executor_id]
    api.server.stop()
    api.server.restart()
    assert api.ok("GET", f"/api/jobs/{job_id}") == job_before
    assert api.ok("GET", f"/api/jobs/{job_id}/inspect/{executor_id}") == finished
    assert api.ok("GET", f"/api/jobs/{job_id}/log/{executor_id}") == log

    # delete removes the job and all it recorded, also across a restart
    assert api.call("DELETE", f"/api/jobs/{job_id}")[0] == 202
    assert api.call("GET", f"/api/jobs/{job_id}") == (404, {"message": job_id, "id": "job_id_not_found"})
    assert api.call("GET", f"/api/jobs/{job_id}/inspect/{executor_id}")[0] == 404
    assert _documents(mongo_url, api.db_name) == {"jobs": [], "executions": [], "results": [], "output": []}
    api.server.stop()
    api.server.restart()
    assert api.ok("GET", "/api/jobs") == []
    assert not list((api.server.log_path.parent / "data").glob("*.db")), "the server used SQLite, not MongoDB"


def test_two_servers_on_one_mongodb_fire_each_due_time_once(
    api: Api, mongo_lab: Lab, mongo_url: str, tmp_path: Path
) -> None:
    env = {
        "DCE_JOBS_MONGO_URL": mongo_url,
        "DCE_JOBS_MONGO_DB": api.db_name,
        "DCE_JOBS_DOCKER_HOST": mongo_lab.manager.unix_url,
        "DCE_JOBS_SCHEDULER_TICK_S": "0.2",
        "DCE_JOBS_LEASE_RENEW_S": "1",
        "DCE_JOBS_LEASE_EXPIRY_S": "3",
    }
    other = Api(Server(data_dir=tmp_path / "other", log_path=tmp_path / "other.log", env=env).wait_ready(), api.db_name)
    try:
        body = {"AppName": "mw", "ServiceName": SERVICE, "Name": "twice", "Cmd": "echo once"}
        job_id = api.ok("POST", "/api/jobs", body)["JobId"]
        url = f"/api/jobs/{job_id}/schedules"
        due = time.time() + 4
        created = [api.ok("POST", url, {"RunAt": due + i * 0.5, "ConcurrencyPolicy": "Allow"}) for i in range(4)]
        deadline = time.monotonic() + 60
        while not all(s["LastFire"] and s["LastFire"]["Outcome"] != "pending" for s in other.ok("GET", url)):
            assert time.monotonic() < deadline, other.ok("GET", url)
            time.sleep(0.2)
        time.sleep(1.5)  # both servers keep ticking over the same due times meanwhile
        executors = other.ok("GET", f"/api/jobs/{job_id}")["Executors"]
        assert len(executors) == len(created)
        fired = sorted(api.wait_final(job_id, e)["ScheduleId"] for e in executors)
        assert fired == sorted(s["ScheduleId"] for s in created)
        assert {s["LastFire"]["Outcome"] for s in api.ok("GET", url)} == {"fired"}
    finally:
        other.server.stop()
