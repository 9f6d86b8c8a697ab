"""Schedules over the fake engine and a fake clock: due times, Skip/Allow, missed fires, races, validation."""

from __future__ import annotations

import asyncio
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from aiohttp.test_utils import TestClient

from dce_jobs import keys
from dce_jobs.config import from_env
from dce_jobs.nodes import NodePool
from dce_jobs.schedule import Schedule, due_between, next_due
from tests.client import all_final, create_job, inspect, until
from tests.fakes.engine import SERVICE, FakeSwarm

#: 2026-11-26 09:59:50 UTC: ten seconds before a full hour
T0 = datetime(2026, 11, 26, 9, 59, 50, tzinfo=ZoneInfo("UTC")).timestamp()


class Clock:
    """A wall clock the test moves by hand."""

    def __init__(self, now_s: float = T0) -> None:
        self.now_s = now_s

    def __call__(self) -> float:
        return self.now_s

    def advance(self, seconds: float) -> None:
        self.now_s += seconds


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def swarm() -> FakeSwarm:
    return FakeSwarm(containers=2)


@pytest.fixture
def app_of(make_client: Any, swarm: FakeSwarm, clock: Clock) -> Any:
    """Build a client of an app on the fake swarm and the fake clock (the background tick stays out of the way)."""

    async def make(env: dict[str, str] | None = None, **kwargs: Any) -> TestClient[Any, Any]:
        settings = {"DCE_JOBS_DOCKER_HOST": "unix:///fake.sock", "DCE_JOBS_SCHEDULER_TICK_S": "60", **(env or {})}
        nodes = NodePool(from_env(settings), client_factory=swarm.factory)
        return await make_client(settings, nodes=nodes, clock=clock, **kwargs)  # type: ignore[no-any-return]

    return make


async def add_schedule(client: TestClient[Any, Any], job: dict[str, Any], **body: Any) -> dict[str, Any]:
    response = await client.post(f"/api/jobs/{job['JobId']}/schedules", json=body)
    assert response.status == 200, await response.text()
    return await response.json()  # type: ignore[no-any-return]


async def schedule_of(client: TestClient[Any, Any], job: dict[str, Any], schedule_id: str) -> dict[str, Any]:
    response = await client.get(f"/api/jobs/{job['JobId']}/schedules/{schedule_id}")
    assert response.status == 200, await response.text()
    return await response.json()  # type: ignore[no-any-return]


async def executors(client: TestClient[Any, Any], job: dict[str, Any]) -> list[str]:
    return (await (await client.get(f"/api/jobs/{job['JobId']}")).json())["Executors"]  # type: ignore[no-any-return]


async def tick(client: TestClient[Any, Any]) -> list[Any]:
    await client.app[keys.RUNNER]._recovered.wait()
    return await client.app[keys.SCHEDULER].tick()


# -- due-time arithmetic (cronsim) -----------------------------------------------------------------------


def at(text: str, zone: str) -> float:
    return datetime.fromisoformat(text).replace(tzinfo=ZoneInfo(zone)).timestamp()


def test_cron_due_times_follow_the_time_zone_across_daylight_saving() -> None:
    berlin = Schedule("s", "j", cron="30 2 * * *", time_zone="Europe/Berlin")
    # 2026-03-29 has no 02:30 in Berlin (clocks jump 02:00 -> 03:00): cronsim fires at 03:00 that day
    spring = next_due(berlin, at("2026-03-29 00:00", "Europe/Berlin"))
    assert datetime.fromtimestamp(spring or 0, ZoneInfo("Europe/Berlin")).isoformat() == "2026-03-29T03:00:00+02:00"
    # 2026-10-25 has 02:30 twice: it fires once
    first = next_due(berlin, at("2026-10-25 00:00", "Europe/Berlin")) or 0
    after = next_due(berlin, first) or 0
    assert datetime.fromtimestamp(first, ZoneInfo("UTC")).isoformat() == "2026-10-25T00:30:00+00:00"
    assert after - first == 25 * 3600
    shanghai = Schedule("s", "j", cron="0 9 * * 1-5", time_zone="Asia/Shanghai")
    friday_evening = at("2026-11-27 18:00", "Asia/Shanghai")
    assert next_due(shanghai, friday_evening) == at("2026-11-30 09:00", "Asia/Shanghai")  # Monday


