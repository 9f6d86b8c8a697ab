"""Hostile input at the HTTP edge: text that is not Unicode, parser limits, strict types, NUL, PUT that omits."""

from __future__ import annotations

import json
from typing import Any

import pytest

from dce_jobs import keys
from dce_jobs.errors import InvalidInput
from dce_jobs.models import Job
from dce_jobs.nodes import TaskContainer
from dce_jobs.targets import resolve_targets

from .conftest import job_body

JSON = {"Content-Type": "application/json"}
NODE = "guv4tovwx67oa4j9evjrcgg5v"
CONTAINER = "a" * 64


async def create(client: Any, **changes: Any) -> dict[str, Any]:
    response = await client.post("/api/jobs", json=job_body(**changes))
    assert response.status == 200, await response.text()
    return await response.json()


def with_surrogate(body: dict[str, Any], field: str) -> str:
    """The body as JSON text with a lone surrogate escape in `field` (json.dumps writes it as \\ud800)."""
    changed = dict(body)
    if isinstance(changed[field], list):
        changed[field] = [*changed[field][:-1], changed[field][-1] + "\ud800"] if changed[field] else ["\ud800"]
    else:
        changed[field] = changed[field] + "\ud800"
    text = json.dumps(changed)
    assert "\\ud800" in text
    return text


@pytest.mark.parametrize(
    ("field", "named"),
    [
        ("Cmd", "Cmd"),
        ("Env", "Env.1"),
        ("AppName", "AppName"),
        ("Name", "Name"),
        ("User", "User"),
        ("SecretArgs", "SecretArgs.1"),
        ("ServiceName", "ServiceName"),
    ],
)
@pytest.mark.parametrize("method", ["POST", "PUT"])
async def test_a_lone_surrogate_in_any_field_is_400_naming_it_and_stores_nothing(
    client: Any, method: str, field: str, named: str
) -> None:
    job = await create(client, Name="original")
    path = "/api/jobs" if method == "POST" else f"/api/jobs/{job['JobId']}"
    response = await client.request(method, path, data=with_surrogate(job_body(Name="evil"), field), headers=JSON)
    assert response.status == 400, await response.text()
    body = await response.json()
    assert body["id"] == "invalid_request" and body["message"].startswith(f"{named}:"), body
    listed = await client.get("/api/jobs")
    assert listed.status == 200
    assert [j["Name"] for j in await listed.json()] == ["original"]
    assert await (await client.get(f"/api/jobs/{job['JobId']}")).json() == job


async def test_a_lone_surrogate_in_a_key_or_a_start_body_is_400(client: Any) -> None:
    response = await client.post("/api/jobs", data='{"AppName": "a", "\\udfff": 1}', headers=JSON)
    assert response.status == 400
    assert (await response.json())["id"] == "invalid_request"
    job = await create(client)
    start = '{"Target": [{"ContainerId": "' + "a" * 12 + '\\ud800", "NodeId": "n"}]}'
    response = await client.post(f"/api/jobs/{job['JobId']}/start", data=start, headers=JSON)
    assert response.status == 400
    assert (await response.json())["message"].startswith("Target.0.ContainerId:")


async def seed_unicode_broken_job(client: Any) -> Job:
    """A job holding lone surrogates, written straight into the store as an older version could (in Cmd, Env)."""
    job = Job(job_id="0ld-j0b", app_name="old", service_name="web", name="broken", cmd="echo \ud800", env=("A=\udc80",))
    await client.app[keys.STORE].create_job(job)
    return job


async def test_a_stored_lone_surrogate_never_breaks_a_response(client: Any) -> None:
    await create(client)
    job = await seed_unicode_broken_job(client)
    for path in ("/api/jobs", f"/api/jobs/{job.job_id}", "/api/jobs?AppName=old"):
        response = await client.get(path)
        assert response.status == 200, path
        assert "\ufffd" in await response.text()
    listed = await (await client.get("/api/jobs")).json()
    assert [j["Cmd"] for j in listed] == ["ps axu", "echo \ufffd"]


async def test_starting_a_stored_job_with_a_lone_surrogate_is_400_and_runs_nothing(client: Any) -> None:
    job = await seed_unicode_broken_job(client)
    body = {"Target": [{"ContainerId": CONTAINER, "NodeId": NODE}]}
    for path, payload in ((f"/api/jobs/{job.job_id}/start", body), (f"/api/jobs/{job.job_id}/executors/1.5/retry", {})):
        response = await client.post(path, json=payload)
        assert response.status == 400
        answer = await response.json()
        assert answer["id"] == "invalid_job" and answer["message"].startswith("Cmd:")
    assert (await client.app[keys.STORE].get_job(job.job_id)).executors == ()
    # an edit with what the list shows (U+FFFD for each surrogate) repairs it
    shown = await (await client.get(f"/api/jobs/{job.job_id}")).json()
    fields = {k: shown[k] for k in ("AppName", "ServiceName", "Name", "Cmd", "Env")}
    response = await client.put(f"/api/jobs/{job.job_id}", json=fields)
    assert response.status == 200
    assert (await client.app[keys.STORE].get_job(job.job_id)).cmd == "echo \ufffd"


