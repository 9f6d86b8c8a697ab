"""The list routes on a fake engine: job list parameters and X-Total-Count, histories, who did what, the audit trail."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from dce_jobs.api.who import identify, sanitize_user
from dce_jobs.config import from_env
from dce_jobs.models import FailureAction, Job, LastRun, Param, Rolling, SecretArg
from dce_jobs.nodes import NodePool
from dce_jobs.schemas import dump_job, dump_jobs
from dce_jobs.schemas.job_list import JobListJson
from tests.client import all_final, create_job, start, until
from tests.fakes.engine import SERVICE, FakeSwarm

Maker = Callable[..., Awaitable[TestClient[Any, Any]]]
TOKEN = "t0ken-for-the-list-tests"
SECRET = "s3cr3t-never-in-the-audit"


@pytest.fixture
def fake(make_client: Any) -> Maker:
    """An app whose every engine is the fake swarm (4 containers)."""

    async def make(env: dict[str, str] | None = None) -> TestClient[Any, Any]:
        swarm = FakeSwarm(containers=2)
        settings = {"DCE_JOBS_DOCKER_HOST": "unix:///fake.sock", **(env or {})}
        nodes = NodePool(from_env(settings), client_factory=swarm.factory)
        return await make_client(settings, nodes=nodes)

    return make


async def _get(client: TestClient[Any, Any], url: str, **headers: str) -> tuple[int, Any, str]:
    response = await client.get(url, headers=headers)
    return response.status, await response.json(), response.headers.get("X-Total-Count", "")


async def test_the_seed_call_is_a_plain_array_of_every_job_with_the_new_fields(fake: Maker) -> None:
    client = await fake()
    jobs = [await create_job(client, SERVICE, "echo hi", app="unit") for _ in range(3)]
    status, body, total = await _get(client, "/api/jobs")
    assert (status, total) == (200, "3")
    assert [j["JobId"] for j in body] == [j["JobId"] for j in jobs]
    first = body[0]
    assert first["Executors"] == [] and first["LastRun"] is None
    assert first["CreatedBy"] == first["UpdatedBy"] == "anonymous"
    assert first["CreateTime"] == first["UpdateTime"] > 0


async def test_filters_sort_and_paging(fake: Maker) -> None:
    client = await fake()
    names = ["Deploy-A", "backup-b", "Backup-c", "deploy-d", "50%_off"]
    jobs = {n: await create_job(client, SERVICE, "echo hi", app="unit", Name=n) for n in names}
    other = await create_job(client, SERVICE, "echo hi", app="other", Name="backup-z")
    status, body, total = await _get(client, "/api/jobs?Name=BACKUP&Sort=-Name&Size=1&Page=2")
    assert (status, total, [j["Name"] for j in body]) == (200, "3", ["Backup-c"])  # z, c, b
    status, body, total = await _get(client, "/api/jobs?Name=%25_&AppName=unit")
    assert (total, [j["Name"] for j in body]) == ("1", ["50%_off"])
    status, body, total = await _get(client, "/api/jobs?AppName=other")
    assert [j["JobId"] for j in body] == [other["JobId"]]
    edited = jobs["deploy-d"]
    put = {k: edited[k] for k in ("AppName", "ServiceName", "Name", "Cmd")}
    assert (await client.put(f"/api/jobs/{edited['JobId']}", json={**put, "Cmd": "echo edited"})).status == 200
    status, body, _ = await _get(client, "/api/jobs?Sort=-UpdateTime&Size=1")
    assert body[0]["JobId"] == edited["JobId"]
    since = body[0]["UpdateTime"]
    status, body, total = await _get(client, f"/api/jobs?UpdatedAfter={since}")
    assert (total, [j["JobId"] for j in body]) == ("1", [edited["JobId"]])
    status, body, total = await _get(client, "/api/jobs?CreatedBefore=1")
    assert (status, body, total) == (200, [], "0")
    status, body, total = await _get(client, "/api/jobs?Name=%ED%A0%80")  # not UTF-8: arrives as U+FFFD
    assert (status, body, total) == (200, [], "0")


async def test_sort_by_last_run_time(fake: Maker) -> None:
    client = await fake()
    jobs = [await create_job(client, SERVICE, "echo hi", app="unit", Name=f"job-{n}") for n in range(3)]
    for job in (jobs[2], jobs[0]):  # job-1 never runs
        await until(client, job, await start(client, job), all_final)
    _, newest_first, _ = await _get(client, "/api/jobs?Sort=-LastRunTime")
    _, oldest_first, total = await _get(client, "/api/jobs?Sort=LastRunTime&Size=2")
    assert [j["Name"] for j in newest_first] == ["job-0", "job-2", "job-1"]
    assert ([j["Name"] for j in oldest_first], total) == (["job-1", "job-2"], "3")


@pytest.mark.parametrize(
    ("query", "named"),
    [
        ("Size=0", "Size"),
        ("Size=501", "Size"),
        ("Size=ten", "Size"),
        ("Page=0", "Page"),
        ("Sort=Cmd", "Sort"),
        ("Sort=-JobId", "Sort"),
        ("LastState=paused", "LastState"),
        ("CreatedAfter=yesterday", "CreatedAfter"),
        ("UpdatedBefore=nan", "UpdatedBefore"),
        ("Colour=red", "Colour"),
        ("Size=5&Size=6", "Size"),
        ("Name=" + "x" * 300, "Name"),
    ],
)
async def test_bad_list_parameters_are_400_naming_them(fake: Maker, query: str, named: str) -> None:
    client = await fake()
    status, body, _ = await _get(client, f"/api/jobs?{query}")
    assert status == 400 and body["id"] == "invalid_request" and body["message"].startswith(named), body


async def test_history_lists_runs_newest_first_with_their_summary(fake: Maker) -> None:
    client = await fake()
    job = await create_job(client, SERVICE, "echo hi", app="unit")
    first = await start(client, job)
    await until(client, job, first, all_final)
    second = await start(client, job)
    await until(client, job, second, all_final)
    retried = await client.post(f"/api/jobs/{job['JobId']}/executors/{second}/retry", json={"All": True})
    third = (await retried.json())["Executors"][-1]
    await until(client, job, third, all_final)
    status, body, total = await _get(client, f"/api/jobs/{job['JobId']}/executors?Size=2")
    assert (status, total) == (200, "3")
    assert [e["ExecutorId"] for e in body] == [third, second]
    newest = body[0]
    assert (newest["Trigger"], newest["RetryOf"], newest["StartedBy"]) == ("retry", second, "anonymous")
    assert body[1]["Trigger"] == "manual" and body[1]["RetryOf"] is None
    for entry in body:  # how it ended is stored once the run ends
        assert entry["State"] == "succeeded" and entry["Counts"]["succeeded"] == entry["Targets"] == 2
        assert entry["Duration"] == pytest.approx(entry["EndTime"] - entry["CreateTime"], abs=1e-5)
    status, body, total = await _get(client, f"/api/jobs/{job['JobId']}/executors?State=failed")
    assert (body, total) == ([], "0")
    status, body, total = await _get(client, "/api/executors?AppName=unit&Page=2&Size=2")
    assert (total, [e["ExecutorId"] for e in body]) == ("3", [first])
    status, listed, _ = await _get(client, "/api/jobs")
    assert listed[0]["LastRun"]["ExecutorId"] == third and listed[0]["LastRun"]["State"] == "succeeded"
    status, body, _ = await _get(client, "/api/jobs?LastState=succeeded")
    assert [j["JobId"] for j in body] == [job["JobId"]]
    status, body, _ = await _get(client, f"/api/jobs/{job['JobId']}/executors?AppName=unit")
    assert status == 400 and body["message"].startswith("AppName")
    status, body, _ = await _get(client, "/api/jobs/no-such-job/executors")
    assert (status, body["id"]) == (404, "job_id_not_found")


async def test_history_entries_carry_the_jobs_current_name(fake: Maker) -> None:
    """JobName: the job's name now (a rename shows at once), so a client needs no GET of each job."""
    client = await fake()
    kept = await create_job(client, SERVICE, "echo hi", app="unit")
    gone = await create_job(client, SERVICE, "echo hi", app="unit")
    runs = {}
    for job in (kept, gone, kept):
        runs[job["JobId"]] = executor_id = await start(client, job)
        await until(client, job, executor_id, all_final)
    fields = {k: kept[k] for k in ("AppName", "ServiceName", "Cmd")}
    renamed = await client.put(f"/api/jobs/{kept['JobId']}", json={**fields, "Name": "<i>renamed</i> 巡检"})
    assert renamed.status == 200, await renamed.text()

    status, body, _ = await _get(client, "/api/executors")
    assert status == 200
    assert [e["JobName"] for e in body] == ["<i>renamed</i> 巡检", gone["Name"], "<i>renamed</i> 巡检"]
    status, body, _ = await _get(client, f"/api/jobs/{kept['JobId']}/executors?Size=1")
    assert [(e["ExecutorId"], e["JobName"]) for e in body] == [(runs[kept["JobId"]], "<i>renamed</i> 巡检")]

    assert (await client.delete(f"/api/jobs/{gone['JobId']}")).status == 202
    status, body, total = await _get(client, "/api/executors")
    assert (total, {e["JobName"] for e in body}) == ("2", {"<i>renamed</i> 巡检"})


