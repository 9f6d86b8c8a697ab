"""Schedules and replicas on the real engine: cron and RunAt fires, two servers on one store, leases, a restart."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from dce_jobs import keys
from dce_jobs.app import create_app
from dce_jobs.config import from_env
from tests.client import create_job, until
from tests.server import Server, ServerError

from .conftest import processes, targets_of
from .lab import Lab

pytestmark = pytest.mark.engine

#: servers that tick often and renew their lease often, so that the tests wait seconds, not minutes
FAST = {
    "DCE_JOBS_SCHEDULER_TICK_S": "0.2",
    "DCE_JOBS_LEASE_RENEW_S": "1",
    "DCE_JOBS_LEASE_EXPIRY_S": "3",
    "DCE_JOBS_SHUTDOWN_GRACE_S": "1",
}


class Clock:
    """A wall clock the test moves by hand (epoch seconds)."""

    def __init__(self, now_s: float) -> None:
        self.now_s = now_s

    def __call__(self) -> float:
        return self.now_s


def final(body: dict[str, Any]) -> bool:
    return all(r["Status"] in {"FINISHED", "CREATE_FAILED", "RUNNING_FAILED"} for r in body["Result"])


async def test_a_cron_fire_and_a_run_at_fire_run_ordinary_executions_on_the_engine(
    aiohttp_client: Any, tmp_path: Path, lab: Lab, local_service: str
) -> None:
    # the injected clock stands 2 s before 12:00 Asia/Shanghai (04:00 UTC); the loop's own tick stays away
    clock = Clock(1_795_665_598.0)
    config = from_env(
        {
            "DCE_JOBS_DATA_DIR": str(tmp_path / "data"),
            "DCE_JOBS_DOCKER_HOST": lab.manager.unix_url,
            "DCE_JOBS_SCHEDULER_TICK_S": "60",
        }
    )
    client = await aiohttp_client(create_app(config, clock=clock), headers={"Content-Type": "application/json"})
    scheduler = client.app[keys.SCHEDULER]
    job = await create_job(client, local_service, "sh -c 'echo fired-$0' cron")
    url = f"/api/jobs/{job['JobId']}/schedules"
    cron = await (await client.post(url, json={"Cron": "0 12 * * *", "TimeZone": "Asia/Shanghai"})).json()
    assert cron["NextRunTime"] == 1_795_665_600.0
    await client.app[keys.RUNNER]._recovered.wait()
    assert await scheduler.tick() == []
    clock.now_s += 3
    (cron_fire,) = await scheduler.tick()
    body = await until(client, job, cron_fire.executor_id, final, timeout_s=60, poll_s=0.2)
    assert body["ScheduleId"] == cron["ScheduleId"]
    assert [(r["Status"], r["ExitCode"], r["Output"]) for r in body["Result"]] == [("FINISHED", 0, "fired-cron\n")] * 4

    targets = targets_of(lab, local_service, 2)
    once = {"RunAt": clock.now_s + 5, "ContainerIds": [t["ContainerId"][:12] for t in targets], "Timeout": 30}
    run_at = await (await client.post(url, json=once)).json()
    clock.now_s += 6
    (run_at_fire,) = await scheduler.tick()
    body = await until(client, job, run_at_fire.executor_id, final, timeout_s=60, poll_s=0.2)
    assert body["ScheduleId"] == run_at["ScheduleId"] and body["Timeout"] == 30
    assert [r["ContainerId"] for r in body["Result"]] == [t["ContainerId"] for t in targets]
    assert {r["Status"] for r in body["Result"]} == {"FINISHED"}
    shown = await (await client.get(f"{url}/{run_at['ScheduleId']}")).json()
    assert shown["LastFire"]["ExecutorId"] == run_at_fire.executor_id and shown["NextRunTime"] is None
    job_now = await (await client.get(f"/api/jobs/{job['JobId']}")).json()
    assert job_now["Executors"] == [cron_fire.executor_id, run_at_fire.executor_id]


@pytest.fixture
def two_servers(lab: Lab, tmp_path: Path) -> Iterator[tuple[Server, Server]]:
    """Two `dce-jobs serve` processes on one SQLite store (WAL), both on the lab's manager."""
    env = {"DCE_JOBS_DOCKER_HOST": lab.manager.unix_url, **FAST}
    first = Server(data_dir=tmp_path / "data", log_path=tmp_path / "first.log", env=env).wait_ready()
    second = Server(data_dir=tmp_path / "data", log_path=tmp_path / "second.log", env=env).wait_ready()
    yield first, second
    for server in (first, second):
        server.stop()


def wait_for(what: str, check: Any, *, timeout_s: float = 60) -> Any:
    deadline = time.monotonic() + timeout_s
    while not (value := check()):
        if time.monotonic() > deadline:
            raise ServerError(f"not {what} after {timeout_s:g} s")
        time.sleep(0.2)
    return value


