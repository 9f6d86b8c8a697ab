"""The retention sweep in the app: a running execution is never swept, a swept one is gone from every route."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp.test_utils import TestClient

from dce_jobs.keys import SWEEPER
from tests.client import all_final, create_job, start, until
from tests.fakes.engine import SERVICE, FakeSwarm

Maker = Callable[..., Awaitable[tuple[TestClient[Any, Any], FakeSwarm]]]


async def test_the_sweep_keeps_the_newest_and_the_running(fake_app: Maker) -> None:
    client, _ = await fake_app({"DCE_JOBS_KEEP_EXECUTIONS": "1", "DCE_JOBS_SWEEP_INTERVAL_S": "3600"}, containers=1)
    job = await create_job(client, SERVICE, "sleep 30", app="unit")
    running = await start(client, job)
    quick = await create_job(client, SERVICE, "echo hi", app="unit")
    old = [await start(client, quick) for _ in range(3)]
    for executor_id in old:
        await until(client, quick, executor_id, all_final)
    await until(client, job, running, lambda b: b["Counts"]["running"] == 1)
    newest = await start(client, job)  # the running one is now beyond the newest 1

    assert await client.server.app[SWEEPER].sweep() == 2
    assert (await (await client.get(f"/api/jobs/{quick['JobId']}")).json())["Executors"] == old[2:]
    assert running in (await (await client.get(f"/api/jobs/{job['JobId']}")).json())["Executors"]
    for route in (f"inspect/{old[0]}", f"log/{old[0]}"):
        response = await client.get(f"/api/jobs/{quick['JobId']}/{route}")
        assert (response.status, (await response.json())["id"]) == (404, "executor_id_not_found")
    for executor_id in (running, newest):
        await client.post(f"/api/jobs/{job['JobId']}/executors/{executor_id}/stop", json={})
