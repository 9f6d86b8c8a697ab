"""Runs at cluster scale on the real engine: no head-of-line blocking, rolling runs, pause/resume, summaries."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from typing import Any

import pytest

from tests.client import FINAL, create_job, inspect, start, wait_final

from .conftest import engine, targets_of
from .lab import Lab

pytestmark = pytest.mark.engine

FAIL_FLAG = "/tmp/dce-jobs-rolling-fail"


@pytest.fixture(scope="module")
def rolling_service(lab: Lab) -> Iterator[str]:
    """Four replicas on the manager, one of which (slot 2) is made to fail by a flag file."""
    lab.create_service("djt-rolling", 4, node=1)
    yield "djt-rolling"
    lab.remove_service("djt-rolling")


def flag(lab: Lab, container_id: str, *, present: bool) -> None:
    """Create or remove the flag file that makes the rolling job fail in one container."""
    client = engine(lab, 1)
    cmd = ["touch", FAIL_FLAG] if present else ["rm", "-f", FAIL_FLAG]
    client.exec_start(client.exec_create(container_id, cmd)["Id"])


async def start_with(client: Any, job: dict[str, Any], **body: Any) -> str:
    response = await client.post(f"/api/jobs/{job['JobId']}/start", json=body)
    assert response.status == 200, await response.text()
    return (await response.json())["Executors"][-1]  # type: ignore[no-any-return]


async def watch_until(client: Any, job: dict[str, Any], executor_id: str, done: Any) -> tuple[dict[str, Any], int]:
    """Poll inspect until done(body); return the body and the most targets seen CREATED or RUNNING at once."""
    most = 0
    deadline = time.monotonic() + 60
    while True:
        body = await inspect(client, job, executor_id)
        most = max(most, sum(r["Status"] in ("CREATED", "RUNNING") for r in body["Result"]))
        if done(body):
            return body, most
        assert time.monotonic() < deadline, body
        await asyncio.sleep(0.05)


def ended(body: dict[str, Any]) -> bool:
    return all(r["Status"] in FINAL for r in body["Result"])


async def test_a_quick_job_is_not_blocked_by_a_long_one_on_the_same_node(
    make_client: Any, lab: Lab, local_service: str
) -> None:
    client = await make_client({"DCE_JOBS_NODE_CONCURRENCY": "1", "DCE_JOBS_GLOBAL_CONCURRENCY": "2"})
    targets = targets_of(lab, local_service)
    long_job = await create_job(client, local_service, "sh -c 'sleep 5151'")
    long_id = await start(client, long_job, targets)
    await watch_until(client, long_job, long_id, lambda b: all(r["Status"] == "RUNNING" for r in b["Result"]))
    quick = await create_job(client, local_service, "echo quick")
    body = await wait_final(client, quick, await start(client, quick, targets), timeout_s=20)
    assert [(r["Status"], r["Output"]) for r in body["Result"]] == [("FINISHED", "quick\n")] * len(targets)
    assert {r["Status"] for r in (await inspect(client, long_job, long_id))["Result"]} == {"RUNNING"}
    await client.post(f"/api/jobs/{long_job['JobId']}/executors/{long_id}/stop")


async def test_parallelism_and_delay_roll_the_targets_out(client: Any, lab: Lab, rolling_service: str) -> None:
    job = await create_job(client, rolling_service, "sh -c 'sleep 0.5; hostname'", Parallelism=2, Delay=0.3)
    executor_id = await start_with(client, job)
    body, most = await watch_until(client, job, executor_id, ended)
    assert most <= 2 and [r["Status"] for r in body["Result"]] == ["FINISHED"] * 4
    assert (body["State"], body["Parallelism"], body["Delay"]) == ("succeeded", 2, 0.3)
    starts = sorted(r["StartTime"] for r in body["Result"])
    ends = sorted(r["EndTime"] for r in body["Result"])
    assert starts[2] >= ends[0] + 0.3  # the third started the delay after the first ended
    slots = [t["ContainerId"] for t in lab.tasks(rolling_service)]
    assert [r["ContainerId"] for r in body["Result"]] == slots  # without Target: in task slot order


async def test_failure_pause_then_resume_then_stop(client: Any, lab: Lab, rolling_service: str) -> None:
    containers = [t["ContainerId"] for t in targets_of(lab, rolling_service)]
    flag(lab, containers[1], present=True)
    try:
        cmd = f"sh -c 'sleep 1; test ! -f {FAIL_FLAG}'"
        job = await create_job(client, rolling_service, cmd, Parallelism=1, FailureAction="pause")
        executor_id = await start_with(client, job)
        body, _ = await watch_until(client, job, executor_id, lambda b: b["State"] == "paused")
        assert [r["Status"] for r in body["Result"]] == ["FINISHED", "FINISHED", "STARTING", "STARTING"]
        assert body["Result"][1]["ExitCode"] == 1 and body["Counts"]["failed"] == 1
        await asyncio.sleep(0.5)
        assert (await inspect(client, job, executor_id))["Counts"]["waiting"] == 2  # paused: nothing starts
        resumed = await client.post(f"/api/jobs/{job['JobId']}/executors/{executor_id}/resume")
        assert resumed.status == 200
        await watch_until(client, job, executor_id, lambda b: b["Result"][2]["Status"] == "RUNNING")
        stopped = await (await client.post(f"/api/jobs/{job['JobId']}/executors/{executor_id}/stop")).json()
        assert stopped["State"] == "stopped"
        assert stopped["Result"][3]["Status"] == "CREATE_FAILED" and stopped["Result"][3]["EndReason"] == "stopped"
    finally:
        flag(lab, containers[1], present=False)


async def test_failure_stop_leaves_the_rest_not_started(client: Any, lab: Lab, rolling_service: str) -> None:
    containers = [t["ContainerId"] for t in targets_of(lab, rolling_service)]
    flag(lab, containers[0], present=True)
    try:
        job = await create_job(client, rolling_service, f"test ! -f {FAIL_FLAG}", Parallelism=1, FailureAction="stop")
        body, _ = await watch_until(client, job, await start_with(client, job), ended)
        assert [r["EndReason"] for r in body["Result"]] == ["exited"] + ["not_started"] * 3
        assert body["State"] == "failed" and body["Counts"]["failed"] == 4 and body["EndTime"]
        assert "failure action is stop" in body["Result"][1]["E"]
    finally:
        flag(lab, containers[0], present=False)
