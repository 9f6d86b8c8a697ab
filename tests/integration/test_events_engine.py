"""Following runs on a real Docker engine: the event stream with a reconnect, a replay, stderr apart, log follow."""

from __future__ import annotations

import time
from typing import Any

import pytest

from tests.client import create_job, inspect, start, until, wait_final
from tests.sse import Sse, events, read_until, texts

from .conftest import engine, node_index, targets_of
from .lab import Lab

pytestmark = pytest.mark.engine


def events_url(job: dict[str, Any], executor_id: str) -> str:
    return f"/api/jobs/{job['JobId']}/executors/{executor_id}/events"


async def logs(client: Any, job: dict[str, Any], executor_id: str, targets: list[dict[str, str]]) -> dict[int, str]:
    url = f"/api/jobs/{job['JobId']}/log/{executor_id}"
    return {
        i: await (await client.get(url, params={"ContainerId": t["ContainerId"]})).text() for i, t in enumerate(targets)
    }


def wait_for(gate: str) -> str:
    """Shell words that wait until the test opens `gate` (a file in the container)."""
    return f"while [ ! -e /tmp/{gate} ]; do sleep 0.05; done"


def open_gate(lab: Lab, targets: list[dict[str, str]], gate: str) -> None:
    """Create the gate file in each target container (through its node's engine, as the test's own exec)."""
    for target in targets:
        client = engine(lab, node_index(lab, target["NodeId"]))
        exec_id = client.exec_create(target["ContainerId"], ["touch", f"/tmp/{gate}"])["Id"]
        client.exec_start(exec_id)


async def until_each_printed(response: Any, text: str, targets: int) -> list[Sse]:
    got: list[Sse] = []
    async for event in events(response):
        got.append(event)
        printed = texts(got)
        if len(printed) == targets and all(text in t for t in printed.values()):
            break
    return got


async def test_a_reconnect_mid_run_loses_and_repeats_nothing(client: Any, lab: Lab, local_service: str) -> None:
    gate = f"gate-{time.monotonic_ns()}"
    cmd = f"sh -c 'echo one; echo oops >&2; {wait_for(gate + 'a')}; echo two; {wait_for(gate + 'b')}; echo three'"
    job = await create_job(client, local_service, cmd)
    targets = targets_of(lab, local_service, 3)
    executor_id = await start(client, job, targets)
    first = await client.get(events_url(job, executor_id))
    assert first.status == 200 and first.headers["Content-Type"].startswith("text/event-stream")
    seen = await until_each_printed(first, "one\n", 3)
    first.close()
    open_gate(lab, targets, gate + "a")  # output goes on while nobody listens
    await until(client, job, executor_id, lambda b: all("two" in (r["Output"] or "") for r in b["Result"]))
    second = await client.get(events_url(job, executor_id), headers={"Last-Event-ID": seen[-1].id})
    seen += await until_each_printed(second, "two\n", 3)
    open_gate(lab, targets, gate + "b")
    seen += await read_until(second)
    assert texts(seen) == await logs(client, job, executor_id, targets)
    assert texts(seen, stream="stdout") == dict.fromkeys(range(3), "one\ntwo\nthree\n")
    assert texts(seen, stream="stderr") == dict.fromkeys(range(3), "oops\n")
    assert [e.event for e in seen].count("end") == 1 and seen[-1].event == "end"
    assert seen[-1].data["State"] == "succeeded" and seen[-1].data["Counts"]["succeeded"] == 3
    finals = {e.data["Index"]: e.data for e in seen if e.event == "target" and e.data["Status"] == "FINISHED"}
    assert sorted(finals) == [0, 1, 2] and all(f["ExitCode"] == 0 and f["EndTime"] for f in finals.values())


async def test_a_finished_execution_is_replayed(client: Any, lab: Lab, local_service: str) -> None:
    job = await create_job(client, local_service, "sh -c 'echo out; sleep 0.2; echo err >&2; exit 4'")
    targets = targets_of(lab, local_service, 2)
    executor_id = await start(client, job, targets)
    await wait_final(client, job, executor_id)
    got = await read_until(await client.get(events_url(job, executor_id)))
    assert [e.event for e in got[:2]] == ["target", "target"] and got[-1].event == "end"
    assert all(e.data["Status"] == "FINISHED" and e.data["ExitCode"] == 4 for e in got[:2])
    assert got[-1].data["State"] == "failed"
    assert texts(got) == await logs(client, job, executor_id, targets) == dict.fromkeys(range(2), "out\nerr\n")
    assert texts(got, stream="stderr") == dict.fromkeys(range(2), "err\n")


async def test_log_follow_ends_at_the_final_status(client: Any, lab: Lab, local_service: str) -> None:
    gate = f"gate-{time.monotonic_ns()}"
    job = await create_job(client, local_service, f"sh -c 'echo start; {wait_for(gate)}; echo done >&2; echo end'")
    (target,) = targets_of(lab, local_service, 1)
    executor_id = await start(client, job, [target])
    url = f"/api/jobs/{job['JobId']}/log/{executor_id}"
    follow = await client.get(url, params={"ContainerId": target["ContainerId"], "Follow": "1"})
    errors = await client.get(url, params={"ContainerId": target["ContainerId"], "Follow": "1", "Stream": "stderr"})
    assert await follow.content.readline() == b"start\n"
    assert (await inspect(client, job, executor_id))["Result"][0]["Status"] == "RUNNING"  # followed as written
    open_gate(lab, [target], gate)
    rest = await follow.text()
    assert (await inspect(client, job, executor_id))["Result"][0]["Status"] == "FINISHED"
    # Docker copies stdout and stderr apart (writes at the same instant may swap): the stored order is the truth
    assert "start\n" + rest == (await logs(client, job, executor_id, [target]))[0]
    assert sorted(rest.splitlines()) == ["done", "end"]
    assert await errors.text() == "done\n"
