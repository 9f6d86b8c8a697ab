"""The event stream of an execution on the fake engine: format, replay, resume, keep-alive, errors (fast)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from dce_jobs.config import from_env
from dce_jobs.nodes import NodePool
from tests.client import all_final, create_job, start, until
from tests.fakes.engine import SERVICE, FakeSwarm
from tests.sse import Sse, events, read_until, texts

Maker = Callable[..., Awaitable[tuple[TestClient[Any, Any], FakeSwarm]]]
TARGET_KEYS = {"Index", "ContainerId", "NodeId", "Status", "ExitCode", "EndReason", "StartTime", "EndTime"}
COUNT_KEYS = {"waiting", "running", "succeeded", "failed", "stopped"}


@pytest.fixture
def fake(make_client: Any) -> Maker:
    """An app whose every engine is the fake swarm."""

    async def make(env: dict[str, str] | None = None, containers: int = 3) -> tuple[TestClient[Any, Any], FakeSwarm]:
        swarm = FakeSwarm(containers=containers)
        settings = {"DCE_JOBS_DOCKER_HOST": "unix:///fake.sock", **(env or {})}
        nodes = NodePool(from_env(settings), client_factory=swarm.factory)
        return await make_client(settings, nodes=nodes), swarm

    return make


def url(job: dict[str, Any], executor_id: str) -> str:
    return f"/api/jobs/{job['JobId']}/executors/{executor_id}/events"


async def logs(client: TestClient[Any, Any], job: dict[str, Any], executor_id: str, swarm: FakeSwarm) -> dict[int, str]:
    """The log download of every target, by index."""
    got = {}
    for index, container in enumerate(swarm.containers):
        response = await client.get(f"/api/jobs/{job['JobId']}/log/{executor_id}", params={"ContainerId": container})
        got[index] = await response.text()
    return got


async def subscribe(client: TestClient[Any, Any], path: str, last_id: str = "") -> Any:
    response = await client.get(path, headers={"Last-Event-ID": last_id} if last_id else {})
    assert response.status == 200, await response.text()
    assert response.headers["Content-Type"].startswith("text/event-stream")
    return response


def check_format(got: list[Sse]) -> None:
    """Every event has an id and the frozen shape of its kind."""
    for e in got:
        assert e.id, e
        if e.event == "target":
            assert set(e.data) == TARGET_KEYS
        elif e.event == "output":
            assert set(e.data) == {"Index", "ContainerId", "Stream", "Offset", "Text"}
            assert e.data["Stream"] in ("stdout", "stderr")
        else:
            assert e.event in ("summary", "end") and set(e.data) == {"State", "Counts"}
            assert set(e.data["Counts"]) == COUNT_KEYS


async def test_a_live_run_streams_targets_output_summary_and_end(fake: Maker) -> None:
    client, swarm = await fake()
    job = await create_job(client, SERVICE, "echo one ; wait go ; err two ; echo three", app="unit")
    executor_id = await start(client, job)
    response = await subscribe(client, url(job, executor_id))
    got = [e async for e in _until_each_printed(response, "one\n", len(swarm.containers))]
    swarm.gate("go").set()
    got += await read_until(response)
    check_format(got)
    first = got[: len(swarm.containers)]
    assert [(e.event, e.data["Index"]) for e in first] == [("target", i) for i in range(len(swarm.containers))]
    assert got[-1].event == "end" and got[-1].data["State"] == "succeeded"
    assert got[-1].data["Counts"] == {"waiting": 0, "running": 0, "succeeded": 3, "failed": 0, "stopped": 0}
    assert sum(1 for e in got if e.event == "end") == 1
    assert texts(got) == await logs(client, job, executor_id, swarm)
    assert texts(got, stream="stderr") == dict.fromkeys(range(3), "two\n")
    for index in range(3):
        statuses = [e.data["Status"] for e in got if e.event == "target" and e.data["Index"] == index]
        assert statuses[-1] == "FINISHED" and "RUNNING" in statuses
        final = [e for e in got if e.event == "target" and e.data["Index"] == index][-1]
        assert final.data["ExitCode"] == 0 and final.data["EndReason"] == "exited" and final.data["EndTime"]
        last_output = max(i for i, e in enumerate(got) if e.event == "output" and e.data["Index"] == index)
        assert last_output < got.index(final)  # a target's output comes before its final status
    summaries = [e.data["State"] for e in got if e.event == "summary"]
    assert summaries[0] == "running" and summaries[-1] == "succeeded"


async def _until_each_printed(response: Any, text: str, targets: int) -> Any:
    """Yield events until every target's output holds `text`."""
    got: list[Sse] = []
    async for event in events(response):
        got.append(event)
        yield event
        if all(text in t for t in texts(got).values()) and len(texts(got)) == targets:
            return


