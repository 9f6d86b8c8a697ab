"""Cross-site writes, DNS rebinding (Host) and the security headers, on every route."""

from __future__ import annotations

import re
from typing import Any

import pytest

from dce_jobs import keys
from dce_jobs.api.openapi import OPERATIONS
from dce_jobs.models import ContainerResult, Execution, Status, Target
from dce_jobs.schedule import Schedule

from .conftest import job_body

EXECUTOR = "1496287694.460088"
CONTAINER = "c" * 64
NODE = "guv4tovwx67oa4j9evjrcgg5v"
SCHEDULE = "5c4ed01e-0000-4000-8000-000000000001"
#: what a cross-site form or no-cors fetch can send: the three simple content types, or none
SIMPLE_TYPES = ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x", None]
WRITES = [(method, path) for method, path in OPERATIONS if method != "GET"]


async def seeded(client: Any) -> tuple[dict[str, Any], str]:
    """A job with one finished execution; returns (job, state) where state is a snapshot of everything."""
    response = await client.post("/api/jobs", json=job_body())
    job = await response.json()
    store = client.app[keys.STORE]
    execution = Execution(
        job_id=job["JobId"],
        executor_id=EXECUTOR,
        created_at=float(EXECUTOR),
        targets=(Target(container_id=CONTAINER, node_id=NODE),),
    )
    result = ContainerResult(
        job_id=job["JobId"],
        executor_id=EXECUTOR,
        index=0,
        container_id=CONTAINER,
        node_id=NODE,
        status=Status.FINISHED,
        exec_id="e" * 64,
        exit_code=1,
    )
    await store.create_execution(execution, [result])
    await store.create_schedule(Schedule(schedule_id=SCHEDULE, job_id=job["JobId"], cron="0 3 * * *", enabled=False))
    return job, await snapshot(client, job)


async def snapshot(client: Any, job: dict[str, Any]) -> str:
    jobs = await (await client.get("/api/jobs")).text()
    schedules = await (await client.get(f"/api/jobs/{job['JobId']}/schedules")).text()
    return jobs + schedules + await (await client.get(f"/api/jobs/{job['JobId']}/inspect/{EXECUTOR}")).text()


def concrete(path: str, job_id: str) -> str:
    ids = {"job_id": job_id, "executor_id": EXECUTOR, "service_name": "web", "schedule_id": SCHEDULE}
    return re.sub(r"{(\w+)}", lambda m: ids[m.group(1)], path)


@pytest.mark.parametrize("content_type", SIMPLE_TYPES, ids=lambda t: str(t).split(";")[0])
@pytest.mark.parametrize(("method", "path"), WRITES, ids=[f"{m} {p}" for m, p in WRITES])
async def test_every_write_refuses_what_a_cross_site_form_can_send(
    client: Any, method: str, path: str, content_type: str | None
) -> None:
    job, before = await seeded(client)
    if method == "DELETE" and content_type is None:
        pytest.skip("DELETE needs no Content-Type: no browser sends it cross-site without a CORS preflight")
    headers = {"Content-Type": content_type} if content_type else {}
    skip = [] if content_type else ["Content-Type"]
    for body in (b"", b"{}"):
        response = await client.request(
            method, concrete(path, job["JobId"]), data=body, headers=headers, skip_auto_headers=skip
        )
        assert response.status == 400, (method, path, content_type, await response.text())
        assert (await response.json())["id"] == "invalid_content_type"
    assert await snapshot(client, job) == before


async def test_empty_writes_with_the_json_content_type_work(client: Any) -> None:
    job, _ = await seeded(client)
    headers = {"Content-Type": "application/json"}
    stop = await client.post(f"/api/jobs/{job['JobId']}/executors/{EXECUTOR}/stop", headers=headers)
    assert stop.status == 200 and (await stop.json())["ExecutorId"] == EXECUTOR
    stop = await client.post(f"/api/jobs/{job['JobId']}/executors/{EXECUTOR}/stop", json={})
    assert stop.status == 200
    bad = await client.post(f"/api/jobs/{job['JobId']}/executors/{EXECUTOR}/stop", json={"Now": True})
    assert bad.status == 400 and (await bad.json())["message"].startswith("Now:")
    # curl -X DELETE sends no Content-Type: accepted
    deleted = await client.delete(f"/api/jobs/{job['JobId']}", skip_auto_headers=["Content-Type"])
    assert deleted.status == 202


@pytest.mark.parametrize(
    "headers",
    [
        {"Sec-Fetch-Site": "cross-site"},
        {"Sec-Fetch-Site": "same-site"},
        {"Origin": "https://evil.example"},
        {"Origin": "null"},
        {"Origin": "http://127.0.0.1:1"},
        {"Sec-Fetch-Site": "cross-site", "Origin": "http://127.0.0.1"},
    ],
)
async def test_cross_site_browser_writes_are_403_even_with_json(client: Any, headers: dict[str, str]) -> None:
    job, before = await seeded(client)
    for method, path in WRITES:
        response = await client.request(method, concrete(path, job["JobId"]), json={}, headers=headers)
        assert response.status == 403, (method, path, headers)
        assert (await response.json())["id"] == "cross_site_request"
    response = await client.post("/api/jobs", json=job_body(Name="other"), headers=headers)
    assert response.status == 403
    assert await snapshot(client, job) == before
    assert (await client.get("/api/jobs", headers=headers)).status == 200  # reads are not writes


