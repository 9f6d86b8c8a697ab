"""The test-side words of the API over an aiohttp TestClient: one set for the unit and the engine tests."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

from aiohttp.test_utils import TestClient

FINAL = frozenset({"FINISHED", "CREATE_FAILED", "RUNNING_FAILED"})


async def create_job(
    client: TestClient[Any, Any], service: str, cmd: str, *, app: str = "it", **fields: Any
) -> dict[str, Any]:
    """POST a job (a unique name) and return it."""
    body = {"AppName": app, "ServiceName": service, "Name": f"job-{time.monotonic_ns()}", "Cmd": cmd, **fields}
    response = await client.post("/api/jobs", json=body)
    assert response.status == 200, await response.text()
    return await response.json()  # type: ignore[no-any-return]


async def start(
    client: TestClient[Any, Any], job: dict[str, Any], targets: list[dict[str, str]] | None = None, **body: Any
) -> str:
    """Start a job (on `targets`, else every running container) and return the new ExecutorId."""
    payload = {**body, **({"Target": targets} if targets is not None else {})}
    response = await client.post(f"/api/jobs/{job['JobId']}/start", json=payload)
    assert response.status == 200, await response.text()
    return (await response.json())["Executors"][-1]  # type: ignore[no-any-return]


async def inspect(client: TestClient[Any, Any], job: dict[str, Any], executor_id: str) -> dict[str, Any]:
    """GET inspect of one execution."""
    response = await client.get(f"/api/jobs/{job['JobId']}/inspect/{executor_id}")
    assert response.status == 200, await response.text()
    return await response.json()  # type: ignore[no-any-return]


async def until(
    client: TestClient[Any, Any],
    job: dict[str, Any],
    executor_id: str,
    check: Callable[[dict[str, Any]], bool],
    *,
    timeout_s: float = 20,
    poll_s: float = 0.02,
) -> dict[str, Any]:
    """Poll inspect until `check` holds; fail after timeout_s."""
    deadline = time.monotonic() + timeout_s
    while not check(body := await inspect(client, job, executor_id)):
        assert time.monotonic() < deadline, f"not there after {timeout_s} s: {[r['Status'] for r in body['Result']]}"
        await asyncio.sleep(poll_s)
    return body


def all_final(body: dict[str, Any]) -> bool:
    """Every Result of an inspect body is final."""
    return all(r["Status"] in FINAL for r in body["Result"])


async def wait_final(
    client: TestClient[Any, Any], job: dict[str, Any], executor_id: str, *, timeout_s: float = 60
) -> dict[str, Any]:
    """Poll inspect until every Result is final; fail after timeout_s."""
    return await until(client, job, executor_id, all_final, timeout_s=timeout_s, poll_s=0.2)