async def test_a_running_execution_shows_live_counts(fake: Maker) -> None:
    client = await fake()
    job = await create_job(client, SERVICE, "sleep 30", app="unit")
    executor_id = await start(client, job)
    await until(client, job, executor_id, lambda b: b["Counts"]["running"] == 2)
    status, body, _ = await _get(client, "/api/executors?State=running")
    assert [(e["State"], e["Counts"]["running"], e["EndTime"], e["Duration"]) for e in body] == [
        ("running", 2, None, None)
    ]
    stop = f"/api/jobs/{job['JobId']}/executors/{executor_id}/stop"
    assert (await client.post(stop, json={})).status == 200
    status, body, _ = await _get(client, "/api/executors")
    assert body[0]["State"] == "stopped"


async def test_the_user_comes_from_the_proxy_header_or_the_token(fake: Maker) -> None:
    env = {"DCE_JOBS_API_TOKEN": TOKEN, "DCE_JOBS_USER_HEADER": "X-DCE-User"}
    client = await fake(env)
    auth = {"Authorization": f"Bearer {TOKEN}"}
    by_alice = await client.post(
        "/api/jobs",
        json={"AppName": "unit", "ServiceName": SERVICE, "Name": "a", "Cmd": "echo hi"},
        headers={**auth, "X-DCE-User": " ali\tce\u200b "},
    )
    assert by_alice.status == 200
    job = await by_alice.json()
    assert job["CreatedBy"] == "alice"  # the tab (a control) and the zero-width space are dropped
    edit = {k: job[k] for k in ("AppName", "ServiceName", "Name", "Cmd")}
    response = await client.put(f"/api/jobs/{job['JobId']}", json=edit, headers=auth)
    assert (await response.json())["UpdatedBy"] == "token"
    long_name = "b" * 500
    response = await client.put(f"/api/jobs/{job['JobId']}", json=edit, headers={**auth, "X-DCE-User": long_name})
    assert (await response.json())["UpdatedBy"] == "b" * 128


