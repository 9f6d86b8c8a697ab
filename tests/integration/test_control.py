"""Execution control on the real engine: timeouts, stop, retry, delete while running, recovery, shutdown (issue 5)."""

from __future__ import annotations

import asyncio
import sqlite3
import time
from pathlib import Path
from typing import Any

import pytest

from tests.client import create_job, inspect, start, wait_final
from tests.server import Server

from .conftest import engine, processes, server_final, targets_of, wait_status
from .lab import Lab

pytestmark = pytest.mark.engine


async def test_timeout_terminates_the_process_and_fails_the_target(client: Any, lab: Lab, local_service: str) -> None:
    job = await create_job(client, local_service, "sh -c 'echo begin; sleep 37; echo end'", Timeout=1.5)
    assert job["Timeout"] == 1.5
    target = targets_of(lab, local_service, 1)
    started = time.monotonic()
    executor_id = await start(client, job, target)
    (result,) = (await wait_final(client, job, executor_id, timeout_s=20))["Result"]
    assert time.monotonic() - started < 12
    assert result["Status"] == "RUNNING_FAILED" and result["E"] == "timed out after 1.5 s"
    assert result["EndReason"] == "timed_out" and result["StartTime"] < result["EndTime"]
    assert result["ExitCode"] in (143, 137) and result["Output"] == "begin\n"
    assert "sleep 37" not in processes(lab, target[0]["ContainerId"])


async def test_start_may_override_the_timeout(client: Any, lab: Lab, local_service: str) -> None:
    job = await create_job(client, local_service, "sh -c 'sleep 38'")
    response = await client.post(
        f"/api/jobs/{job['JobId']}/start", json={"Target": targets_of(lab, local_service, 1), "Timeout": 1}
    )
    executor_id = (await response.json())["Executors"][-1]
    (result,) = (await wait_final(client, job, executor_id, timeout_s=20))["Result"]
    assert result["E"] == "timed out after 1 s"


async def test_stop_terminates_running_and_cancels_queued_targets(
    make_client: Any, lab: Lab, local_service: str
) -> None:
    client = await make_client({"DCE_JOBS_MAX_RUNNING": "1"})
    job = await create_job(client, local_service, "sh -c 'echo begin; sleep 39'")
    targets = targets_of(lab, local_service, 2)
    executor_id = await start(client, job, targets)
    deadline = time.monotonic() + 15
    while (await inspect(client, job, executor_id))["Result"][0]["Status"] != "RUNNING":
        assert time.monotonic() < deadline
        await asyncio.sleep(0.1)
    response = await client.post(f"/api/jobs/{job['JobId']}/executors/{executor_id}/stop")
    assert response.status == 200
    running, queued = (await response.json())["Result"]
    assert (running["Status"], running["E"], running["EndReason"]) == ("RUNNING_FAILED", "stopped", "stopped")
    assert queued["Status"] == "CREATE_FAILED" and queued["E"] == "stopped before start"
    assert queued["EndReason"] == "stopped" and (await response.json())["State"] == "stopped"
    assert "sleep 39" not in processes(lab, targets[0]["ContainerId"])
    again = await client.post(f"/api/jobs/{job['JobId']}/executors/{executor_id}/stop")
    assert again.status == 200 and (await again.json())["Result"] == [running, queued]
    missing = await client.post(f"/api/jobs/{job['JobId']}/executors/1.5/stop")
    assert missing.status == 404 and (await missing.json())["id"] == "executor_id_not_found"


async def test_stop_kills_a_process_that_ignores_term(client: Any, lab: Lab, local_service: str) -> None:
    job = await create_job(client, local_service, "sh -c 'trap \"\" TERM; sleep 41'")
    target = targets_of(lab, local_service, 1)
    executor_id = await start(client, job, target)
    await wait_status(client, job, executor_id, {"RUNNING"})
    response = await client.post(f"/api/jobs/{job['JobId']}/executors/{executor_id}/stop")
    (result,) = (await response.json())["Result"]
    assert result["Status"] == "RUNNING_FAILED" and result["ExitCode"] == 137
    assert "sleep 41" not in processes(lab, target[0]["ContainerId"])


