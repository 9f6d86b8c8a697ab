"""Cross-site starts and text that is not Unicode, against a real tokenless `dce-jobs serve` on a real engine."""

from __future__ import annotations

import asyncio
import http.client
import json
import secrets
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from dce_jobs.models import Job
from dce_jobs.store.sqlite import SqliteStore
from tests.integration.lab import Lab
from tests.server import Server

from .conftest import SERVICE, container_has, targets

pytestmark = [pytest.mark.security, pytest.mark.engine]


@pytest.fixture
def open_server(sec_lab: Lab, tmp_path: Path) -> Iterator[Server]:
    """The default deployment: no token, loopback only, its engine the lab's manager."""
    env = {"DCE_JOBS_DOCKER_HOST": sec_lab.manager.unix_url, "DCE_JOBS_DOCKER_TIMEOUT_S": "10"}
    server = Server(data_dir=tmp_path / "data", log_path=tmp_path / "server.log", env=env).wait_ready()
    try:
        yield server
    finally:
        server.stop()


def send(server: Server, method: str, path: str, body: bytes, headers: dict[str, str]) -> tuple[int, dict[str, str]]:
    """A raw request with exactly these headers (http.client adds Host and Content-Length only)."""
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    try:
        skip_host = "Host" in headers
        connection.putrequest(method, path, skip_host=skip_host, skip_accept_encoding=True)
        for name, value in {**headers, "Content-Length": str(len(body))}.items():
            connection.putheader(name, value)
        connection.endheaders(body)
        response = connection.getresponse()
        answer = response.read()
        return response.status, json.loads(answer) if answer else {}
    finally:
        connection.close()


def test_a_cross_site_page_cannot_start_create_or_list_jobs(open_server: Server, sec_lab: Lab) -> None:
    marker = f"/tmp/xsite-{secrets.token_hex(6)}"
    job = open_server.json(
        "POST", "/api/jobs", {"AppName": "sec", "ServiceName": SERVICE, "Name": "xsite", "Cmd": f"touch {marker}"}
    )
    start = f"/api/jobs/{job['JobId']}/start"
    browser = {"Origin": "https://evil.example", "Sec-Fetch-Site": "cross-site"}
    attempts = [
        ({"Content-Type": "text/plain"}, b""),  # <form enctype=text/plain> or a no-cors fetch with a string body
        ({"Content-Type": "application/x-www-form-urlencoded"}, b""),
        ({"Content-Type": "text/plain", **browser}, b""),
        ({}, b""),  # a no-cors fetch without a body
        ({"Content-Type": "application/json", **browser}, b"{}"),  # a preflight would stop it; refused anyway
        ({"Content-Type": "application/json", "Host": "rebound.evil.example"}, b"{}"),  # DNS rebinding
    ]
    for headers, body in attempts:
        status, answer = send(open_server, "POST", start, body, headers)
        assert status in {400, 403} and answer["id"] in {
            "invalid_content_type",
            "cross_site_request",
            "host_not_allowed",
        }, (headers, status, answer)
    rebound = {"Host": "rebound.evil.example"}
    assert send(open_server, "GET", "/api/jobs", b"", rebound)[0] == 400
    job_body = json.dumps({"AppName": "x", "ServiceName": SERVICE, "Name": "x", "Cmd": "true"}).encode()
    assert send(open_server, "POST", "/api/jobs", job_body, {"Content-Type": "application/json", **rebound})[0] == 400
    assert open_server.json("GET", f"/api/jobs/{job['JobId']}")["Executors"] == []
    assert len(open_server.json("GET", "/api/jobs")) == 1
    own = targets(sec_lab, SERVICE)[:1]
    assert not container_has(sec_lab, own[0]["ContainerId"], marker)

    # the same start, sent as the panel sends it, runs (so the checks above could see a run)
    executor_id = open_server.json("POST", start, {"Target": own})["Executors"][-1]
    inspect = f"/api/jobs/{job['JobId']}/inspect/{executor_id}"
    final = {"FINISHED", "CREATE_FAILED", "RUNNING_FAILED"}
    for _ in range(300):
        results = open_server.json("GET", inspect)["Result"]
        if all(r["Status"] in final for r in results):
            break
        time.sleep(0.2)
    assert [r["ExitCode"] for r in results] == [0]
    assert container_has(sec_lab, own[0]["ContainerId"], marker)


def test_a_lone_surrogate_is_refused_and_an_old_stored_one_neither_breaks_the_list_nor_runs(
    open_server: Server, sec_lab: Lab, tmp_path: Path
) -> None:
    marker = f"/tmp/surrogate-{secrets.token_hex(6)}"
    raw = '{"AppName": "sec", "ServiceName": "' + SERVICE + '", "Name": "u", "Cmd": "touch ' + marker + ' \\ud800"}'
    status, body, _ = open_server.request("POST", "/api/jobs", raw=raw.encode())
    assert status == 400 and json.loads(body)["message"].startswith("Cmd:")
    assert open_server.json("GET", "/api/jobs") == []

    old = Job(job_id="old-version-job", app_name="sec", service_name=SERVICE, name="old", cmd=f"touch {marker} \ud800")
    asyncio.run(_store_directly(tmp_path / "data", old))
    listed = open_server.json("GET", "/api/jobs")
    assert [j["Cmd"] for j in listed] == [f"touch {marker} \ufffd"]
    own = targets(sec_lab, SERVICE)[:1]
    status, body, _ = open_server.request("POST", f"/api/jobs/{old.job_id}/start", body={"Target": own})
    assert status == 400 and json.loads(body)["id"] == "invalid_job"
    assert open_server.json("GET", f"/api/jobs/{old.job_id}")["Executors"] == []
    assert not container_has(sec_lab, own[0]["ContainerId"], marker)
    assert "Traceback" not in open_server.log_text()


async def _store_directly(data_dir: Path, job: Job) -> None:
    """Write a job into the running server's SQLite file, as an older version could have stored it."""
    store = SqliteStore(data_dir / "dce-jobs.sqlite3")
    await store.open()
    try:
        await store.create_job(job)
    finally:
        await store.close()
