"""The runner and the target lifecycle on a fake engine: slots, rolling runs, pause, stop, summaries (fast)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from dce_jobs.nodes import NodePool
from tests.client import all_final, create_job, inspect, start, until
from tests.fakes.engine import SERVICE, FakeSwarm

Maker = Callable[..., Awaitable[tuple[TestClient[Any, Any], FakeSwarm]]]


@pytest.fixture
def fake(make_client: Any) -> Maker:
    """An app whose every engine is the fake swarm."""

    async def make(env: dict[str, str] | None = None, containers: int = 4) -> tuple[TestClient[Any, Any], FakeSwarm]:
        from dce_jobs.config import from_env

        swarm = FakeSwarm(containers=containers)
        settings = {"DCE_JOBS_DOCKER_HOST": "unix:///fake.sock", **(env or {})}
        nodes = NodePool(from_env(settings), client_factory=swarm.factory)
        return await make_client(settings, nodes=nodes), swarm

    return make


async def job_of(client: TestClient[Any, Any], cmd: str, **fields: Any) -> dict[str, Any]:
    return await create_job(client, SERVICE, cmd, app="unit", **fields)


def statuses(body: dict[str, Any]) -> list[str]:
    return [r["Status"] for r in body["Result"]]


async def test_a_quick_job_is_not_blocked_by_long_running_ones(fake: Maker) -> None:
    client, swarm = await fake({"DCE_JOBS_NODE_CONCURRENCY": "1", "DCE_JOBS_GLOBAL_CONCURRENCY": "2"})
    long_job = await job_of(client, "sleep 30")
    long_id = await start(client, long_job)
    await until(client, long_job, long_id, lambda b: statuses(b) == ["RUNNING"] * 4)
    quick = await job_of(client, "echo quick")
    quick_id = await start(client, quick)
    body = await until(client, quick, quick_id, all_final)
    assert statuses(body) == ["FINISHED"] * 4 and {r["Output"] for r in body["Result"]} == {"quick\n"}
    assert statuses(await inspect(client, long_job, long_id)) == ["RUNNING"] * 4
    stopped = await client.post(f"/api/jobs/{long_job['JobId']}/executors/{long_id}/stop", json={})
    assert {r["EndReason"] for r in (await stopped.json())["Result"]} == {"stopped"}


async def test_engine_calls_in_flight_stay_within_the_node_slots(fake: Maker) -> None:
    client, swarm = await fake({"DCE_JOBS_NODE_CONCURRENCY": "2"}, containers=8)
    swarm.call_delay_s = 0.02
    job = await job_of(client, "echo hi")
    body = await until(client, job, await start(client, job), all_final)
    assert statuses(body) == ["FINISHED"] * 8
    assert swarm.max_in_flight == 2


async def test_max_running_keeps_extra_targets_waiting_in_starting(fake: Maker) -> None:
    client, swarm = await fake({"DCE_JOBS_MAX_RUNNING": "2"}, containers=6)
    job = await job_of(client, "sleep 0.2")
    executor_id = await start(client, job)
    body = await until(client, job, executor_id, lambda b: "STARTING" in statuses(b) and "RUNNING" in statuses(b))
    assert body["State"] == "running" and body["Counts"]["waiting"] >= 1
    body = await until(client, job, executor_id, all_final)
    assert statuses(body) == ["FINISHED"] * 6 and swarm.max_running == 2


async def test_parallelism_bounds_running_targets_and_delay_spaces_them(fake: Maker) -> None:
    client, swarm = await fake(containers=6)
    job = await job_of(client, "sleep 0.1", Parallelism=2, Delay=0.05)
    executor_id = await start(client, job)
    body = await until(client, job, executor_id, all_final)
    assert statuses(body) == ["FINISHED"] * 6 and swarm.max_running == 2
    assert (body["Parallelism"], body["Delay"], body["FailureAction"]) == (2, 0.05, "continue")
    starts = [e.started_at for e in swarm.started()]
    assert starts[2] - starts[0] >= 0.15  # the third began after the first ended (0.1 s) and the delay


async def test_targets_go_in_task_slot_order(fake: Maker) -> None:
    client, swarm = await fake(containers=5)
    job = await job_of(client, "echo x", Parallelism=1)
    await until(client, job, await start(client, job), all_final)
    assert [e.container_id for e in swarm.started()] == swarm.containers


async def test_failure_action_pause_waits_for_resume(fake: Maker) -> None:
    client, swarm = await fake()
    swarm.failing.add(swarm.containers[0])
    job = await job_of(client, "sleep 0.05", Parallelism=1, FailureAction="pause")
    executor_id = await start(client, job)
    body = await until(client, job, executor_id, lambda b: b["State"] == "paused")
    assert statuses(body) == ["FINISHED", "STARTING", "STARTING", "STARTING"]
    assert body["Result"][0]["ExitCode"] == 1 and body["Counts"]["failed"] == 1
    url = f"/api/jobs/{job['JobId']}/executors/{executor_id}/resume"
    resumed = await client.post(url, json={})
    assert resumed.status == 200
    body = await until(client, job, executor_id, all_final)
    assert statuses(body) == ["FINISHED"] * 4 and body["State"] == "failed" and body["EndTime"]


async def test_failure_action_stop_ends_waiting_targets_not_started(fake: Maker) -> None:
    client, swarm = await fake()
    swarm.failing.add(swarm.containers[1])
    job = await job_of(client, "sleep 0.05", Parallelism=1, FailureAction="stop")
    body = await until(client, job, await start(client, job), all_final)
    assert statuses(body) == ["FINISHED", "FINISHED", "CREATE_FAILED", "CREATE_FAILED"]
    assert [r["EndReason"] for r in body["Result"]] == ["exited", "exited", "not_started", "not_started"]
    assert body["State"] == "failed" and body["Counts"] == {
        "waiting": 0,
        "running": 0,
        "succeeded": 1,
        "failed": 3,
        "stopped": 0,
    }


async def test_max_failure_ratio_tolerates_some_failures(fake: Maker) -> None:
    client, swarm = await fake()
    swarm.failing.add(swarm.containers[0])
    job = await job_of(client, "echo ok", Parallelism=1, FailureAction="stop", MaxFailureRatio=0.25)
    body = await until(client, job, await start(client, job), all_final)
    assert statuses(body) == ["FINISHED"] * 4  # 1 of 4 failed: not more than 0.25


async def test_stop_of_a_paused_execution_ends_the_waiting_targets(fake: Maker) -> None:
    client, swarm = await fake()
    swarm.failing.add(swarm.containers[0])
    job = await job_of(client, "echo ok", Parallelism=1, FailureAction="pause")
    executor_id = await start(client, job)
    await until(client, job, executor_id, lambda b: b["State"] == "paused")
    response = await client.post(f"/api/jobs/{job['JobId']}/executors/{executor_id}/stop", json={})
    body = await response.json()
    assert statuses(body) == ["FINISHED", "CREATE_FAILED", "CREATE_FAILED", "CREATE_FAILED"]
    assert [r["EndReason"] for r in body["Result"][1:]] == ["stopped"] * 3
    assert body["State"] == "stopped" and body["Result"][1]["E"] == "stopped before start"


async def test_start_overrides_the_jobs_rolling_settings(fake: Maker) -> None:
    client, swarm = await fake()
    job = await job_of(client, "sleep 0.05", Parallelism=1)
    body = await until(client, job, await start(client, job, Parallelism=4), all_final)
    assert body["Parallelism"] == 4 and swarm.max_running == 4


async def test_end_reasons_and_times_of_each_outcome(fake: Maker) -> None:
    client, swarm = await fake(containers=1)
    cases = {"echo hi": ("FINISHED", "exited"), "fail": ("RUNNING_FAILED", "start_failed")}
    for cmd, (status, reason) in cases.items():
        job = await job_of(client, cmd)
        (result,) = (await until(client, job, await start(client, job), all_final))["Result"]
        assert (result["Status"], result["EndReason"]) == (status, reason), result
        assert result["StartTime"] <= result["EndTime"]
    job = await job_of(client, "sleep 5", Timeout=0.2)
    (result,) = (await until(client, job, await start(client, job), all_final))["Result"]
    assert (result["Status"], result["EndReason"], result["E"]) == (
        "RUNNING_FAILED",
        "timed_out",
        "timed out after 0.2 s",
    )


async def test_resume_of_an_execution_that_is_not_paused_is_a_no_op(fake: Maker) -> None:
    client, _ = await fake(containers=1)
    job = await job_of(client, "echo hi")
    executor_id = await start(client, job)
    await until(client, job, executor_id, all_final)
    response = await client.post(f"/api/jobs/{job['JobId']}/executors/{executor_id}/resume", json={})
    assert response.status == 200 and (await response.json())["State"] == "succeeded"
    assert (await client.post(f"/api/jobs/{job['JobId']}/executors/9.000000/resume", json={})).status == 404


@pytest.mark.parametrize(
    "field, value",
    [("Parallelism", -1), ("Parallelism", 1.5), ("Delay", -1), ("FailureAction", "rollback"), ("MaxFailureRatio", 2)],
)
async def test_bad_rolling_settings_are_400(fake: Maker, field: str, value: Any) -> None:
    client, _ = await fake(containers=1)
    body = {"AppName": "unit", "ServiceName": SERVICE, "Name": "bad", "Cmd": "echo", field: value}
    response = await client.post("/api/jobs", json=body)
    assert response.status == 400 and field in (await response.json())["message"]


async def test_retry_follows_the_task_slot_to_its_new_container(fake: Maker) -> None:
    client, swarm = await fake(containers=2)
    old = swarm.containers[0]
    swarm.failing.add(old)
    job = await job_of(client, "echo ok")
    first = await start(client, job)
    await until(client, job, first, all_final)
    swarm.containers[0] = "f" * 64  # Swarm replaced the task of slot 1
    response = await client.post(f"/api/jobs/{job['JobId']}/executors/{first}/retry", json={})
    second = (await response.json())["Executors"][-1]
    body = await until(client, job, second, all_final)
    (result,) = body["Result"]
    assert body["RetryOf"] == first and body["Target"] == [{"ContainerId": "f" * 64, "NodeId": result["NodeId"]}]
    assert (result["Status"], result["ExitCode"], result["Slot"]) == ("FINISHED", 0, 1)
    assert result["PreviousContainerId"] == old
    pinned = await client.post(f"/api/jobs/{job['JobId']}/executors/{first}/retry", json={"FollowSlots": False})
    third = (await pinned.json())["Executors"][-1]
    (gone,) = (await until(client, job, third, all_final))["Result"]
    assert (gone["Status"], gone["EndReason"], gone["ContainerId"]) == ("CREATE_FAILED", "container_gone", old)
    assert gone["E"] == f"container {old[:12]} is no longer a running task of {SERVICE}"


async def test_the_log_keeps_stdout_and_stderr_apart(fake: Maker) -> None:
    client, swarm = await fake(containers=1)
    job = await job_of(client, "echo out1 ; err err1 ; echo out2")
    executor_id = await start(client, job)
    await until(client, job, executor_id, all_final)
    url = f"/api/jobs/{job['JobId']}/log/{executor_id}"
    container = swarm.containers[0]
    texts = {}
    for stream in ("", "stdout", "stderr"):
        response = await client.get(url, params={"ContainerId": container, "Stream": stream})
        texts[stream] = await response.text()
    assert texts == {"": "out1\nerr1\nout2\n", "stdout": "out1\nout2\n", "stderr": "err1\n"}
    bad = await client.get(url, params={"ContainerId": container, "Stream": "both"})
    assert bad.status == 400 and "Stream" in (await bad.json())["message"]
