"""Control operations racing each other on the real engine: delete vs starts, recovered runs, crash + edit."""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.client import FINAL, create_job, inspect, start
from tests.server import Server

from .conftest import engine, processes, server_final, targets_of, wait_status
from .lab import Lab

pytestmark = pytest.mark.engine

#: how long the store and the containers are watched for anything written or run after a DELETE answered
AFTER_DELETE_WATCH_S = 3.0
TABLES = ("jobs", "executions", "results", "output")


def rows_of(data_dir: Path, job_id: str) -> dict[str, int]:
    """Rows of one job in every table of the SQLite store."""
    db = sqlite3.connect(data_dir / "dce-jobs.sqlite3")
    try:
        return {t: db.execute(f"SELECT COUNT(*) FROM {t} WHERE job_id = ?", (job_id,)).fetchone()[0] for t in TABLES}
    finally:
        db.close()


def nothing_left(lab: Lab, targets: list[dict[str, str]], data_dir: Path, job_id: str, tag: str) -> None:
    """Watch for AFTER_DELETE_WATCH_S: no row of the job appears and no process of it runs in any target."""
    deadline = time.monotonic() + AFTER_DELETE_WATCH_S
    while True:
        assert rows_of(data_dir, job_id) == dict.fromkeys(TABLES, 0)
        for target in targets:
            assert tag not in processes(lab, target["ContainerId"]), target
        if time.monotonic() > deadline:
            return
        time.sleep(0.3)


async def test_delete_with_starts_in_flight_leaves_nothing_running_or_written(
    client: Any, lab: Lab, local_service: str, tmp_path: Path
) -> None:
    job = await create_job(client, local_service, "sh -c 'echo ran; sleep 4545'")
    targets = targets_of(lab, local_service)
    url = f"/api/jobs/{job['JobId']}/start"
    starts = [asyncio.ensure_future(client.post(url, json={"Target": targets})) for _ in range(10)]
    await asyncio.sleep(0)  # the starts are sent first and are in flight (listing tasks) when the DELETE comes
    deleted = await client.delete(f"/api/jobs/{job['JobId']}")
    assert deleted.status == 202
    answered = await asyncio.gather(*starts)
    statuses = [r.status for r in answered]
    assert set(statuses) <= {200, 404}, statuses
    for response in answered:
        if response.status == 404:
            assert (await response.json())["id"] == "job_id_not_found"
    await asyncio.to_thread(nothing_left, lab, targets, tmp_path / "data", job["JobId"], "sleep 4545")


async def test_retry_of_an_execution_still_running_is_refused(client: Any, lab: Lab, local_service: str) -> None:
    job = await create_job(client, local_service, "sh -c 'sleep 4848'")
    target = targets_of(lab, local_service, 1)
    executor_id = await start(client, job, target)
    await wait_status(client, job, executor_id, {"RUNNING"})
    response = await client.post(f"/api/jobs/{job['JobId']}/executors/{executor_id}/retry", json={"All": True})
    assert response.status == 400
    assert (await response.json())["id"] == "execution_running"
    assert (await (await client.get(f"/api/jobs/{job['JobId']}")).json())["Executors"] == [executor_id]
    assert processes(lab, target[0]["ContainerId"]).count("sleep 4848") == 1
    await client.post(f"/api/jobs/{job['JobId']}/executors/{executor_id}/stop")


@pytest.fixture
def doomed_service(lab: Lab) -> Iterator[str]:
    """A one-replica service whose container a test kills."""
    lab.create_service("djt-doomed", 1, node=1)
    yield "djt-doomed"
    lab.remove_service("djt-doomed")