def test_run_at_is_due_once_and_a_long_outage_counts_its_due_times() -> None:
    once = Schedule("s", "j", run_at=T0 + 10)
    assert next_due(once, T0) == T0 + 10 and next_due(once, T0 + 10) is None
    assert due_between(once, T0, T0 + 5) == (None, 0)
    assert due_between(once, T0, T0 + 50) == (T0 + 10, 1)
    minutely = Schedule("s", "j", cron="* * * * *", time_zone="UTC")
    assert due_between(minutely, T0, T0 + 135) == (T0 + 10 + 120, 3)
    latest, count = due_between(minutely, T0, T0 + 30 * 24 * 3600)  # a month: counting stops, the latest is exact
    assert count == 1000 and latest == T0 + 10 + 30 * 24 * 3600 - 60


# -- fires through the API ----------------------------------------------------------------------------------


async def test_a_run_at_schedule_fires_one_ordinary_execution_that_records_it(app_of: Any, clock: Clock) -> None:
    client = await app_of()
    job = await create_job(client, SERVICE, "echo scheduled", app="unit")
    schedule = await add_schedule(client, job, RunAt=T0 + 30, Timeout=40)
    assert schedule["NextRunTime"] == T0 + 30 and schedule["LastFire"] is None and schedule["Enabled"] is True
    assert await tick(client) == [] and await executors(client, job) == []
    clock.advance(31)
    fired = await tick(client)
    assert [f.outcome.value for f in fired] == ["fired"]
    assert await tick(client) == []
    (executor_id,) = await executors(client, job)
    body = await until(client, job, executor_id, all_final)
    assert body["ScheduleId"] == schedule["ScheduleId"] and body["Timeout"] == 40
    assert [r["Output"] for r in body["Result"]] == ["scheduled\n"] * 2
    shown = await schedule_of(client, job, schedule["ScheduleId"])
    assert shown["NextRunTime"] is None
    assert shown["LastFire"]["Outcome"] == "fired" and shown["LastFire"]["ExecutorId"] == executor_id
    assert shown["LastFire"]["DueTime"] == T0 + 30
    retried = await client.post(f"/api/jobs/{job['JobId']}/executors/{executor_id}/retry", json={"All": True})
    assert retried.status == 200  # an ordinary execution: retryable


async def test_a_schedule_gives_its_fires_params_checked_when_it_is_saved(app_of: Any, clock: Clock) -> None:
    client = await app_of()
    params = [{"Name": "WHO", "Required": True, "Pattern": "[a-z ;$()]+"}]
    job = await create_job(client, SERVICE, "echo hello-${WHO}", app="unit", Params=params)
    refused = await client.post(f"/api/jobs/{job['JobId']}/schedules", json={"RunAt": T0 + 30, "Params": {}})
    assert refused.status == 400 and "WHO" in (await refused.json())["message"]
    refused = await client.post(
        f"/api/jobs/{job['JobId']}/schedules", json={"RunAt": T0 + 30, "Params": {"WHO": "UPPER"}}
    )
    assert refused.status == 400 and "WHO" in (await refused.json())["message"]
    assert await executors(client, job) == []
    await add_schedule(client, job, RunAt=T0 + 30, Params={"WHO": "x; $(id)"})
    clock.advance(31)
    assert [f.outcome.value for f in await tick(client)] == ["fired"]
    (executor_id,) = await executors(client, job)
    body = await until(client, job, executor_id, all_final)
    assert body["Params"] == {"WHO": "x; $(id)"}
    assert [r["Output"] for r in body["Result"]] == ["hello-x; $(id)\n"] * 2


