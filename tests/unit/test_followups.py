"""Automatic retries and StatusHook deliveries over the fake engine, with short delays (issue 15, items 2 and 3)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from dce_jobs.keys import FOLLOW_UPS, STORE
from dce_jobs.models import TaskState
from tests.client import all_final, create_job, inspect, start, until
from tests.fakes.engine import SERVICE, FakeSwarm
from tests.hook_receiver import Receiver, verified

Maker = Callable[..., Awaitable[tuple[TestClient[Any, Any], FakeSwarm]]]
SECRET = "hook-s3cret"
FAST = {
    "DCE_JOBS_FOLLOW_UP_POLL_S": "0.05",
    "DCE_JOBS_HOOK_SECRET": SECRET,
    "DCE_JOBS_HOOK_BACKOFF_S": "0.05",
    "DCE_JOBS_HOOK_TIMEOUT_S": "0.5",
}


async def _job(client: TestClient[Any, Any], cmd: str = "echo hi", **fields: Any) -> dict[str, Any]:
    return await create_job(client, SERVICE, cmd, app="unit", SecretArgs=["hunter2"], **fields)


async def _executors(client: TestClient[Any, Any], job: dict[str, Any]) -> list[str]:
    return (await (await client.get(f"/api/jobs/{job['JobId']}")).json())["Executors"]  # type: ignore[no-any-return]


async def _chain(client: TestClient[Any, Any], job: dict[str, Any], length: int) -> list[dict[str, Any]]:
    """The inspect bodies of the first `length` executions once each has ended and its follow-ups are recorded."""
    for _ in range(2000):
        ids = await _executors(client, job)
        if len(ids) >= length:
            break
        await asyncio.sleep(0.01)
    bodies = [await until(client, job, executor_id, all_final) for executor_id in ids]
    await client.server.app[FOLLOW_UPS].idle()
    return bodies


# -- retries --------------------------------------------------------------------------------------


async def test_failed_targets_are_retried_automatically_up_to_retries(fake_app: Maker) -> None:
    client, swarm = await fake_app(FAST)
    swarm.failing.add(swarm.containers[1])
    job = await _job(client, Retries=2, RetryDelay=0)
    assert (job["Retries"], job["RetryDelay"]) == (2, 0)
    await start(client, job)
    first, second, third = await _chain(client, job, 3)
    assert [b["Counts"]["failed"] for b in (first, second, third)] == [1, 1, 1]
    assert [len(b["Result"]) for b in (first, second, third)] == [4, 1, 1]  # only the failed target again
    assert second["Result"][0]["ContainerId"] == swarm.containers[1]
    assert (first["RetryOf"], first["RetriedBy"], first["RetryAttempt"]) == (None, second["ExecutorId"], 0)
    assert (second["RetryOf"], second["RetriedBy"], second["RetryAttempt"]) == (
        first["ExecutorId"],
        third["ExecutorId"],
        1,
    )
    assert (third["RetryOf"], third["RetriedBy"], third["RetryAttempt"]) == (second["ExecutorId"], None, 2)
    assert len(await _executors(client, job)) == 3  # no fourth: the chain used its two retries


async def test_a_retry_that_succeeds_ends_the_chain(fake_app: Maker) -> None:
    client, swarm = await fake_app(FAST)
    swarm.failing.add(swarm.containers[0])
    job = await _job(client, Retries=5, RetryDelay=0.05)
    first_id = await start(client, job)
    await until(client, job, first_id, all_final)
    swarm.failing.clear()
    first, second = await _chain(client, job, 2)
    assert second["State"] == "succeeded" and second["RetryOf"] == first["ExecutorId"]
    await asyncio.sleep(0.2)  # a further retry would be due by now (not a timing assertion: nothing may come)
    assert len(await _executors(client, job)) == 2


async def test_no_retry_of_an_execution_stopped_by_a_user(fake_app: Maker) -> None:
    client, swarm = await fake_app(FAST, containers=2)
    swarm.failing.add(swarm.containers[0])
    job = await _job(client, "sleep 30", Retries=3, RetryDelay=0)
    executor_id = await start(client, job)
    await until(client, job, executor_id, lambda b: b["Counts"]["failed"] == 1 and b["Counts"]["running"] == 1)
    await client.post(f"/api/jobs/{job['JobId']}/executors/{executor_id}/stop", json={})
    (body,) = await _chain(client, job, 1)
    assert body["State"] == "stopped"
    assert await client.server.app[STORE].list_follow_ups(job["JobId"], executor_id) == []
    assert await _executors(client, job) == [executor_id]


async def test_a_stop_cancels_a_retry_waiting_for_its_delay_and_delete_drops_it(fake_app: Maker) -> None:
    client, swarm = await fake_app(FAST, containers=1)
    swarm.failing.add(swarm.containers[0])
    job = await _job(client, Retries=1, RetryDelay=3600)
    executor_id = await start(client, job)
    await _chain(client, job, 1)
    store = client.server.app[STORE]
    (task,) = await store.list_follow_ups(job["JobId"], executor_id)
    assert (task.kind, task.state) == ("retry", TaskState.PENDING)
    await client.post(f"/api/jobs/{job['JobId']}/executors/{executor_id}/stop", json={})
    await client.server.app[FOLLOW_UPS].idle()
    (task,) = await store.list_follow_ups(job["JobId"], executor_id)
    assert task.state is TaskState.CANCELLED

    other = await _job(client, Retries=1, RetryDelay=3600)
    await start(client, other)
    await _chain(client, other, 1)
    assert len(await store.list_pending_follow_ups()) == 1
    assert (await client.delete(f"/api/jobs/{other['JobId']}")).status == 202
    assert await store.list_pending_follow_ups() == []


async def test_a_manual_retry_records_retried_by(fake_app: Maker) -> None:
    client, swarm = await fake_app(FAST, containers=1)
    swarm.failing.add(swarm.containers[0])
    job = await _job(client)
    first = await start(client, job)
    await until(client, job, first, all_final)
    response = await client.post(f"/api/jobs/{job['JobId']}/executors/{first}/retry", json={})
    again = (await response.json())["Executors"][-1]
    assert (await inspect(client, job, first))["RetriedBy"] == again
    assert (await inspect(client, job, again))["RetryAttempt"] == 0


async def test_a_retry_due_while_the_service_was_down_runs_once_at_start_up(make_client: Any, tmp_path: Path) -> None:
    swarm = FakeSwarm(containers=2)
    swarm.failing.add(swarm.containers[0])
    from dce_jobs.config import from_env
    from dce_jobs.nodes import NodePool

    settings = {"DCE_JOBS_DOCKER_HOST": "unix:///fake.sock", **FAST}

    async def serve() -> TestClient[Any, Any]:
        return await make_client(settings, nodes=NodePool(from_env(settings), client_factory=swarm.factory))

    client = await serve()
    job = await _job(client, Retries=1, RetryDelay=3600)
    first = await start(client, job)
    await _chain(client, job, 1)
    store = client.server.app[STORE]
    (task,) = await store.list_follow_ups(job["JobId"], first)
    await store.save_follow_up(task.replace(due_at=task.due_at - 7200))  # as if the delay passed while down
    await client.close()

    for _ in range(2):  # the first start-up runs it; the second finds it done
        client = await serve()
        _, retried = await _chain(client, job, 2)
        assert retried["RetryOf"] == first and retried["RetryAttempt"] == 1
        # the retry's execution may end (fake engine) before its follow-up is saved done, one store write later
        for _ in range(500):
            (task,) = await client.server.app[STORE].list_follow_ups(job["JobId"], first)
            if task.state is TaskState.DONE:
                break
            await asyncio.sleep(0.02)
        assert task.state is TaskState.DONE
        await client.close()
    assert len(await _executors(await serve(), job)) == 2


# -- hooks ----------------------------------------------------------------------------------------


def _verified(headers: dict[str, str], body: bytes) -> bool:
    return verified(SECRET, body, headers["X-DCE-Jobs-Signature"])


async def _deliveries(client: TestClient[Any, Any], job: dict[str, Any], executor_id: str, state: str) -> Any:
    body = await until(
        client, job, executor_id, lambda b: b["HookDeliveries"] and b["HookDeliveries"][-1]["State"] == state
    )
    return body


async def test_a_hook_that_fails_first_is_retried_with_the_same_delivery_id(fake_app: Maker) -> None:
    client, swarm = await fake_app(FAST, containers=2)
    swarm.failing.add(swarm.containers[1])
    receiver = Receiver(500, 503, 200)
    async with receiver as url:
        job = await _job(client, StatusHook=url)
        assert (job["StatusHook"], job["StatusHookEvents"]) == (url, ["end"])
        executor_id = await start(client, job)
        body = await _deliveries(client, job, executor_id, "done")
    (delivery,) = body["HookDeliveries"]
    assert [a["Status"] for a in delivery["Attempts"]] == [500, 503, 200]
    assert [a["Error"] for a in delivery["Attempts"]] == ["HTTP 500", "HTTP 503", ""]
    assert delivery["Event"] == "end" and delivery["NextAttemptAt"] is None
    assert len(receiver.requests) == 3
    ids = {headers["X-DCE-Jobs-Delivery"] for headers, _ in receiver.requests}
    assert ids == {delivery["DeliveryId"]} and len({raw for _, raw in receiver.requests}) == 1
    headers, raw = receiver.requests[-1]
    assert _verified(headers, raw) and headers["X-DCE-Jobs-Event"] == "end"
    sent = json.loads(raw)
    assert (sent["Event"], sent["JobId"], sent["ExecutorId"], sent["State"]) == (
        "end",
        job["JobId"],
        executor_id,
        "failed",
    )
    assert [(r["Status"], r["ExitCode"], r["EndReason"]) for r in sent["Result"]] == [
        ("FINISHED", 0, "exited"),
        ("FINISHED", 1, "exited"),
    ]
    assert sent["Counts"]["failed"] == 1 and sent["DurationS"] >= 0
    assert b"hunter2" not in raw and b"Output" not in raw and b"failing container" not in raw


async def test_a_hook_that_never_answers_neither_delays_nor_fails_the_execution(fake_app: Maker) -> None:
    client, _ = await fake_app({**FAST, "DCE_JOBS_HOOK_TIMEOUT_S": "0.1", "DCE_JOBS_HOOK_RETRY_WINDOW_S": "3"})
    receiver = Receiver(None)
    async with receiver as url:
        job = await _job(client, StatusHook=url, StatusHookEvents=["start", "end"])
        executor_id = await start(client, job)
        ended = await until(client, job, executor_id, all_final)
        assert ended["State"] == "succeeded"
        body = await until(
            client,
            job,
            executor_id,
            lambda b: len(b["HookDeliveries"]) == 2 and all(d["State"] == "failed" for d in b["HookDeliveries"]),
        )
    assert [d["Event"] for d in body["HookDeliveries"]] == ["start", "end"]
    for delivery in body["HookDeliveries"]:
        assert len(delivery["Attempts"]) >= 2
        assert {a["Error"] for a in delivery["Attempts"]} == {"no answer within 0.1 s"}
    assert body["State"] == "succeeded"


async def test_a_pending_delivery_survives_a_restart_and_is_sent_once(make_client: Any) -> None:
    swarm = FakeSwarm(containers=1)
    from dce_jobs.config import from_env
    from dce_jobs.nodes import NodePool

    receiver = Receiver(500, 200)
    async with receiver as url:
        settings = {"DCE_JOBS_DOCKER_HOST": "unix:///fake.sock", **FAST, "DCE_JOBS_HOOK_BACKOFF_S": "3600"}

        async def serve() -> TestClient[Any, Any]:
            return await make_client(settings, nodes=NodePool(from_env(settings), client_factory=swarm.factory))

        client = await serve()
        job = await _job(client, StatusHook=url)
        executor_id = await start(client, job)
        await until(client, job, executor_id, lambda b: b["HookDeliveries"] and b["HookDeliveries"][0]["Attempts"])
        store = client.server.app[STORE]
        (task,) = await store.list_follow_ups(job["JobId"], executor_id)
        await store.save_follow_up(task.replace(due_at=0.0))  # the back-off ran out while the service was down
        await client.close()
        for _ in range(2):
            client = await serve()
            body = await _deliveries(client, job, executor_id, "done")
            await client.close()
    assert [a["Status"] for a in body["HookDeliveries"][0]["Attempts"]] == [500, 200]
    assert len(receiver.requests) == 2
    assert len({h["X-DCE-Jobs-Delivery"] for h, _ in receiver.requests}) == 1


@pytest.mark.parametrize(
    ("env", "fields", "message"),
    [
        ({}, {"StatusHook": "ftp://x.example/h"}, "StatusHook: Must be an http:// or https:// URL with a host."),
        ({}, {"StatusHook": "https://user:pw@x.example/h"}, "StatusHook: Must not carry credentials"),
        ({}, {"StatusHook": "https://x.example:99999/h"}, "StatusHook: Has an invalid port."),
        ({}, {"StatusHook": "https://x.example/a b"}, "StatusHook: Must not contain spaces"),
        ({}, {"StatusHookEvents": ["end", "end"]}, "StatusHookEvents: Lists a value twice."),
        ({}, {"StatusHookEvents": ["done"]}, "StatusHookEvents.0: Must be one of: start, end."),
        (
            {"DCE_JOBS_HOOK_ALLOWED_HOSTS": "hooks.example"},
            {"StatusHook": "https://x.example/h"},
            "StatusHook: host x.example is not in",
        ),
        (
            {"DCE_JOBS_HOOK_SECRET": ""},
            {"StatusHook": "https://x.example/h"},
            "StatusHook: the server has no DCE_JOBS_HOOK_SECRET",
        ),
        ({}, {"Retries": 11}, "Retries: Must be greater than or equal to 0 and less than or equal to 10."),
        ({}, {"Retries": "1"}, "Retries: Not a valid integer."),
        ({}, {"RetryDelay": -1}, "RetryDelay: Must be greater than or equal to 0"),
    ],
)
async def test_bad_hook_and_retry_settings_are_refused(
    fake_app: Maker, env: dict[str, str], fields: dict[str, Any], message: str
) -> None:
    client, _ = await fake_app({**FAST, **env})
    body = {"AppName": "unit", "ServiceName": SERVICE, "Name": "h", "Cmd": "echo", **fields}
    response = await client.post("/api/jobs", json=body)
    assert response.status == 400
    assert (await response.json())["message"].startswith(message)
    assert await (await client.get("/api/jobs")).json() == []


async def test_two_processes_on_one_store_deliver_a_hook_once(make_client: Any) -> None:
    from dce_jobs.config import from_env
    from dce_jobs.nodes import NodePool

    swarm = FakeSwarm(containers=1)
    settings = {"DCE_JOBS_DOCKER_HOST": "unix:///fake.sock", **FAST, "DCE_JOBS_FOLLOW_UP_POLL_S": "0.01"}
    receiver = Receiver(200)
    async with receiver as url:
        one, two = [
            await make_client(settings, nodes=NodePool(from_env(settings), client_factory=swarm.factory))
            for _ in range(2)
        ]
        job = await _job(one, StatusHook=url)
        for _ in range(5):
            executor_id = await start(one, job)
            await _deliveries(two, job, executor_id, "done")
    assert len(receiver.requests) == 5
    assert len({h["X-DCE-Jobs-Delivery"] for h, _ in receiver.requests}) == 5


async def test_a_follow_up_of_a_deleted_execution_is_dropped_not_sent(fake_app: Maker) -> None:
    client, _ = await fake_app(FAST, containers=1)
    receiver = Receiver(200)
    async with receiver as url:
        job = await _job(client, StatusHook=url)
        executor_id = await start(client, job)
        (delivered,) = (await _deliveries(client, job, executor_id, "done"))["HookDeliveries"]
        store = client.server.app[STORE]
        (task,) = await store.list_follow_ups(job["JobId"], executor_id)
        assert (await client.delete(f"/api/jobs/{job['JobId']}")).status == 202
        # as if the end had been recorded just after the DELETE removed everything of the job
        await store.save_follow_up(task.replace(task_id="late", state=TaskState.PENDING, attempts=()))
        for _ in range(500):
            if not await store.list_pending_follow_ups():
                break
            await asyncio.sleep(0.01)
    assert await store.list_pending_follow_ups() == []
    assert await store.list_follow_ups(job["JobId"], executor_id) == []
    assert [h["X-DCE-Jobs-Delivery"] for h, _ in receiver.requests] == [delivered["DeliveryId"]]


async def test_an_automatic_retry_is_started_by_retry_and_not_audited_as_a_user_action(fake_app: Maker) -> None:
    client, swarm = await fake_app(FAST)
    swarm.failing.add(swarm.containers[1])
    job = await _job(client, Retries=1, RetryDelay=0)
    await start(client, job)
    first, second = await _chain(client, job, 2)
    assert (first["Trigger"], second["Trigger"]) == ("manual", "retry")
    assert (second["StartedBy"], second["RetryAttempt"]) == ("retry", 1)
    history = await (await client.get(f"/api/jobs/{job['JobId']}/executors")).json()
    assert [(e["Trigger"], e["StartedBy"]) for e in history] == [("retry", "retry"), ("manual", first["StartedBy"])]
    audit = await (await client.get("/api/audit")).json()
    assert [(a["Action"], a["ExecutorId"]) for a in audit] == [("start", first["ExecutorId"]), ("create", None)]