async def test_same_origin_browser_writes_pass(client: Any) -> None:
    origin = f"http://127.0.0.1:{client.port}"
    for headers in ({"Sec-Fetch-Site": "same-origin"}, {"Origin": origin}, {"Sec-Fetch-Site": "none"}):
        response = await client.post("/api/jobs", json=job_body(Name=str(headers)), headers=headers)
        assert response.status == 200, headers


@pytest.mark.parametrize("host", ["evil.example", "evil.example:8080", "127.0.0.1.evil.example", "localhost.evil"])
async def test_without_a_token_only_loopback_host_names_are_served(client: Any, host: str) -> None:
    await client.post("/api/jobs", json=job_body())
    for method, path, body in (
        ("GET", "/api/jobs", None),
        ("POST", "/api/jobs", job_body(Name="rebound")),
        ("GET", "/", None),
    ):
        response = await client.request(method, path, json=body, headers={"Host": host})
        assert response.status == 400, (method, path)
        assert (await response.json())["id"] == "host_not_allowed"
    assert len(await (await client.get("/api/jobs")).json()) == 1


@pytest.mark.parametrize(
    "host", ["localhost", "localhost:8080", "127.0.0.1:1", "[::1]:8080", "LOCALHOST", "localhost."]
)
async def test_loopback_host_names_with_any_port_are_served(client: Any, host: str) -> None:
    assert (await client.get("/api/jobs", headers={"Host": host})).status == 200


async def test_allowed_hosts_and_a_token_open_other_host_names(make_client: Any) -> None:
    listed = await make_client({"DCE_JOBS_ALLOWED_HOSTS": "jobs.example.com, 10.0.0.5"})
    for host in ("jobs.example.com", "JOBS.example.com:443", "10.0.0.5:8080"):
        assert (await listed.get("/api/jobs", headers={"Host": host})).status == 200, host
    assert (await listed.get("/api/jobs", headers={"Host": "other.example.com"})).status == 400
    tokened = await make_client({"DCE_JOBS_API_TOKEN": "tok"})
    response = await tokened.get("/api/jobs", headers={"Host": "any.example", "Authorization": "Bearer tok"})
    assert response.status == 200


async def test_a_client_request_id_is_echoed_only_when_it_is_a_plain_token(client: Any) -> None:
    response = await client.get("/api/jobs", headers={"X-Request-Id": "abc-123.x"})
    assert response.headers["X-Request-Id"] == "abc-123.x"
    response = await client.get("/api/jobs", headers={"X-Request-Id": "evil\tline"})
    assert response.headers["X-Request-Id"] != "evil\tline" and re.fullmatch(
        r"[0-9a-f]{16}", response.headers["X-Request-Id"]
    )


async def test_security_headers_on_the_panel_static_files_api_downloads_and_errors(client: Any) -> None:
    job, _ = await seeded(client)
    for path in (
        "/",
        "/static/app.js",
        "/api/jobs",
        f"/api/jobs/{job['JobId']}/log/{EXECUTOR}",
        "/api/jobs/nope",
        "/static/nope.js",
    ):
        response = await client.get(path)
        csp = response.headers.get("Content-Security-Policy", "")
        assert "frame-ancestors 'self'" in csp and "script-src 'self'" in csp, path
        assert "unsafe-inline" not in csp and "unsafe-eval" not in csp
        assert response.headers.get("X-Content-Type-Options") == "nosniff", path
        assert response.headers.get("Referrer-Policy") == "no-referrer", path


async def test_frame_ancestors_follow_the_configuration(make_client: Any) -> None:
    client = await make_client({"DCE_JOBS_FRAME_ANCESTORS": "'self' https://dce.example.com"})
    response = await client.get("/")
    assert "frame-ancestors 'self' https://dce.example.com" in response.headers["Content-Security-Policy"]


async def test_a_newline_in_the_url_cannot_forge_a_log_line(make_client: Any, caplog: pytest.LogCaptureFixture) -> None:
    class BrokenStore:
        async def open(self) -> None: ...
        async def close(self) -> None: ...
        async def get_job(self, job_id: str) -> None:
            raise RuntimeError("boom")

    client = await make_client(store=BrokenStore())
    response = await client.get("/api/jobs/x%0AFORGED%20admin%20logged%20in")
    assert response.status == 500
    assert "boom" in caplog.text
    assert not [line for line in caplog.text.splitlines() if line.startswith("FORGED")]
