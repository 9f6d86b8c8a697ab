"""GET /api/stats, GET /api/stats/executions and /metrics over the fake swarm and a seeded SQLite store."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest

from dce_jobs import keys
from dce_jobs.config import from_env
from dce_jobs.models import Execution
from dce_jobs.nodes import NodePool
from tests.client import create_job, start, wait_final
from tests.fakes.engine import SERVICE, FakeSwarm

HOUR_S = 3600.0


async def _idle(client: Any) -> dict[str, Any]:
    """/api/stats once no execution runs any more (its end is recorded by then)."""
    for _ in range(500):
        body = await (await client.get("/api/stats")).json()
        if body["RunningExecutions"] == 0:
            return body  # type: ignore[no-any-return]
        await asyncio.sleep(0.02)
    raise AssertionError("executions still running")


async def _seed(client: Any, job: dict[str, Any], plan: list[tuple[float, str | None, float]]) -> None:
    """Executions of `job` (in its AppName) created at each time, ended in `state` after the duration (None: still
    running)."""
    store = client.app[keys.STORE]
    for n, (created, state, duration) in enumerate(plan):
        execution = Execution(
            job_id=job["JobId"],
            executor_id=f"{created:.6f}{n}",
            created_at=created,
            targets=(),
            app_name=job["AppName"],
        )
        await store.create_execution(execution, [])
        if state is not None:
            await store.end_execution(execution, state=state, ended_at=created + duration)


async def test_execution_stats_count_days_hours_states_and_durations(client: Any) -> None:
    job = await create_job(client, "2048_2048", "echo hi", app="2048")
    other = await create_job(client, "shop_web", "echo hi", app="shop")
    now = time.time()
    today = now - now % 86400  # UTC midnight
    plan: list[tuple[float, str | None, float]] = []
    for n in range(300):  # 300 executions over today and the 3 days before, at 02:xx and 13:xx UTC
        day = today - (n % 4) * 86400
        plan.append((day + (2 if n % 2 else 13) * HOUR_S + n, ("succeeded", "failed", "stopped")[n % 3], float(n)))
    plan.append((today - 40 * 86400, "failed", 1.0))  # outside 30 days
    await _seed(client, job, plan)
    await _seed(client, other, [(today + 60, None, 0.0)])

    body = await (await client.get("/api/stats/executions", params={"Days": "30"})).json()

    assert body["Days"] == 30 and body["TimeZone"] == "UTC" and len(body["Daily"]) == 30
    assert body["Total"] == 301
    assert [d["Total"] for d in body["Daily"][-4:]] == [75, 75, 75, 76]
    assert body["Daily"][-1]["Running"] == 1 and body["Daily"][-1]["Total"] == 76
    assert sum(d["Succeeded"] for d in body["Daily"]) == 100
    assert body["SuccessRate"] == round(100 / 300, 4)
    assert body["Hourly"][2] == 150 and body["Hourly"][13] == 150 and body["Hourly"][0] == 1
    assert body["Durations"] == {"Count": 300, "P50": 149.0, "P90": 269.0, "P99": 296.0}

    shanghai = await (
        await client.get("/api/stats/executions", params={"Days": "7", "TimeZone": "Asia/Shanghai"})
    ).json()
    assert shanghai["Hourly"][10] == 150 and shanghai["Hourly"][21] == 150
    one_job = await (await client.get("/api/stats/executions", params={"JobId": other["JobId"]})).json()
    assert one_job["Total"] == 1 and one_job["SuccessRate"] is None and one_job["Durations"]["P50"] is None
    by_app = await (await client.get("/api/stats/executions", params={"AppName": "2048"})).json()
    assert by_app["Total"] == 300


@pytest.mark.parametrize(
    "params",
    [{"Days": "0"}, {"Days": "366"}, {"Days": "x"}, {"Days": "1.5"}, {"TimeZone": "Mars/Base"}, {"Nope": "1"}],
)
async def test_execution_stats_refuse_bad_queries(client: Any, params: dict[str, str]) -> None:
    response = await client.get("/api/stats/executions", params=params)

    assert response.status == 400
    body = await response.json()
    assert set(body) == {"message", "id"} and body["id"] == "invalid_request"


async def test_service_stats_and_metrics_after_a_run(make_client: Any) -> None:
    swarm = FakeSwarm(containers=3)
    settings = {"DCE_JOBS_DOCKER_HOST": "unix:///fake.sock"}
    client = await make_client(settings, nodes=NodePool(from_env(settings), client_factory=swarm.factory))
    job = await create_job(client, SERVICE, "echo hi", app="unit")
    executor_id = await start(client, job)
    await wait_final(client, job, executor_id)

    stats = await _idle(client)

    assert stats["RunningExecutions"] == 0 and stats["RunningExecs"] == 0
    assert stats["Nodes"] and all(n["EngineCalls"]["count"] > 0 for n in stats["Nodes"])
    assert stats["Store"]["count"] > 0 and stats["Store"]["p99_ms"] >= stats["Store"]["p50_ms"]
    assert stats["Threads"] > 1 and stats["UptimeS"] >= 0
    metrics = await client.get("/metrics")
    assert metrics.status == 200 and metrics.content_type == "text/plain"
    text = await metrics.text()
    assert "dce_jobs_executions_started_total 1.0" in text
    assert 'dce_jobs_executions_ended_total{state="succeeded"} 1.0' in text
    assert 'dce_jobs_targets_ended_total{end_reason="exited",status="FINISHED"} 3.0' in text
    assert 'dce_jobs_api_request_seconds_count{method="POST",route="/api/jobs/{job_id}/start",status="2xx"} 1.0' in text
    assert f"/api/jobs/{job['JobId']}" not in text  # route templates, never raw paths
    assert "dce_jobs_engine_call_seconds_bucket{" in text and "dce_jobs_store_call_seconds_count" in text
    assert "dce_jobs_running_executions 0.0" in text


async def test_metrics_is_get_only_and_follows_the_token(make_client: Any) -> None:
    client = await make_client({"DCE_JOBS_API_TOKEN": "s3cret"})

    assert (await client.get("/metrics")).status == 401
    assert (await client.get("/api/stats")).status == 401
    assert (await client.get("/metrics", headers={"Authorization": "Bearer s3cret"})).status == 200
    post = await client.post("/metrics", headers={"Authorization": "Bearer s3cret", "Content-Type": "application/json"})
    assert post.status == 405 and set(await post.json()) == {"message", "id"}
