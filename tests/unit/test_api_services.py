"""GET /api/services, the Warnings of a saved job and GET /api/settings, on a fake swarm passed into NodePool."""

from __future__ import annotations

import logging
import threading
from typing import Any

import pytest

from tests.fakes.engine import FakeSwarm, service

from .conftest import ClientMaker, job_body


async def test_services_list_app_image_and_replicas_by_app_then_name(make_client: ClientMaker) -> None:
    swarm = FakeSwarm(
        service("shop_web", app="shop", image="nginx:1.27", running=2, desired=3),
        service("2048_2048", app="2048", running=1, desired=1),
        service("monitor", app="", desired=None, running=4),
        service("shop_db", app="shop", image="mysql:8", running=1, desired=1),
    )
    client = await make_client(swarm=swarm)
    response = await client.get("/api/services")
    assert response.status == 200
    body = await response.json()
    assert [(s["AppName"], s["ServiceName"]) for s in body] == [
        ("", "monitor"),
        ("2048", "2048_2048"),
        ("shop", "shop_db"),
        ("shop", "shop_web"),
    ]
    web = body[-1]
    assert web["Image"] == "nginx:1.27"  # the pinned digest left out
    assert web["Replicas"] == {"Running": 2, "Desired": 3}
    assert body[0]["Replicas"] == {"Running": 4, "Desired": 4}
    assert all(s["ServiceId"] for s in body)


async def test_services_of_an_unreachable_engine_are_502_with_its_words(make_client: ClientMaker) -> None:
    swarm = FakeSwarm(service("web"))
    swarm.unreachable = True
    client = await make_client(swarm=swarm)
    response = await client.get("/api/services")
    assert response.status == 502
    body = await response.json()
    assert body["id"] == "node_unreachable" and "list services" in body["message"]


async def test_a_job_for_an_existing_service_has_no_warnings(client: Any) -> None:
    response = await client.post("/api/jobs", json=job_body())
    assert response.status == 200
    assert "Warnings" not in await response.json()


async def test_a_job_for_a_missing_service_is_saved_with_a_warning(client: Any) -> None:
    response = await client.post("/api/jobs", json=job_body(ServiceName="later_web"))
    assert response.status == 200
    job = await response.json()
    [warning] = job.pop("Warnings")
    assert warning["id"] == "service_not_found" and "later_web" in warning["message"]
    # Saved as asked; the warning is about this save only, GET never carries it.
    assert await (await client.get(f"/api/jobs/{job['JobId']}")).json() == job


async def test_editing_a_job_onto_a_missing_service_warns_and_saves(client: Any) -> None:
    job = await (await client.post("/api/jobs", json=job_body())).json()
    response = await client.put(f"/api/jobs/{job['JobId']}", json=job_body(ServiceName="gone_web"))
    assert response.status == 200
    saved = await response.json()
    assert [w["id"] for w in saved["Warnings"]] == ["service_not_found"]
    assert (await (await client.get(f"/api/jobs/{job['JobId']}")).json())["ServiceName"] == "gone_web"


async def test_a_service_of_another_app_warns(client: Any) -> None:
    response = await client.post("/api/jobs", json=job_body(ServiceName="shop_web"))
    [warning] = (await response.json())["Warnings"]
    assert warning["id"] == "app_name_mismatch" and "shop" in warning["message"]


async def test_an_unreachable_engine_never_blocks_the_save(make_client: ClientMaker) -> None:
    swarm = FakeSwarm(service("2048_2048", app="2048"))
    swarm.unreachable = True
    client = await make_client(swarm=swarm)
    response = await client.post("/api/jobs", json=job_body())
    assert response.status == 200
    [warning] = (await response.json())["Warnings"]
    assert warning["id"] == "service_not_checked" and "could not check" in warning["message"]
    assert len(await (await client.get("/api/jobs")).json()) == 1


async def test_a_hung_engine_is_given_up_on_after_the_connect_timeout(make_client: ClientMaker) -> None:
    swarm = FakeSwarm(service("2048_2048", app="2048"))
    swarm.hang = threading.Event()
    client = await make_client({"DCE_JOBS_CONNECT_TIMEOUT_S": "0.2"}, swarm=swarm)
    try:
        response = await client.post("/api/jobs", json=job_body())
        assert response.status == 200
        [warning] = (await response.json())["Warnings"]
        assert warning["id"] == "service_not_checked" and "did not answer within 0.2 s" in warning["message"]
    finally:
        swarm.hang.set()


async def test_a_refused_job_is_not_checked_against_the_swarm(client: Any, swarm: FakeSwarm) -> None:
    calls = len(swarm.clients)
    response = await client.post("/api/jobs", json=job_body(Cmd=""))
    assert response.status == 400 and "Warnings" not in await response.json()
    assert len(swarm.clients) == calls


@pytest.mark.parametrize(
    ("env", "defaults"),
    [
        ({}, {"Timeout": 86400, "OutputLimitBytes": 16777216, "NodeConcurrency": 8, "GlobalConcurrency": 64}),
        (
            {
                "DCE_JOBS_DEFAULT_TIMEOUT_S": "0",
                "DCE_JOBS_OUTPUT_LIMIT_BYTES": "4096",
                "DCE_JOBS_NODE_CONCURRENCY": "2",
                "DCE_JOBS_GLOBAL_CONCURRENCY": "5",
            },
            {"Timeout": None, "OutputLimitBytes": 4096, "NodeConcurrency": 2, "GlobalConcurrency": 5},
        ),
    ],
)
async def test_settings_show_the_effective_defaults(
    make_client: ClientMaker, env: dict[str, str], defaults: dict[str, Any]
) -> None:
    client = await make_client(env)
    response = await client.get("/api/settings")
    assert response.status == 200
    assert await response.json() == {"Defaults": defaults}


async def test_settings_need_the_token_when_one_is_set(make_client: ClientMaker) -> None:
    client = await make_client({"DCE_JOBS_API_TOKEN": "tok-1"})
    assert (await client.get("/api/settings")).status == 401
    assert (await client.get("/api/settings", headers={"Authorization": "Bearer tok-1"})).status == 200


async def test_job_events_are_logged_at_info(client: Any, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="dce_jobs")
    job = await (await client.post("/api/jobs", json=job_body(Name="巡检"))).json()
    await client.put(f"/api/jobs/{job['JobId']}", json=job_body(Name="巡检2"))
    await client.delete(f"/api/jobs/{job['JobId']}")
    lines = [r.getMessage() for r in caplog.records if r.levelno == logging.INFO and r.name.startswith("dce_jobs")]
    assert any(job["JobId"] in line and "created" in line and "巡检" in line for line in lines), lines
    assert any(job["JobId"] in line and "edited" in line for line in lines), lines
    assert any(job["JobId"] in line and "deleted" in line for line in lines), lines