async def test_a_killed_container_fails_its_target_and_says_so(client: Any, lab: Lab, doomed_service: str) -> None:
    job = await create_job(client, doomed_service, "sh -c 'echo begin; sleep 4949'")
    (target,) = targets_of(lab, doomed_service)
    executor_id = await start(client, job, [target])
    deadline = time.monotonic() + 30
    while (await inspect(client, job, executor_id))["Result"][0].get("Output") != "begin\n":
        assert time.monotonic() < deadline
        await asyncio.sleep(0.1)
    await asyncio.to_thread(engine(lab, 1).kill, target["ContainerId"])
    while (result := (await inspect(client, job, executor_id))["Result"][0])["Status"] not in FINAL:
        assert time.monotonic() < deadline, result
        await asyncio.sleep(0.2)
    assert result["Status"] == "RUNNING_FAILED", result
    assert result["ExitCode"] == 137 and result["Output"] == "begin\n"
    assert result["E"] == f"container {target['ContainerId'][:12]} stopped while this target ran (exit code 137)"
    assert result["EndReason"] == "container_gone"


# -- after a real SIGKILL of the server -----------------------------------------------------------------------


def start_running(server: Server, lab: Lab, service: str, cmd: str, **fields: Any) -> tuple[dict[str, Any], str]:
    """Create a job, start it on one container and wait until it runs; return the job and the ExecutorId."""
    job = server.create_job(service, cmd, name=f"race-{time.monotonic_ns()}", **fields)
    executor_id = server.start(job, targets_of(lab, service, 1))
    deadline = time.monotonic() + 15
    while server.inspect(job, executor_id)["Result"][0]["Status"] != "RUNNING":
        assert time.monotonic() < deadline
        time.sleep(0.05)
    return job, executor_id


def crash_and_restart(server: Server) -> None:
    """SIGKILL the server and start it again on the same store."""
    server.kill()
    server.restart()


def test_stop_reaches_a_run_that_recovery_took_over(server: Server, lab: Lab, local_service: str) -> None:
    # a process that prints nothing outlives the killed server: Docker keeps it running, recovery watches it
    job, executor_id = start_running(server, lab, local_service, "sh -c 'sleep 4646'")
    container_id = server.json("GET", f"/api/jobs/{job['JobId']}/inspect/{executor_id}")["Target"][0]["ContainerId"]
    crash_and_restart(server)
    body = server.json("POST", f"/api/jobs/{job['JobId']}/executors/{executor_id}/stop")
    (result,) = body["Result"]
    assert (result["Status"], result["E"]) == ("RUNNING_FAILED", "stopped"), result
    assert result["ExitCode"] in (143, 137)
    assert "sleep 4646" not in processes(lab, container_id)


def test_delete_reaches_a_run_that_recovery_took_over(server: Server, lab: Lab, local_service: str) -> None:
    job, executor_id = start_running(server, lab, local_service, "sh -c 'sleep 4747'")
    targets = server.json("GET", f"/api/jobs/{job['JobId']}/inspect/{executor_id}")["Target"]
    crash_and_restart(server)
    server.json("DELETE", f"/api/jobs/{job['JobId']}")
    nothing_left(lab, targets, server.data_dir, job["JobId"], "sleep 4747")


def test_secrets_stay_masked_when_a_run_is_recovered_after_its_job_was_edited(
    server: Server, lab: Lab, local_service: str
) -> None:
    secrets = ["alpha-SECRET-1111", "beta-SECRET-22222"]
    fields = {"SecretArgs": secrets}
    job, executor_id = start_running(server, lab, local_service, "sh -c 'sleep 5' dce", **fields)
    edited = {k: job[k] for k in ("AppName", "ServiceName", "Name", "Cmd")} | {"SecretArgs": []}
    server.json("PUT", f"/api/jobs/{job['JobId']}", edited)  # fewer secrets than the run in flight used
    crash_and_restart(server)
    body = server_final(server, job["JobId"], executor_id)
    (result,) = body["Result"]
    assert result["Status"] == "FINISHED" and result["ExitCode"] == 0, result
    assert result["ProcessConfig"]["arguments"] == ["-c", "sleep 5", "dce", "*" * 17, "*" * 17]
    shown = server.text("GET", f"/api/jobs/{job['JobId']}/inspect/{executor_id}")
    stored = b"".join(p.read_bytes() for p in server.data_dir.glob("dce-jobs.sqlite3*"))
    for secret in secrets:
        assert secret not in shown and secret.encode() not in stored