async def test_a_finished_execution_is_replayed_from_the_store_and_ends(fake: Maker) -> None:
    client, swarm = await fake()
    job = await create_job(client, SERVICE, "echo a ; err b ; exit 3", app="unit")
    executor_id = await start(client, job)
    await until(client, job, executor_id, all_final)
    got = await read_until(await subscribe(client, url(job, executor_id)))
    check_format(got)
    kinds = [e.event for e in got]
    assert kinds[:3] == ["target"] * 3 and kinds[-2:] == ["summary", "end"]
    assert all(e.data["Status"] == "FINISHED" and e.data["ExitCode"] == 3 for e in got[:3])
    assert got[-1].data["State"] == "failed" and got[-1].data["Counts"]["failed"] == 3
    assert texts(got) == await logs(client, job, executor_id, swarm) == dict.fromkeys(range(3), "a\nb\n")
    assert texts(got, stream="stderr") == dict.fromkeys(range(3), "b\n")


async def test_resume_after_any_event_of_a_replay_loses_and_repeats_nothing(fake: Maker) -> None:
    client, swarm = await fake(containers=2)
    job = await create_job(client, SERVICE, "echo a ; err b ; echo c", app="unit")
    executor_id = await start(client, job)
    await until(client, job, executor_id, all_final)
    whole = await read_until(await subscribe(client, url(job, executor_id)))
    expected = await logs(client, job, executor_id, swarm)
    for k in range(len(whole)):
        rest = await read_until(await subscribe(client, url(job, executor_id), whole[k].id))
        joined = whole[: k + 1] + rest
        assert texts(joined) == expected, k
        assert sum(1 for e in joined if e.event == "end") == 1, k
        finals = [e.data["Index"] for e in joined if e.event == "target" and e.data["Status"] == "FINISHED"]
        assert sorted(set(finals)) == [0, 1], k


async def test_reconnect_mid_run_resumes_exactly(fake: Maker) -> None:
    client, swarm = await fake()
    job = await create_job(client, SERVICE, "echo one ; wait mid ; err two ; wait late ; echo three", app="unit")
    executor_id = await start(client, job)
    first = await subscribe(client, url(job, executor_id))
    seen = [e async for e in _until_each_printed(first, "one\n", 3)]
    first.close()
    swarm.gate("mid").set()  # output goes on while nobody listens
    await until(client, job, executor_id, lambda b: all("two" in (r["Output"] or "") for r in b["Result"]))
    second = await subscribe(client, url(job, executor_id), seen[-1].id)
    seen += [e async for e in _until_each_printed(second, "two\n", 3)]
    swarm.gate("late").set()
    seen += await read_until(second)
    check_format(seen)
    assert texts(seen) == await logs(client, job, executor_id, swarm) == dict.fromkeys(range(3), "one\ntwo\nthree\n")
    assert sum(1 for e in seen if e.event == "end") == 1


async def test_a_resumed_id_works_on_a_restarted_server(fake: Maker, make_client: Any) -> None:
    client, swarm = await fake(containers=2)
    job = await create_job(client, SERVICE, "echo a ; echo b", app="unit")
    executor_id = await start(client, job)
    await until(client, job, executor_id, all_final)
    whole = await read_until(await subscribe(client, url(job, executor_id)))
    expected = await logs(client, job, executor_id, swarm)
    middle = next(i for i, e in enumerate(whole) if e.event == "output")
    await client.close()
    again = await make_client({"DCE_JOBS_DOCKER_HOST": "unix:///fake.sock"})  # the same data dir, a new process
    rest = await read_until(await subscribe(again, url(job, executor_id), whole[middle].id))
    assert texts(whole[: middle + 1] + rest) == expected
    assert rest[-1].event == "end"