async def test_a_cron_schedule_fires_each_due_time_on_its_fixed_targets(
    app_of: Any, clock: Clock, swarm: FakeSwarm
) -> None:
    client = await app_of()
    job = await create_job(client, SERVICE, "echo tick", app="unit")
    schedule = await add_schedule(
        client, job, Cron="0 * * * *", TimeZone="Asia/Kolkata", ContainerIds=[swarm.containers[1][:12]], Parallelism=1
    )
    # Asia/Kolkata is UTC+05:30: minute 0 there is minute 30 in UTC
    assert schedule["NextRunTime"] == T0 + 10 + 30 * 60 and schedule["TimeZone"] == "Asia/Kolkata"
    clock.advance(10 + 30 * 60)
    assert len(await tick(client)) == 1
    await until(client, job, (await executors(client, job))[0], all_final)  # Skip (the default) would skip
    clock.advance(3600)
    assert len(await tick(client)) == 1
    found = await executors(client, job)
    assert len(found) == 2
    for executor_id in found:
        body = await until(client, job, executor_id, all_final)
        assert [r["ContainerId"] for r in body["Result"]] == [swarm.containers[1]] and body["Parallelism"] == 1
    assert (await schedule_of(client, job, schedule["ScheduleId"]))["NextRunTime"] == T0 + 10 + 30 * 60 + 7200


async def test_skip_records_a_skipped_fire_while_the_previous_run_goes_and_allow_starts_another(
    app_of: Any, clock: Clock
) -> None:
    client = await app_of()
    job = await create_job(client, SERVICE, "sleep 30", app="unit")
    skip = await add_schedule(client, job, Cron="* * * * *")
    assert skip["ConcurrencyPolicy"] == "Skip"
    clock.advance(10)
    assert [f.outcome.value for f in await tick(client)] == ["fired"]
    (first,) = await executors(client, job)
    await until(client, job, first, lambda b: b["Counts"]["running"] == 2)
    clock.advance(60)
    (skipped,) = await tick(client)
    assert skipped.outcome.value == "skipped" and first in skipped.reason
    assert (await schedule_of(client, job, skip["ScheduleId"]))["LastFire"]["Outcome"] == "skipped"
    edited = await client.put(
        f"/api/jobs/{job['JobId']}/schedules/{skip['ScheduleId']}", json={"ConcurrencyPolicy": "Allow"}
    )
    assert (await edited.json())["ConcurrencyPolicy"] == "Allow" and (await edited.json())["Cron"] == "* * * * *"
    clock.advance(60)
    assert [f.outcome.value for f in await tick(client)] == ["fired"]
    assert len(await executors(client, job)) == 2
    for executor_id in await executors(client, job):
        await client.post(f"/api/jobs/{job['JobId']}/executors/{executor_id}/stop", json={})


async def test_a_missed_fire_runs_once_when_young_and_is_recorded_once_when_old(
    app_of: Any, clock: Clock, tmp_path: Path
) -> None:
    client = await app_of({"DCE_JOBS_MISSED_FIRE_S": "300"})
    job = await create_job(client, SERVICE, "echo caught up", app="unit")
    schedule = await add_schedule(client, job, Cron="*/1 * * * *")
    await client.close()  # the service goes down ...
    clock.advance(290)  # ... over five due times (10:00 to 10:04), the latest 40 s ago
    client = await app_of({"DCE_JOBS_MISSED_FIRE_S": "300"})
    await tick(client)  # the start-up tick caught up already, or this one does
    shown = await schedule_of(client, job, schedule["ScheduleId"])
    assert shown["LastFire"]["Outcome"] == "fired" and shown["LastFire"]["DueTime"] == T0 + 250
    assert len(await executors(client, job)) == 1
    await client.close()
    clock.advance(3470)  # down for an hour: 58 due times (10:05 to 11:02), the latest 30 s ago ...
    client = await app_of({"DCE_JOBS_MISSED_FIRE_S": "20"})  # ... older than 20 s
    await tick(client)
    assert await tick(client) == []
    fires = await client.app[keys.STORE].last_fires()
    assert "and 57 earlier due times" in fires[schedule["ScheduleId"]].reason
    shown = await schedule_of(client, job, schedule["ScheduleId"])
    assert shown["LastFire"]["Outcome"] == "missed" and "DCE_JOBS_MISSED_FIRE_S" in shown["LastFire"]["Reason"]
    assert len(await executors(client, job)) == 1


async def test_a_disabled_schedule_does_not_fire_and_re_enabling_counts_from_then(app_of: Any, clock: Clock) -> None:
    client = await app_of()
    job = await create_job(client, SERVICE, "echo hi", app="unit")
    schedule = await add_schedule(client, job, Cron="* * * * *", Enabled=False)
    assert schedule["NextRunTime"] is None
    clock.advance(300)
    assert await tick(client) == []
    url = f"/api/jobs/{job['JobId']}/schedules/{schedule['ScheduleId']}"
    enabled = await (await client.put(url, json={"Enabled": True})).json()
    assert enabled["NextRunTime"] == T0 + 10 + 300 and await tick(client) == []