@pytest.mark.parametrize(
    ("raw", "why"),
    [
        ('{"AppName": ' + "1" * 5000 + "}", "too many digits"),
        ("[" * 100_000 + "]" * 100_000, "nested too deeply"),
        ('{"Timeout": ' + "[" * 100_000 + "]" * 100_000 + "}", "nested too deeply"),
        ('{"Timeout": NaN}', "NaN"),
        ('{"Timeout": -Infinity}', "-Infinity"),
    ],
)
async def test_parser_limits_are_400_not_500(client: Any, raw: str, why: str) -> None:
    job = await create(client)
    for method, path in (("POST", "/api/jobs"), ("PUT", f"/api/jobs/{job['JobId']}")):
        response = await client.request(method, path, data=raw, headers=JSON)
        assert response.status == 400, (method, await response.text())
        body = await response.json()
        assert body["id"] == "invalid_json" and why in body["message"]
    assert await (await client.get("/api/jobs")).json() == [job]


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"Timeout": "10"}, "Timeout"),
        ({"Timeout": True}, "Timeout"),
        ({"Timeout": [10]}, "Timeout"),
        ({"Cmd": "echo \x00 hi"}, "Cmd"),
        ({"Cmd": '""'}, "Cmd"),
        ({"Cmd": "'' -c true"}, "Cmd"),
        ({"Name": "a\x00b"}, "Name"),
        ({"AppName": "a\x00"}, "AppName"),
        ({"User": "root\x00"}, "User"),
        ({"Env": ["A=b\x00c"]}, "Env.0"),
        ({"SecretArgs": ["ok", "se\x00cret"]}, "SecretArgs.1"),
        ({"Env": ["DCE_JOBS_RUN=other/1.0/0"]}, "Env.0"),
    ],
)
async def test_strict_types_nul_and_empty_commands_are_400_naming_the_field(
    client: Any, changes: dict[str, Any], field: str
) -> None:
    job = await create(client)
    for method, path in (("POST", "/api/jobs"), ("PUT", f"/api/jobs/{job['JobId']}")):
        response = await client.request(method, path, json=job_body(**{"Name": "other", **changes}))
        assert response.status == 400, (method, changes)
        body = await response.json()
        assert body["id"] == "invalid_request" and f"{field}:" in body["message"], body
    assert await (await client.get("/api/jobs")).json() == [job]


async def test_start_timeout_must_be_a_json_number(client: Any) -> None:
    job = await create(client)
    for timeout in ("10", True, "1e3"):
        response = await client.post(f"/api/jobs/{job['JobId']}/start", json={"Timeout": timeout})
        assert response.status == 400
        assert (await response.json())["message"].startswith("Timeout:")


async def test_put_keeps_every_optional_field_it_omits(client: Any) -> None:
    job = await create(client, SecretArgs=["", "xyz"], Timeout=30, Env=["A=1"], Privileged=True, User="app")
    required = {k: job[k] for k in ("AppName", "ServiceName", "Name", "Cmd")}
    response = await client.put(f"/api/jobs/{job['JobId']}", json={**required, "Cmd": "echo changed"})
    assert response.status == 200
    edited = await response.json()
    assert edited["UpdateTime"] >= job["UpdateTime"]  # an edit moves UpdateTime; everything else is kept
    assert edited == {**job, "Cmd": "echo changed", "UpdateTime": edited["UpdateTime"]}
    box, store = client.app[keys.SECRET_BOX], client.app[keys.STORE]
    assert [box.open(s) for s in (await store.get_job(job["JobId"])).secret_args] == ["", "xyz"]


async def test_put_with_explicit_values_still_replaces_and_clears(client: Any) -> None:
    job = await create(client, SecretArgs=["", "xyz"], Timeout=30, Env=["A=1"])
    fields = {k: job[k] for k in ("AppName", "ServiceName", "Name", "Cmd")}
    response = await client.put(
        f"/api/jobs/{job['JobId']}", json={**fields, "Timeout": None, "Env": [], "SecretArgs": ["", "***", "new"]}
    )
    assert response.status == 200
    edited = await response.json()
    assert (edited["Timeout"], edited["Env"], edited["SecretArgs"]) == (None, [], ["", "***", "***"])
    box, store = client.app[keys.SECRET_BOX], client.app[keys.STORE]
    assert [box.open(s) for s in (await store.get_job(job["JobId"])).secret_args] == ["", "xyz", "new"]


async def test_a_duplicate_target_has_one_error_id_however_it_is_written(client: Any) -> None:
    job = await create(client)
    twice = [{"ContainerId": CONTAINER, "NodeId": NODE}] * 2
    response = await client.post(f"/api/jobs/{job['JobId']}/start", json={"Target": twice})
    assert response.status == 400
    from_schema = await response.json()
    task = TaskContainer(CONTAINER, NODE, "node-1", "t1", "web.1", 1, "running")
    prefixes = [Target_(CONTAINER[:12]), Target_(CONTAINER)]
    with pytest.raises(InvalidInput) as caught:
        resolve_targets("web", prefixes, [task])
    assert from_schema["id"] == caught.value.error_id == "duplicate_target"
    assert from_schema["message"] == caught.value.message == f"Target: container {CONTAINER} is listed twice"
    assert (await client.app[keys.STORE].get_job(job["JobId"])).executors == ()


def Target_(container_id: str) -> Any:  # noqa: N802 - reads as the model
    from dce_jobs.models import Target

    return Target(container_id=container_id, node_id=NODE)


async def test_invalid_utf8_in_path_and_query_parameters_is_no_500(client: Any) -> None:
    """A URL cannot carry a lone surrogate: yarl decodes bad percent-escapes to U+FFFD, so lookups just miss."""
    job = await create(client)
    for path, status in (
        ("/api/jobs?AppName=%ED%A0%80", 200),
        ("/api/jobs/%ED%A0%80", 404),
        (f"/api/jobs/{job['JobId']}/inspect/%ED%A0%80", 404),
        (f"/api/jobs/{job['JobId']}/log/%FF?ContainerId=%ED%A0%80", 404),
    ):
        response = await client.get(path)
        assert response.status == status, path
        assert set(await response.json()) <= {"message", "id"} or status == 200