async def test_retry_runs_only_what_did_not_succeed(client: Any, lab: Lab, local_service: str) -> None:
    good, bad = targets_of(lab, local_service, 2)
    client_engine = engine(lab, 1)
    client_engine.exec_start(client_engine.exec_create(bad["ContainerId"], ["touch", "/tmp/make-it-fail"])["Id"])
    try:
        job = await create_job(client, local_service, "sh -c 'test ! -f /tmp/make-it-fail'")
        first = await start(client, job, [good, bad])
        assert [r["ExitCode"] for r in (await wait_final(client, job, first))["Result"]] == [0, 1]
        response = await client.post(f"/api/jobs/{job['JobId']}/executors/{first}/retry")
        assert response.status == 200
        second = (await response.json())["Executors"][-1]
        body = await wait_final(client, job, second)
        assert body["Target"] == [bad] and body["Result"][0]["ExitCode"] == 1
        everything = await client.post(f"/api/jobs/{job['JobId']}/executors/{first}/retry", json={"All": True})
        third = (await everything.json())["Executors"][-1]
        assert (await wait_final(client, job, third))["Target"] == [good, bad]
        client_engine.exec_start(client_engine.exec_create(bad["ContainerId"], ["rm", "/tmp/make-it-fail"])["Id"])
        fourth = (await (await client.post(f"/api/jobs/{job['JobId']}/executors/{second}/retry")).json())["Executors"][
            -1
        ]
        assert (await wait_final(client, job, fourth))["Result"][0]["ExitCode"] == 0
        nothing = await client.post(f"/api/jobs/{job['JobId']}/executors/{fourth}/retry")
        assert nothing.status == 400 and (await nothing.json())["id"] == "nothing_to_retry"
    finally:
        client_engine.exec_start(client_engine.exec_create(bad["ContainerId"], ["rm", "-f", "/tmp/make-it-fail"])["Id"])


async def test_retry_follows_the_task_slot_after_swarm_replaced_the_container(client: Any, lab: Lab) -> None:
    lab.create_service("djt-retry", 2, node=1)
    try:
        job = await create_job(client, "djt-retry", "sh -c 'exit 2'")
        targets = targets_of(lab, "djt-retry")
        first = await start(client, job, targets)
        await wait_final(client, job, first)
        old = targets[0]["ContainerId"]
        await asyncio.to_thread(engine(lab, 1).kill, old)
        deadline = time.monotonic() + 30
        while len(now := targets_of(lab, "djt-retry")) < 2 or any(t["ContainerId"] == old for t in now):
            assert time.monotonic() < deadline
            await asyncio.sleep(0.2)
        replacement = next(t for t in now if t["ContainerId"] != targets[1]["ContainerId"])
        response = await client.post(f"/api/jobs/{job['JobId']}/executors/{first}/retry")
        second = (await response.json())["Executors"][-1]
        body = await wait_final(client, job, second)
        assert body["RetryOf"] == first and body["Target"] == [replacement, targets[1]]
        moved, same = body["Result"]
        assert (moved["Status"], moved["ExitCode"], moved["PreviousContainerId"]) == ("FINISHED", 2, old)
        assert same["ContainerId"] == targets[1]["ContainerId"] and "PreviousContainerId" not in same
        pinned = await client.post(f"/api/jobs/{job['JobId']}/executors/{first}/retry", json={"FollowSlots": False})
        third = (await pinned.json())["Executors"][-1]
        gone, alive = (await wait_final(client, job, third))["Result"]
        assert gone["Status"] == "CREATE_FAILED" and "no longer a running task" in gone["E"]
        assert gone["EndReason"] == "container_gone"
        assert alive["Status"] == "FINISHED" and alive["ExitCode"] == 2
    finally:
        lab.remove_service("djt-retry")


async def test_delete_while_running_stops_and_removes_everything(
    client: Any, lab: Lab, local_service: str, tmp_path: Path
) -> None:
    job = await create_job(client, local_service, "sh -c 'echo x; sleep 42'")
    target = targets_of(lab, local_service, 1)
    executor_id = await start(client, job, target)
    await wait_status(client, job, executor_id, {"RUNNING"})
    response = await client.delete(f"/api/jobs/{job['JobId']}")
    assert response.status == 202
    assert (await client.get(f"/api/jobs/{job['JobId']}")).status == 404
    assert "sleep 42" not in processes(lab, target[0]["ContainerId"])
    db = sqlite3.connect(tmp_path / "data" / "dce-jobs.sqlite3")
    for table in ("jobs", "executions", "results", "output"):
        assert db.execute(f"SELECT COUNT(*) FROM {table} WHERE job_id = ?", (job["JobId"],)).fetchone() == (0,), table