async def test_two_replicas_on_one_store_fire_each_due_time_once(app_of: Any, clock: Clock) -> None:
    first, second = await app_of(), await app_of()
    job = await create_job(first, SERVICE, "echo once", app="unit")
    await add_schedule(first, job, Cron="* * * * *", ConcurrencyPolicy="Allow")
    for _ in range(5):
        clock.advance(60)
        handled = await asyncio.gather(tick(first), tick(second), tick(first), tick(second))
        assert sum(len(h) for h in handled) == 1
    found = await executors(first, job)
    assert len(found) == 5
    owners = {(await inspect(first, job, e))["Owner"] for e in found}
    assert owners <= {first.app[keys.RUNNER].owner.owner_id, second.app[keys.RUNNER].owner.owner_id}


# -- deletes ----------------------------------------------------------------------------------------------------


async def test_a_fire_racing_the_delete_of_its_job_leaves_nothing_running_or_stored(
    app_of: Any, clock: Clock, swarm: FakeSwarm
) -> None:
    client = await app_of()
    job = await create_job(client, SERVICE, "sleep 30", app="unit")
    await add_schedule(client, job, RunAt=T0 + 5)
    clock.advance(5)
    swarm.call_delay_s = 0.05  # the fire is listing the service's tasks when the DELETE comes
    fire = asyncio.ensure_future(tick(client))
    await asyncio.sleep(0.02)
    deleted = await client.delete(f"/api/jobs/{job['JobId']}")
    assert deleted.status == 202
    await fire
    store = client.app[keys.STORE]
    assert await store.list_schedules() == [] and await store.last_fires() == {}
    assert await store.list_unfinished_results() == []
    assert not any(e.running for e in swarm.execs.values() if "sleep" in e.argv)
    assert (await client.get(f"/api/jobs/{job['JobId']}/schedules")).status == 404


async def test_after_a_schedule_is_deleted_nothing_of_it_fires(app_of: Any, clock: Clock) -> None:
    client = await app_of()
    job = await create_job(client, SERVICE, "echo hi", app="unit")
    schedule = await add_schedule(client, job, Cron="* * * * *")
    clock.advance(10)
    url = f"/api/jobs/{job['JobId']}/schedules/{schedule['ScheduleId']}"
    fire = asyncio.ensure_future(tick(client))
    deleted = await client.delete(url)
    assert deleted.status == 200 and (await deleted.json()) == {"ScheduleId": schedule["ScheduleId"]}
    fired_before = len(await executors(client, job))
    await fire
    clock.advance(600)
    assert await tick(client) == []
    assert len(await executors(client, job)) == fired_before <= 1
    assert (await client.get(url)).status == 404


# -- validation -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "RunAt, Cron"),
        ({"RunAt": T0 + 60, "Cron": "* * * * *"}, "RunAt, Cron"),
        ({"Cron": "* * * *"}, "Cron"),
        ({"Cron": "* * * * * *"}, "Cron"),
        ({"Cron": "61 * * * *"}, "Cron"),
        ({"Cron": "* * * * *", "TimeZone": "Mars/Olympus"}, "TimeZone"),
        ({"Cron": "* * * * *", "TimeZone": "../../etc/passwd"}, "TimeZone"),
        ({"RunAt": T0 - 1}, "RunAt"),
        ({"RunAt": "1800000000"}, "RunAt"),
        ({"RunAt": True}, "RunAt"),
        ({"Cron": "* * * * *", "Enabled": "yes"}, "Enabled"),
        ({"Cron": "* * * * *", "ConcurrencyPolicy": "Sometimes"}, "ConcurrencyPolicy"),
        ({"Cron": "* * * * *", "ContainerIds": ["xyz"]}, "ContainerIds.0"),
        ({"Cron": "* * * * *", "ContainerIds": []}, "ContainerIds"),
        ({"Cron": "* * * * *", "Timeout": 0}, "Timeout"),
        ({"Cron": "* * * * *", "Parallelism": -1}, "Parallelism"),
        ({"Cron": "* * * * *", "Params": {"A": 1}}, "Params.A.value"),
        ({"Cron": "* * * * *", "Every": "day"}, "Every"),
    ],
)
async def test_a_bad_schedule_is_400_naming_the_field_and_stores_nothing(
    app_of: Any, body: dict[str, Any], field: str
) -> None:
    client = await app_of()
    job = await create_job(client, SERVICE, "echo hi", app="unit")
    response = await client.post(f"/api/jobs/{job['JobId']}/schedules", json=body)
    assert response.status == 400, await response.text()
    error = await response.json()
    assert error["message"].startswith(f"{field}:"), error
    assert error["id"] == "invalid_request"
    assert await (await client.get(f"/api/jobs/{job['JobId']}/schedules")).json() == []