async def test_without_header_setting_the_header_is_ignored(fake: Maker) -> None:
    client = await fake()
    response = await client.post(
        "/api/jobs",
        json={"AppName": "unit", "ServiceName": SERVICE, "Name": "a", "Cmd": "echo hi"},
        headers={"X-DCE-User": "mallory"},
    )
    assert (await response.json())["CreatedBy"] == "anonymous"


async def test_audit_trail_records_who_did_what_without_secrets(fake: Maker) -> None:
    client = await fake({"DCE_JOBS_USER_HEADER": "X-DCE-User"})
    bob = {"X-DCE-User": "bob"}
    body = {"AppName": "unit", "ServiceName": SERVICE, "Name": "a", "Cmd": "echo hi", "SecretArgs": [SECRET]}
    job = await (await client.post("/api/jobs", json=body, headers=bob)).json()
    edit = {**body, "Cmd": "echo edited", "SecretArgs": [SECRET + "2"], "Env": ["TOKEN=plain-env-value"]}
    assert (await client.put(f"/api/jobs/{job['JobId']}", json=edit, headers=bob)).status == 200
    executor_id = await start(client, job)
    await until(client, job, executor_id, all_final)
    retry = f"/api/jobs/{job['JobId']}/executors/{executor_id}/retry"
    assert (await client.post(retry, json={"All": True}, headers={"X-DCE-User": "carol"})).status == 200
    stop = f"/api/jobs/{job['JobId']}/executors/{executor_id}/stop"
    assert (await client.post(stop, json={}, headers=bob)).status == 200
    assert (await client.post("/api/jobs", json=body, headers=bob)).status == 400  # a duplicate: not recorded
    assert (await client.delete(f"/api/jobs/{job['JobId']}", headers=bob)).status == 202
    response = await client.get("/api/audit")
    trail = await response.json()
    assert response.headers["X-Total-Count"] == "6"
    assert [(e["Action"], e["User"]) for e in trail] == [
        ("delete", "bob"),
        ("stop", "bob"),
        ("retry", "carol"),
        ("start", "anonymous"),
        ("edit", "bob"),
        ("create", "bob"),
    ]
    assert trail[4]["Fields"] == ["Cmd", "Env", "SecretArgs"]
    assert trail[3]["ExecutorId"] == executor_id and trail[1]["ExecutorId"] == executor_id
    assert all(e["JobId"] == job["JobId"] and e["JobName"] == "a" for e in trail)
    text = await response.text()
    assert SECRET not in text and "plain-env-value" not in text and "echo edited" not in text
    status, body, total = await _get(client, "/api/audit?User=bob&Action=edit")
    assert (total, [e["Action"] for e in body]) == ("1", ["edit"])
    status, body, total = await _get(client, f"/api/audit?JobId={job['JobId']}&Size=2&Page=3")
    assert (total, [e["Action"] for e in body]) == ("6", ["edit", "create"])
    status, body, _ = await _get(client, "/api/audit?Action=launch")
    assert status == 400 and body["message"].startswith("Action")


