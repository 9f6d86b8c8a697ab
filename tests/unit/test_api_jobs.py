"""The job routes of seed 001, on the SQLite store."""

from __future__ import annotations

import asyncio
import logging
import uuid
from pathlib import Path
from typing import Any

import pytest

from dce_jobs import keys

from .conftest import job_body

SECRET = "s3cr3t-plaintext-value"


async def create(client: Any, **changes: Any) -> dict[str, Any]:
    response = await client.post("/api/jobs", json=job_body(**changes))
    assert response.status == 200, await response.text()
    return await response.json()


async def test_create_returns_job_with_uuid_masks_and_no_executors(client: Any) -> None:
    job = await create(client)
    assert uuid.UUID(job["JobId"])
    assert job["SecretArgs"] == ["***", "****"]
    assert job["Executors"] == []
    assert {k: job[k] for k in ("AppName", "ServiceName", "Name", "Cmd", "Privileged", "User", "Env")} == {
        k: job_body()[k] for k in ("AppName", "ServiceName", "Name", "Cmd", "Privileged", "User", "Env")
    }


async def test_get_list_and_filter_by_app(client: Any) -> None:
    a = await create(client)
    b = await create(client, AppName="other")
    assert (await (await client.get(f"/api/jobs/{a['JobId']}")).json()) == a
    everything = await (await client.get("/api/jobs")).json()
    assert [j["JobId"] for j in everything] == [a["JobId"], b["JobId"]]
    only = await (await client.get("/api/jobs", params={"AppName": "other"})).json()
    assert [j["JobId"] for j in only] == [b["JobId"]]


async def test_duplicate_name_in_one_app_is_400_but_two_apps_may_share_it(client: Any) -> None:
    await create(client)
    response = await client.post("/api/jobs", json=job_body())
    assert response.status == 400
    assert await response.json() == {"message": "上线", "id": "jobs_name_duplicated_error"}
    await create(client, AppName="another-app")


async def test_concurrent_creates_of_one_name_give_one_200_and_one_400(client: Any) -> None:
    responses = await asyncio.gather(*(client.post("/api/jobs", json=job_body()) for _ in range(2)))
    assert sorted(r.status for r in responses) == [200, 400]
    assert len(await (await client.get("/api/jobs")).json()) == 1


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"AppName": ""}, "AppName"),
        ({"Name": "   "}, "Name"),
        ({"Cmd": "echo 'unclosed"}, "Cmd"),
        ({"Cmd": "   "}, "Cmd"),
        ({"User": "root root"}, "User"),
        ({"Env": ["1BAD=x"]}, "Env.0"),
        ({"Env": ["NOEQUALS"]}, "Env.0"),
        ({"Privileged": "yes"}, "Privileged"),
        ({"Privileged": 1}, "Privileged"),
        ({"SecretArgs": "not-a-list"}, "SecretArgs"),
        ({"SecretArgs": ["x"] * 65}, "SecretArgs"),
        ({"SecretArgs": [1]}, "SecretArgs.0"),
        ({"Surprise": 1}, "Surprise"),
        ({"AppName": "a" * 129}, "AppName"),
        ({"User": "root\n"}, "User"),
        ({"ServiceName": "web\n"}, "ServiceName"),
    ],
)
async def test_invalid_fields_are_400_naming_the_field_and_change_nothing(
    client: Any, changes: dict[str, Any], field: str
) -> None:
    response = await client.post("/api/jobs", json=job_body(**changes))
    assert response.status == 400
    body = await response.json()
    assert body["id"] == "invalid_request"
    assert f"{field}:" in body["message"]
    assert await (await client.get("/api/jobs")).json() == []


async def test_missing_required_fields_are_all_named(client: Any) -> None:
    response = await client.post("/api/jobs", json={})
    body = await response.json()
    assert response.status == 400
    for field in ("AppName", "ServiceName", "Name", "Cmd"):
        assert f"{field}: Missing data" in body["message"]


@pytest.mark.parametrize(
    ("data", "content_type", "error_id"),
    [
        ("{not json", "application/json", "invalid_json"),
        ('{"AppName": "x"}', "text/plain", "invalid_content_type"),
        ("", "application/json", "invalid_json"),
        ("[1, 2]", "application/json", "invalid_request"),
        ("\xff\xfe", "application/json", "invalid_json"),
    ],
)
async def test_malformed_bodies_are_400(client: Any, data: str, content_type: str, error_id: str) -> None:
    response = await client.post("/api/jobs", data=data.encode("latin-1"), headers={"Content-Type": content_type})
    assert response.status == 400
    assert (await response.json())["id"] == error_id


async def test_unknown_job_ids_are_404_with_the_id_as_message(client: Any) -> None:
    for method, path, body in (
        ("GET", "/api/jobs/nope", None),
        ("PUT", "/api/jobs/nope", job_body()),
        ("DELETE", "/api/jobs/nope", None),
        ("POST", "/api/jobs/nope/start", None),
        ("GET", "/api/jobs/nope/inspect/1.0", None),
    ):
        response = await client.request(method, path, json=body)
        assert response.status == 404, (method, path)
        assert await response.json() == {"message": "nope", "id": "job_id_not_found"}


