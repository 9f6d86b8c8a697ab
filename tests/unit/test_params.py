"""Run-time parameters: declared on the job, given at start, substituted per argv word (fake engine, fast)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from dce_jobs.models import Param
from dce_jobs.params import expand, resolve
from tests.client import all_final, create_job, inspect, start, until
from tests.fakes.engine import SERVICE, FakeSwarm

Maker = Callable[..., Awaitable[tuple[TestClient[Any, Any], FakeSwarm]]]

PARAMS = [
    {"Name": "TARGET", "Required": True},
    {"Name": "MODE", "Default": "fast", "Pattern": "fast|slow"},
]


async def _job(client: TestClient[Any, Any], cmd: str = "echo ${MODE} to=${TARGET}", **fields: Any) -> dict[str, Any]:
    return await create_job(client, SERVICE, cmd, app="unit", Params=PARAMS, **fields)


async def _refused(client: TestClient[Any, Any], method: str, url: str, body: dict[str, Any]) -> dict[str, Any]:
    response = await client.request(method, url, json=body)
    assert response.status == 400, await response.text()
    return await response.json()  # type: ignore[no-any-return]


def test_a_value_stays_one_word_whatever_it_holds() -> None:
    values = {"V": "x; rm -rf / $(id) `id` ${OTHER} a b"}
    assert expand(["echo", "${V}", "pre-${V}-post", "${UNDECLARED}"], values) == [
        "echo",
        "x; rm -rf / $(id) `id` ${OTHER} a b",
        "pre-x; rm -rf / $(id) `id` ${OTHER} a b-post",
        "${UNDECLARED}",
    ]


def test_without_params_cmd_stays_literal_and_with_them_dollar_dollar_escapes() -> None:
    assert expand(["echo", "${HOME}", "$${HOME}"], {}) == ["echo", "${HOME}", "$${HOME}"]
    assert expand(["echo", "${V}", "$${V}", "a$${V}b"], {"V": "x"}) == ["echo", "x", "${V}", "a${V}b"]


def test_resolve_applies_defaults_required_and_patterns() -> None:
    params = [Param("A", required=True), Param("B", default="1", pattern=r"\d+"), Param("C")]
    assert resolve(params, {"A": "x"}) == {"A": "x", "B": "1", "C": ""}
    assert resolve(params, {"A": "", "B": "22"}) == {"A": "", "B": "22", "C": ""}


async def test_the_job_keeps_its_params_and_the_execution_the_values(fake_app: Maker) -> None:
    client, swarm = await fake_app(containers=1)
    job = await _job(client)
    assert job["Params"] == [
        {"Name": "TARGET", "Default": None, "Required": True, "Pattern": ""},
        {"Name": "MODE", "Default": "fast", "Required": False, "Pattern": "fast|slow"},
    ]
    executor_id = await start(client, job, Params={"TARGET": "x; rm -rf / $(id) a b"})
    body = await until(client, job, executor_id, all_final)
    assert body["Params"] == {"TARGET": "x; rm -rf / $(id) a b", "MODE": "fast"}
    assert swarm.started()[0].argv == ["echo", "fast", "to=x; rm -rf / $(id) a b"]
    assert body["Result"][0]["Output"] == "fast to=x; rm -rf / $(id) a b\n"


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({}, "Params.TARGET: required"),
        ({"TARGET": "a", "MODE": "medium"}, "Params.MODE: 'medium' does not match the pattern 'fast|slow'"),
        ({"TARGET": "a", "MODE": "fastx"}, "Params.MODE: 'fastx' does not match"),
        ({"TARGET": "a", "NOPE": "1"}, "Params.NOPE: not a parameter of this job"),
        ({"TARGET": 1}, "Params.TARGET.value: Not a valid string."),
        ({"TARGET": "a\u0000"}, "Params.TARGET.value: Must not contain NUL"),
    ],
)
async def test_bad_start_params_are_refused_naming_the_parameter(
    fake_app: Maker,
    params: dict[str, Any],
    message: str,
) -> None:
    client, swarm = await fake_app(containers=1)
    job = await _job(client)
    body = await _refused(client, "POST", f"/api/jobs/{job['JobId']}/start", {"Params": params})
    assert body["message"].startswith(message), body
    assert swarm.started() == [] and (await (await client.get(f"/api/jobs/{job['JobId']}")).json())["Executors"] == []


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"Cmd": "echo ${A} ${NOPE}", "Params": [{"Name": "A"}]}, "Cmd: ${NOPE} not declared in Params"),
        ({"Params": [{"Name": "1A"}]}, "Params.0.Name: Must match"),
        ({"Params": [{"Name": "A"}, {"Name": "A"}]}, "Params: Parameter A is declared twice."),
        ({"Params": [{"Name": "A", "Pattern": "(unclosed"}]}, "Params.0.Pattern: Not a valid Python regular"),
        ({"Params": [{"Name": "A", "Pattern": "x" * 513}]}, "Params.0.Pattern: Longer than maximum length 512."),
        ({"Params": [{"Name": "A", "Default": "b", "Pattern": "a"}]}, "Params.0.Default: Does not match"),
        ({"Params": [{"Name": "A", "Default": "a", "Required": True}]}, "Params.0.Default: A required parameter"),
        ({"Params": [{"Name": "A", "Extra": 1}]}, "Params.0.Extra: Unknown field."),
    ],
)
async def test_bad_declarations_are_refused_at_save(
    fake_app: Maker,
    changes: dict[str, Any],
    message: str,
) -> None:
    client, _ = await fake_app(containers=1)
    body = {"AppName": "unit", "ServiceName": SERVICE, "Name": "p", "Cmd": "echo ${A}", **changes}
    refused = await _refused(client, "POST", "/api/jobs", body)
    assert refused["message"].startswith(message), refused
    assert await (await client.get("/api/jobs")).json() == []


async def test_a_job_without_params_keeps_dollar_braces_literal(fake_app: Maker) -> None:
    client, swarm = await fake_app(containers=1)
    job = await create_job(client, SERVICE, "echo ${HOME} $${X}", app="unit")
    body = await until(client, job, await start(client, job), all_final)
    assert swarm.started()[0].argv == ["echo", "${HOME}", "$${X}"] and body["Params"] == {}


async def test_an_edit_checks_cmd_against_the_kept_params(fake_app: Maker) -> None:
    client, _ = await fake_app(containers=1)
    job = await _job(client)
    edit = {"AppName": "unit", "ServiceName": SERVICE, "Name": job["Name"], "Cmd": "echo ${MODE} ${OTHER}"}
    refused = await _refused(client, "PUT", f"/api/jobs/{job['JobId']}", edit)
    assert refused["message"] == "Cmd: ${OTHER} not declared in Params"
    edit["Cmd"] = "echo ${MODE}"
    response = await client.put(f"/api/jobs/{job['JobId']}", json=edit)
    assert response.status == 200 and (await response.json())["Params"] == job["Params"]


async def test_a_manual_retry_reuses_the_values(fake_app: Maker) -> None:
    client, swarm = await fake_app(containers=1)
    swarm.failing.add(swarm.containers[0])
    job = await _job(client)
    first = await start(client, job, Params={"TARGET": "t1", "MODE": "slow"})
    await until(client, job, first, all_final)
    swarm.failing.clear()
    response = await client.post(f"/api/jobs/{job['JobId']}/executors/{first}/retry", json={})
    again = (await response.json())["Executors"][-1]
    body = await until(client, job, again, all_final)
    assert body["Params"] == {"TARGET": "t1", "MODE": "slow"} and body["Result"][0]["Output"] == "slow to=t1\n"
    assert (await inspect(client, job, first))["Params"] == body["Params"]