@pytest.mark.parametrize(
    ("raw", "user"),
    [
        ("alice", "alice"),
        ("  al\x00ice\x7f\n", "alice"),
        ("bob\udc80\ud800", "bob"),  # bytes that are not UTF-8 arrive as surrogates
        ("\u202eevil\u200b", "evil"),
        ("张 三", "张 三"),
        ("x" * 1000, "x" * 128),
        ("\x00\x01", ""),
    ],
)
def test_user_names_are_sanitized(raw: str, user: str) -> None:
    assert sanitize_user(raw) == user


def test_an_empty_header_falls_back_to_token_or_anonymous() -> None:
    assert identify({"X-U": "\x00"}, user_header="X-U", with_token=True) == "token"
    assert identify({}, user_header="X-U", with_token=False) == "anonymous"
    assert identify({"X-U": "carol"}, user_header="", with_token=False) == "anonymous"


@pytest.mark.parametrize(
    "job",
    [
        Job(job_id="a", app_name="b", service_name="c", name="d", cmd="e"),
        Job(
            job_id="a",
            app_name="应用",
            service_name="c",
            name="上线",
            cmd="ps axu",
            privileged=True,
            user="root:root",
            env=("a=b", "c=d"),
            secret_args=(SecretArg("tok", 3), SecretArg("tok2", 0)),
            timeout_s=30,
            rolling=Rolling(parallelism=2, delay_s=1, failure_action=FailureAction.PAUSE, max_failure_ratio=0.5),
            created_at=1,
            updated_at=2,
            executors=("1.000000", "2.000000"),
            created_by="alice",
            updated_by="bob",
            last_run=LastRun("2.000000", "failed", 3),
        ),
        Job(job_id="a", app_name="b", service_name="c", name="d", cmd="e", last_run=LastRun("1.5", "running")),
        Job(
            job_id="a",
            app_name="b",
            service_name="c",
            name='quote " back\\slash \u2028 tab\t',
            cmd="e",
            params=(Param(name="p", default="x", required=True, pattern="[a-z]+"),),
            retries=2,
            retry_delay_s=1.5,
            status_hook="https://hooks.example/x",
            status_hook_events=("start", "end"),
            executors=('odd"id',),
            last_run=LastRun("1.0", "succeeded", float("inf")),
        ),
    ],
)
def test_the_fast_list_dump_is_the_schemas_dump(job: Job) -> None:
    assert json.dumps(dump_jobs([job])) == json.dumps([dump_job(job)])
    assert JobListJson().encode([job]) == json.dumps(dump_jobs([job]), ensure_ascii=False)


def test_the_job_list_json_is_made_again_for_an_edited_job() -> None:
    """Encoded fields are kept by the values they were made from: an edit, new executors or LastRun show."""
    encoder = JobListJson(max_jobs=2)
    job = Job(job_id="a", app_name="b", service_name="c", name="d", cmd="e")
    jobs = [
        job,
        job.replace(cmd="edited"),
        job.replace(job_id="z", executors=("1.0",), last_run=LastRun("1.0", "running")),
    ]
    for _ in range(2):  # the second time from the kept parts (and past max_jobs: made again)
        assert encoder.encode(jobs) == json.dumps(dump_jobs(jobs), ensure_ascii=False)
        assert encoder.encode([]) == "[]"


def test_the_job_list_json_keeps_no_more_than_its_bound_of_text() -> None:
    """Large jobs (a long Cmd, many Env entries) do not fill memory: past max_chars the kept parts start again."""
    encoder = JobListJson(max_chars=10_000)
    jobs = [Job(job_id=f"j{i}", app_name="a", service_name="s", name=f"n{i}", cmd="x" * 3000) for i in range(8)]
    for _ in range(2):
        assert encoder.encode(jobs) == json.dumps(dump_jobs(jobs), ensure_ascii=False)
        assert len(encoder._parts) <= 2  # 2 x 3,000 characters, counted twice