async def test_put_keeps_masked_secrets_replaces_others_and_drops_the_rest(client: Any) -> None:
    job = await create(client, SecretArgs=["keep-me", "replace-me", "drop-me"])
    box = client.app[keys.SECRET_BOX]
    store = client.app[keys.STORE]
    response = await client.put(f"/api/jobs/{job['JobId']}", json=job_body(Name="改名", SecretArgs=["*******", "new"]))
    assert response.status == 200
    updated = await response.json()
    assert updated["Name"] == "改名"
    assert updated["SecretArgs"] == ["*******", "***"]
    stored = await store.get_job(job["JobId"])
    assert [box.open(s) for s in stored.secret_args] == ["keep-me", "new"]


async def test_put_rename_into_existing_name_is_400_and_changes_nothing(client: Any) -> None:
    await create(client, Name="a")
    b = await create(client, Name="b")
    response = await client.put(f"/api/jobs/{b['JobId']}", json=job_body(Name="a"))
    assert response.status == 400
    assert await response.json() == {"message": "a", "id": "jobs_name_duplicated_error"}
    assert (await (await client.get(f"/api/jobs/{b['JobId']}")).json())["Name"] == "b"


async def test_put_invalid_body_changes_nothing(client: Any) -> None:
    job = await create(client)
    response = await client.put(f"/api/jobs/{job['JobId']}", json=job_body(Cmd=""))
    assert response.status == 400
    assert await (await client.get(f"/api/jobs/{job['JobId']}")).json() == job


async def test_delete_is_202_then_404(client: Any) -> None:
    job = await create(client)
    assert (await client.delete(f"/api/jobs/{job['JobId']}")).status == 202
    assert (await client.get(f"/api/jobs/{job['JobId']}")).status == 404


async def test_secret_never_in_responses_logs_or_database_files(
    client: Any, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    job = await create(client, SecretArgs=[SECRET])
    bodies = [await (await client.get(path)).text() for path in ("/api/jobs", f"/api/jobs/{job['JobId']}")]
    bodies.append(
        await (await client.put(f"/api/jobs/{job['JobId']}", json=job_body(SecretArgs=["*" * len(SECRET)]))).text()
    )
    assert all(SECRET not in b for b in bodies)
    assert SECRET not in caplog.text
    store = client.app[keys.STORE]
    assert SECRET not in repr(await store.get_job(job["JobId"]))
    for path in (tmp_path / "data").iterdir():
        assert SECRET.encode() not in path.read_bytes(), path


async def test_health_reports_store_and_version(client: Any) -> None:
    response = await client.get("/api/health")
    assert response.status == 200
    body = await response.json()
    assert body["status"] == "ok" and body["version"]


async def test_token_guards_every_api_route_but_health(make_client: Any) -> None:
    client = await make_client({"DCE_JOBS_API_TOKEN": "tok-123"})
    assert (await client.get("/api/health")).status == 200
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": "Basic tok-123"}):
        response = await client.get("/api/jobs", headers=headers)
        assert response.status == 401
        assert (await response.json())["id"] == "unauthorized"
    response = await client.post("/api/jobs", json=job_body(), headers={"Authorization": "Bearer wrong"})
    assert response.status == 401
    ok = await client.get("/api/jobs", headers={"Authorization": "Bearer tok-123"})
    assert ok.status == 200


async def test_unexpected_errors_are_500_without_details(make_client: Any, caplog: pytest.LogCaptureFixture) -> None:
    class BrokenStore:
        async def open(self) -> None: ...
        async def close(self) -> None: ...
        async def list_jobs(self, **_: Any) -> None:
            raise RuntimeError(f"boom with {SECRET}")

    client = await make_client(store=BrokenStore())
    response = await client.get("/api/jobs")
    assert response.status == 500
    body = await response.json()
    assert body["id"] == "internal_error"
    assert SECRET not in await response.text() and "Traceback" not in await response.text()
    request_id = response.headers["X-Request-Id"]
    assert request_id in body["message"]
    assert request_id in caplog.text


async def test_oversized_body_is_413_and_changes_nothing(make_client: Any) -> None:
    client = await make_client({"DCE_JOBS_MAX_BODY_BYTES": "4096"})
    response = await client.post("/api/jobs", json=job_body(Cmd="x" * 8000))
    assert response.status == 413
    assert (await response.json())["id"] == "payload_too_large"
    assert await (await client.get("/api/jobs")).json() == []


async def test_responses_keep_chinese_readable(client: Any) -> None:
    await create(client)
    assert "上线" in await (await client.get("/api/jobs")).text()


async def test_engine_errors_are_502_with_the_engines_words(make_client: Any) -> None:
    client = await make_client({"DCE_JOBS_DOCKER_HOST": "unix:///nonexistent/docker.sock"})
    response = await client.get("/api/services/web/containers")
    assert response.status == 502
    body = await response.json()
    assert body["id"] == "node_unreachable" and "manager" in body["message"]


async def test_plugin_manifest_is_served(client: Any) -> None:
    response = await client.get("/plugin.json")
    assert response.status == 200
    assert (await response.json())["Name"]