def test_two_servers_on_one_store_fire_each_due_time_once(
    two_servers: tuple[Server, Server], lab: Lab, local_service: str
) -> None:
    first, second = two_servers
    job = first.create_job(local_service, "echo once")
    due = time.time() + 4
    url = f"/api/jobs/{job['JobId']}/schedules"
    cid = targets_of(lab, local_service, 1)[0]["ContainerId"]
    created = [
        first.json("POST", url, {"RunAt": due + i * 0.5, "ConcurrencyPolicy": "Allow", "ContainerIds": [cid]})
        for i in range(6)
    ]
    wait_for(
        "all fired",
        lambda: all(s["LastFire"] and s["LastFire"]["Outcome"] != "pending" for s in second.json("GET", url)),
    )
    time.sleep(1.5)  # both servers keep ticking over the same due times meanwhile
    fires = {s["ScheduleId"]: s["LastFire"] for s in second.json("GET", url)}
    assert {f["Outcome"] for f in fires.values()} == {"fired"}
    executors = first.json("GET", f"/api/jobs/{job['JobId']}")["Executors"]
    assert len(executors) == len(created) == 6
    by_schedule = sorted(first.inspect(job, e)["ScheduleId"] for e in executors)
    assert by_schedule == sorted(s["ScheduleId"] for s in created)
    assert sorted(f["ExecutorId"] for f in fires.values()) == sorted(executors)


def test_a_second_server_leaves_the_first_ones_runs_and_adopts_them_once_it_dies(
    lab: Lab, local_service: str, tmp_path: Path
) -> None:
    env = {"DCE_JOBS_DOCKER_HOST": lab.manager.unix_url, **FAST}
    first = Server(data_dir=tmp_path / "data", log_path=tmp_path / "first.log", env=env).wait_ready()
    second: Server | None = None
    try:
        targets = targets_of(lab, local_service, 2)
        job = first.create_job(local_service, "sleep 6")
        running = first.start(job, targets)
        wait_for("running", lambda: {r["Status"] for r in first.inspect(job, running)["Result"]} == {"RUNNING"})
        second = Server(data_dir=tmp_path / "data", log_path=tmp_path / "second.log", env=env).wait_ready()
        owner = second.inspect(job, running)["Owner"]
        assert owner and owner == first.inspect(job, running)["Owner"]
        status, body, _ = second.request("POST", f"/api/jobs/{job['JobId']}/executors/{running}/stop")
        assert status == 409 and owner in body.decode()
        first.wait_final(job, running, timeout_s=60)
        time.sleep(2.5)  # a second watcher of the same execs (1 s polls) would have written its own end by now
        ended = second.inspect(job, running)
        # the first server saw its own runs to their end: nobody took them over at the second one's start
        assert [(r["Status"], r["ExitCode"], r["E"]) for r in ended["Result"]] == [("FINISHED", 0, "")] * 2
        assert "unfinished results" not in second.log_text()

        orphan = first.start(job, targets)
        wait_for("running", lambda: {r["Status"] for r in first.inspect(job, orphan)["Result"]} == {"RUNNING"})
        first.kill()
        adopted = wait_for(
            "adopted", lambda: (body := second.inspect(job, orphan))["Owner"] != owner and body, timeout_s=30
        )
        assert adopted["Owner"]
        body = second.wait_final(job, orphan, timeout_s=60)
        assert [r["Status"] for r in body["Result"]] == ["FINISHED"] * 2
        assert {r["E"] for r in body["Result"]} == {
            "the service restarted while this target ran; output after the restart was not captured"
        }
        assert "sleep 6" not in processes(lab, targets[0]["ContainerId"])
    finally:
        first.stop()
        if second is not None:
            second.stop()


def test_a_schedule_created_before_a_restart_fires_after_it(server: Server, lab: Lab, local_service: str) -> None:
    job = server.create_job(local_service, "echo after-restart")
    url = f"/api/jobs/{job['JobId']}/schedules"
    schedule = server.json("POST", url, {"RunAt": time.time() + 3})
    server.terminate()
    time.sleep(4)  # its due time passes while no server runs: younger than DCE_JOBS_MISSED_FIRE_S (300 s)
    server.restart()

    def handled() -> Any:
        fire = server.json("GET", f"{url}/{schedule['ScheduleId']}")["LastFire"]
        return fire if fire and fire["Outcome"] != "pending" else None

    shown = wait_for("fired", handled)
    assert shown["Outcome"] == "fired", shown
    body = server.wait_final(job, shown["ExecutorId"], timeout_s=60)
    assert body["ScheduleId"] == schedule["ScheduleId"]
    assert {r["Output"] for r in body["Result"]} == {"after-restart\n"}