async def test_secrets_are_masked_in_output_events(fake: Maker) -> None:
    client, swarm = await fake(containers=1)
    job = await create_job(client, SERVICE, "echo token:", app="unit", SecretArgs=["hunter22"])
    executor_id = await start(client, job)
    got = await read_until(await subscribe(client, url(job, executor_id)))
    assert texts(got) == {0: "token: ********\n"}
    assert all("hunter22" not in e.data.get("Text", "") for e in got)


async def test_an_idle_stream_sends_keep_alive_comments(fake: Maker) -> None:
    client, swarm = await fake({"DCE_JOBS_EVENTS_PING_S": "0.02"}, containers=1)
    job = await create_job(client, SERVICE, "wait idle", app="unit")
    executor_id = await start(client, job)
    response = await subscribe(client, url(job, executor_id))
    async for line in response.content:
        if line.startswith(b":"):
            break
    response.close()
    assert line == b": ping\n"
    swarm.gate("idle").set()
    await until(client, job, executor_id, all_final)


async def test_unknown_job_executor_and_bad_ids_are_refused(fake: Maker) -> None:
    client, swarm = await fake(containers=1)
    job = await create_job(client, SERVICE, "echo a", app="unit")
    executor_id = await start(client, job)
    missing = await client.get(f"/api/jobs/{'0' * 24}/executors/{executor_id}/events")
    assert missing.status == 404 and (await missing.json())["id"] == "job_id_not_found"
    missing = await client.get(url(job, "1.000001"))
    assert missing.status == 404 and set(await missing.json()) == {"message", "id"}
    assert (await missing.json())["id"] == "executor_id_not_found"
    for bad in ("nonsense", "1~~a*2", "1~~zz", "2~~a", "1~r,1~a"):
        response = await client.get(url(job, executor_id), headers={"Last-Event-ID": bad})
        assert response.status == 400 and (await response.json())["id"] == "invalid_last_event_id", bad
    post = await client.post(url(job, executor_id), json={})
    assert post.status == 405


async def test_the_event_stream_needs_the_token(make_client: Any) -> None:
    client = await make_client({"DCE_JOBS_API_TOKEN": "t0ken"})
    response = await client.get("/api/jobs/x/executors/1.000001/events")
    assert response.status == 401 and set(await response.json()) == {"message", "id"}
    response = await client.get("/api/jobs/x/executors/1.000001/events", headers={"Authorization": "Bearer t0ken"})
    assert response.status == 404


async def test_a_paused_rolling_run_says_so_in_a_summary(fake: Maker) -> None:
    client, swarm = await fake()
    swarm.failing.add(swarm.containers[0])
    job = await create_job(client, SERVICE, "echo ok", app="unit", Parallelism=1, FailureAction="pause")
    executor_id = await start(client, job)
    response = await subscribe(client, url(job, executor_id))
    got = await read_until(response, lambda e: e.event == "summary" and e.data["State"] == "paused")
    assert got[-1].data["Counts"]["failed"] == 1 and got[-1].data["Counts"]["waiting"] == 2
    await client.post(f"/api/jobs/{job['JobId']}/executors/{executor_id}/resume", json={})
    got += await read_until(response)
    states = [e.data["State"] for e in got if e.event in ("summary", "end")]
    assert states[states.index("paused") + 1] == "running" and states[-1] == "failed"


def log_url(job: dict[str, Any], executor_id: str) -> str:
    return f"/api/jobs/{job['JobId']}/log/{executor_id}"