def test_sigkill_mid_run_then_restart_reconciles_every_result(server: Server, lab: Lab, local_service: str) -> None:
    job = server.json(
        "POST",
        "/api/jobs",
        {
            "AppName": "it",
            "ServiceName": local_service,
            "Name": "crash",
            "Cmd": "sh -c 'echo begin; sleep 4; echo end'",
        },
    )
    quick = server.json(
        "POST", "/api/jobs", {"AppName": "it", "ServiceName": local_service, "Name": "quick", "Cmd": "echo quick"}
    )
    targets = targets_of(lab, local_service, 4)
    quick_id = server.json("POST", f"/api/jobs/{quick['JobId']}/start", {"Target": targets[:1]})["Executors"][-1]
    server_final(server, quick["JobId"], quick_id)
    executor_id = server.json("POST", f"/api/jobs/{job['JobId']}/start", {"Target": targets})["Executors"][-1]
    deadline = time.monotonic() + 15
    while True:
        results = server.json("GET", f"/api/jobs/{job['JobId']}/inspect/{executor_id}")["Result"]
        statuses = [r["Status"] for r in results]
        if [r.get("Output") for r in results if r["Status"] == "RUNNING"] == ["begin\n", "begin\n"]:
            break
        assert time.monotonic() < deadline, statuses
        time.sleep(0.05)
    before = [r["Status"] for r in server.json("GET", f"/api/jobs/{job['JobId']}/inspect/{executor_id}")["Result"]]
    server.kill()
    restarted = time.monotonic()
    server.restart()
    body = server_final(server, job["JobId"], executor_id)
    settle_s = time.monotonic() - restarted
    statuses = [r["Status"] for r in body["Result"]]
    print(f"\nkill -9 recovery: in flight {before} -> {statuses}; none left non-final after {settle_s:.1f} s")
    for was, result in zip(before, body["Result"], strict=True):
        if was == "RUNNING":
            # Docker ends an attached exec when its client (the killed server) disconnects
            assert result["Status"] == "RUNNING_FAILED" and result["ExitCode"] == 126, result
            assert "ended the exec with its connection" in result["E"] and result["Output"].startswith("begin\n")
            assert result["EndReason"] == "interrupted"
        else:
            assert result["Status"] == "CREATE_FAILED", result
            assert result["E"] == "the service restarted before this target started"
            assert result["EndReason"] == "interrupted"
    assert server.json("GET", f"/api/jobs/{quick['JobId']}/inspect/{quick_id}")["Result"][0]["Output"] == "quick\n"
    assert {j["Name"] for j in server.json("GET", "/api/jobs")} == {"crash", "quick"}


def test_sigterm_past_the_grace_stops_and_records_what_is_left(server: Server, lab: Lab, local_service: str) -> None:
    job = server.json(
        "POST",
        "/api/jobs",
        {"AppName": "it", "ServiceName": local_service, "Name": "term", "Cmd": "sh -c 'sleep 30; echo end'"},
    )
    targets = targets_of(lab, local_service, 1)
    executor_id = server.json("POST", f"/api/jobs/{job['JobId']}/start", {"Target": targets})["Executors"][-1]
    time.sleep(0.5)
    took_s = server.terminate()
    assert took_s < 15
    assert "still running at shutdown after 1 s: stopping them" in server.log_text()
    assert "sleep 30" not in processes(lab, targets[0]["ContainerId"])
    server.restart()
    (result,) = server.json("GET", f"/api/jobs/{job['JobId']}/inspect/{executor_id}")["Result"]
    assert result["Status"] == "RUNNING_FAILED" and result["ExitCode"] == 143
    assert result["E"] == "the service shut down after waiting 1 s for this target"
    assert result["EndReason"] == "service_shutdown"


def test_sigterm_grace_lets_a_run_finish(lab: Lab, local_service: str, tmp_path: Path) -> None:
    server = Server(
        data_dir=tmp_path / "data",
        log_path=tmp_path / "server.log",
        env={"DCE_JOBS_DOCKER_HOST": lab.manager.unix_url, "DCE_JOBS_SHUTDOWN_GRACE_S": "15"},
    )
    server.wait_ready()
    try:
        job = server.json(
            "POST",
            "/api/jobs",
            {"AppName": "it", "ServiceName": local_service, "Name": "grace", "Cmd": "sh -c 'sleep 2; echo end'"},
        )
        executor_id = server.json(
            "POST", f"/api/jobs/{job['JobId']}/start", {"Target": targets_of(lab, local_service, 1)}
        )["Executors"][-1]
        time.sleep(0.5)
        server.terminate()
        server.restart()
        (result,) = server.json("GET", f"/api/jobs/{job['JobId']}/inspect/{executor_id}")["Result"]
        assert (result["Status"], result["Output"], result["E"]) == ("FINISHED", "end\n", "")
    finally:
        server.stop()


async def test_a_job_without_timeout_gets_the_servers_default(make_client: Any, lab: Lab, local_service: str) -> None:
    client = await make_client({"DCE_JOBS_DEFAULT_TIMEOUT_S": "1"})
    job = await create_job(client, local_service, "sleep 43")
    assert job["Timeout"] is None
    executor_id = await start(client, job, targets_of(lab, local_service, 1))
    body = await wait_final(client, job, executor_id, timeout_s=20)
    assert body["Timeout"] == 1 and body["Result"][0]["E"] == "timed out after 1 s"