async def test_unknown_jobs_and_schedules_are_404_and_a_bad_edit_changes_nothing(app_of: Any) -> None:
    client = await app_of()
    missing = await client.post("/api/jobs/nope/schedules", json={"Cron": "* * * * *"})
    assert missing.status == 404 and (await missing.json())["id"] == "job_id_not_found"
    job = await create_job(client, SERVICE, "echo hi ${ENV}", app="unit", Params=[{"Name": "ENV"}])
    gone = await client.get(f"/api/jobs/{job['JobId']}/schedules/nope")
    assert gone.status == 404 and (await gone.json())["id"] == "schedule_id_not_found"
    schedule = await add_schedule(client, job, Cron="5 4 * * *", TimeZone="America/New_York", Params={"ENV": "prod"})
    url = f"/api/jobs/{job['JobId']}/schedules/{schedule['ScheduleId']}"
    bad = await client.put(url, json={"TimeZone": "Nowhere/Else"})
    assert bad.status == 400 and (await bad.json())["message"].startswith("TimeZone:")
    assert await schedule_of(client, job, schedule["ScheduleId"]) == schedule
    switched = await (await client.put(url, json={"RunAt": 4_000_000_000})).json()
    assert (switched["RunAt"], switched["Cron"], switched["Params"]) == (4_000_000_000, "", {"ENV": "prod"})


async def test_a_fire_says_its_schedule_started_it_and_schedule_changes_are_audited(app_of: Any, clock: Clock) -> None:
    client = await app_of()
    job = await create_job(client, SERVICE, "echo hi-${WHO}", app="unit", Params=[{"Name": "WHO"}])
    schedule = await add_schedule(client, job, RunAt=T0 + 30, Params={"WHO": "s3cret-value"})
    url = f"/api/jobs/{job['JobId']}/schedules/{schedule['ScheduleId']}"
    edited = await client.put(url, json={"RunAt": T0 + 20, "Params": {"WHO": "other-value"}})
    assert edited.status == 200, await edited.text()
    clock.advance(31)
    assert [f.outcome.value for f in await tick(client)] == ["fired"]
    (executor_id,) = await executors(client, job)
    body = await until(client, job, executor_id, all_final)
    assert (body["Trigger"], body["StartedBy"], body["ScheduleId"]) == ("schedule", "schedule", schedule["ScheduleId"])
    assert (body["AppName"], body["ServiceName"]) == ("unit", SERVICE)
    history = await (await client.get(f"/api/jobs/{job['JobId']}/executors")).json()
    assert [(e["Trigger"], e["StartedBy"], e["State"]) for e in history] == [("schedule", "schedule", "succeeded")]
    (listed,) = await (await client.get("/api/jobs")).json()
    assert (listed["LastRun"]["ExecutorId"], listed["LastRun"]["State"]) == (executor_id, "succeeded")
    assert (await client.delete(url)).status == 200
    audit = await client.get("/api/audit")
    text = await audit.text()
    assert "s3cret-value" not in text and "other-value" not in text  # the names of what an edit gave, never values
    entries = [(a["Action"], a["ScheduleId"], a["Fields"]) for a in await audit.json()]
    assert entries == [
        ("schedule.delete", schedule["ScheduleId"], []),
        ("schedule.edit", schedule["ScheduleId"], ["Params", "RunAt"]),
        ("schedule.create", schedule["ScheduleId"], []),
        ("create", None, []),
    ]  # the fire itself is no one's action: it is in the history and the fires, not in the audit trail