async def test_log_follow_streams_as_written_and_ends_at_the_final_status(fake: Maker) -> None:
    client, swarm = await fake(containers=2)
    job = await create_job(client, SERVICE, "echo one ; wait more ; err two ; echo three", app="unit")
    executor_id = await start(client, job)
    container = swarm.containers[1]
    both = await client.get(log_url(job, executor_id), params={"ContainerId": container, "Follow": "1"})
    errors = await client.get(
        log_url(job, executor_id), params={"ContainerId": container, "Follow": "1", "Stream": "stderr"}
    )
    assert both.status == errors.status == 200 and both.headers["Content-Type"].startswith("text/plain")
    assert await both.content.readline() == b"one\n"  # before the process has ended
    swarm.gate("more").set()
    assert await both.text() == "two\nthree\n"
    assert await errors.text() == "two\n"
    body = await until(client, job, executor_id, lambda b: True)
    assert body["Result"][1]["Status"] == "FINISHED"  # the follow ended at the final status, not before
    again = await client.get(log_url(job, executor_id), params={"ContainerId": container[:12], "Follow": "true"})
    assert await again.text() == "one\ntwo\nthree\n"  # a finished target: its whole log, then the end


async def test_log_follow_needs_one_container_and_a_clear_value(fake: Maker) -> None:
    client, swarm = await fake(containers=1)
    job = await create_job(client, SERVICE, "echo a", app="unit")
    executor_id = await start(client, job)
    response = await client.get(log_url(job, executor_id), params={"Follow": "1"})
    assert response.status == 400 and "ContainerId" in (await response.json())["message"]
    response = await client.get(log_url(job, executor_id), params={"ContainerId": swarm.containers[0], "Follow": "x"})
    assert response.status == 400 and "Follow" in (await response.json())["message"]
    response = await client.get(log_url(job, executor_id), params={"ContainerId": "f" * 12, "Follow": "1"})
    assert response.status == 404 and (await response.json())["id"] == "container_id_not_found"


async def test_open_streams_end_when_the_server_begins_to_stop(fake: Maker) -> None:
    client, swarm = await fake(containers=1)
    job = await create_job(client, SERVICE, "wait never", app="unit")
    executor_id = await start(client, job)
    stream = await subscribe(client, url(job, executor_id))
    follow = await client.get(log_url(job, executor_id), params={"ContainerId": swarm.containers[0], "Follow": "1"})
    await read_until(stream, lambda e: e.event == "summary")
    await client.app.shutdown()  # what the server does first when it stops, before it waits for open requests
    got = await asyncio.wait_for(read_until(stream), timeout=30)  # a guard against a hang, not a speed check
    assert all(e.event != "end" for e in got)  # no end: the client resumes from its last id after the restart
    assert await asyncio.wait_for(follow.text(), timeout=30) == ""
    swarm.gate("never").set()


async def test_an_execution_without_a_live_run_is_followed_from_the_store(fake: Maker) -> None:
    # what a server sees of an execution a previous process left running (before or without recovery)
    from dce_jobs import keys
    from dce_jobs.models import ContainerResult, EndReason, Execution, Status, Target

    client, swarm = await fake(containers=1)
    job = await create_job(client, SERVICE, "echo a", app="unit")
    store = client.app[keys.STORE]
    executor_id, target = "1700000000.100000", Target(container_id="a" * 64, node_id="node1")
    running = ContainerResult(
        job_id=job["JobId"], executor_id=executor_id, index=0, container_id=target.container_id, node_id="node1"
    ).replace(status=Status.RUNNING, exec_id="e" * 64, started_at=1.0)
    execution = Execution(job_id=job["JobId"], executor_id=executor_id, created_at=1.0, targets=(target,))
    await store.create_execution(execution, [running])
    await store.append_output(running, 0, b"before\n")
    response = await subscribe(client, url(job, executor_id))
    got = await read_until(response, lambda e: e.event == "output")
    assert got[0].data["Status"] == "RUNNING" and texts(got) == {0: "before\n"}
    await store.append_output(running, 1, b"after\n")
    await store.save_result(running.replace(status=Status.FINISHED, exit_code=0, end_reason=EndReason.EXITED))
    got += await read_until(response)
    assert texts(got) == {0: "before\nafter\n"} and got[-1].event == "end" and got[-1].data["State"] == "succeeded"
