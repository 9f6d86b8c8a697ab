"""Across Swarm nodes for real: routing by NodeId, node verification, node failures (issue 4)."""

from __future__ import annotations

import itertools
import time
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest

from tests.client import create_job, start, wait_final

from .conftest import targets_of, wait_status
from .lab import Lab

pytestmark = pytest.mark.swarm


@pytest.fixture(scope="module")
def spread_service(lab: Lab) -> Iterator[str]:
    """Six replicas, two on each of the three nodes."""
    lab.create_service("djt-spread", 6)
    yield "djt-spread"
    lab.remove_service("djt-spread")


_fault_ids = itertools.count(1)


@pytest.fixture
def fault_service(lab: Lab, request: pytest.FixtureRequest) -> Iterator[str]:
    """A fresh 3-replica service (one task per node); the faulted node is brought back afterwards."""
    name = f"djt-fault-{next(_fault_ids)}"
    lab.create_service(name, 3)
    yield name
    for node in lab.nodes:
        for action in ("resume", "heal", "start"):
            try:
                lab.node_action(node.index, action)
            except Exception:
                pass  # the node was not in that state
    wait_ready(lab)
    lab.remove_service(name)


def wait_ready(lab: Lab, timeout_s: float = 60) -> None:
    """Wait until the manager sees every node Ready."""
    import docker

    client = docker.APIClient(base_url=lab.manager.unix_url, timeout=10)
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        states = [n["Status"]["State"] for n in client.nodes()]
        if states.count("ready") == len(lab.nodes):
            return
        time.sleep(0.5)
    raise AssertionError(f"nodes not ready: {states}")


def hostname_of(lab: Lab, node_id: str) -> str:
    return next(n.hostname for n in lab.nodes if n.node_id == node_id)


def node_of(lab: Lab, index: int) -> str:
    return lab.node(index).node_id


async def test_one_start_across_three_nodes_runs_each_on_its_own_node(
    client: Any, lab: Lab, spread_service: str
) -> None:
    targets = targets_of(lab, spread_service)
    assert Counter(t["NodeId"] for t in targets) == {n.node_id: 2 for n in lab.nodes}
    job = await create_job(client, spread_service, "hostname")
    executor_id = await start(client, job, targets)
    body = await wait_final(client, job, executor_id)
    for target, result in zip(targets, body["Result"], strict=True):
        assert result["Status"] == "FINISHED" and result["ExitCode"] == 0, result
        assert result["NodeId"] == target["NodeId"]
        assert result["Output"].startswith(hostname_of(lab, target["NodeId"]) + "-"), result["Output"]


async def test_service_containers_route_lists_every_node(client: Any, lab: Lab, spread_service: str) -> None:
    response = await client.get(f"/api/services/{spread_service}/containers")
    listed = await response.json()
    assert response.status == 200 and len(listed) == 6
    assert {c["NodeHostname"] for c in listed} == {n.hostname for n in lab.nodes}
    assert all(c["State"] == "running" and len(c["ContainerId"]) == 64 for c in listed)


async def test_an_engine_that_is_not_the_named_node_is_refused(make_client: Any, lab: Lab, spread_service: str) -> None:
    worker = lab.node(2)
    client = await make_client({"DCE_JOBS_NODE_ENDPOINTS": f"{worker.node_id}={lab.node(3).tcp_url}"})
    job = await create_job(client, spread_service, "hostname")
    targets = [t for t in targets_of(lab, spread_service) if t["NodeId"] == worker.node_id][:1]
    executor_id = await start(client, job, targets)
    (result,) = (await wait_final(client, job, executor_id))["Result"]
    assert result["Status"] == "CREATE_FAILED"
    assert f"belongs to node {lab.node(3).node_id}" in result["E"] and "refusing" in result["E"]


async def test_explicit_endpoint_map_by_hostname(make_client: Any, lab: Lab, spread_service: str) -> None:
    worker = lab.node(3)
    client = await make_client({"DCE_JOBS_NODE_ENDPOINTS": f"{worker.hostname}={worker.unix_url}"})
    job = await create_job(client, spread_service, "hostname")
    targets = [t for t in targets_of(lab, spread_service) if t["NodeId"] == worker.node_id]
    executor_id = await start(client, job, targets)
    body = await wait_final(client, job, executor_id)
    assert [r["Status"] for r in body["Result"]] == ["FINISHED"] * len(targets)


async def test_worker_killed_before_start_fails_fast_others_finish(client: Any, lab: Lab, fault_service: str) -> None:
    targets = targets_of(lab, fault_service)
    assert {t["NodeId"] for t in targets} == {n.node_id for n in lab.nodes}
    job = await create_job(client, fault_service, "hostname")
    lab.node_action(3, "kill")
    started = time.monotonic()
    executor_id = await start(client, job, targets)  # the manager still lists the task for a few seconds
    body = await wait_final(client, job, executor_id, timeout_s=30)
    elapsed_s = time.monotonic() - started
    for result in body["Result"]:
        if result["NodeId"] == node_of(lab, 3):
            assert result["Status"] == "CREATE_FAILED", result
            assert "unreachable" in result["E"] or "connect" in result["E"].lower(), result["E"]
        else:
            assert result["Status"] == "FINISHED" and result["ExitCode"] == 0, result
    assert elapsed_s < 15, elapsed_s


@pytest.mark.parametrize("fault", ["kill", "partition"])
async def test_worker_lost_mid_run_ends_running_failed_others_finish(
    client: Any, lab: Lab, fault_service: str, fault: str
) -> None:
    targets = targets_of(lab, fault_service)
    job = await create_job(client, fault_service, "sh -c 'echo begin; sleep 6; echo end'")
    executor_id = await start(client, job, targets)
    await wait_status(client, job, executor_id, {"RUNNING"})
    lab.node_action(2, fault)
    lost_at = time.monotonic()
    body = await wait_final(client, job, executor_id, timeout_s=60)
    final_after_s = time.monotonic() - lost_at
    for result in body["Result"]:
        if result["NodeId"] == node_of(lab, 2):
            assert result["Status"] == "RUNNING_FAILED", result
            # the E names the lost node and never suggests the output completed normally
            assert node_of(lab, 2) in result["E"] and not result["E"].startswith("output complete"), result
            assert result["EndReason"] == "node_lost", result
        else:
            assert (result["Status"], result["Output"]) == ("FINISHED", "begin\nend\n"), result
    assert final_after_s < 30, final_after_s


async def test_paused_engine_does_not_hang_the_run(client: Any, lab: Lab, fault_service: str) -> None:
    targets = targets_of(lab, fault_service)
    job = await create_job(client, fault_service, "sh -c 'sleep 3; echo end'")
    executor_id = await start(client, job, targets)
    await wait_status(client, job, executor_id, {"RUNNING"})
    lab.node_action(3, "pause")
    body = await wait_final(client, job, executor_id, timeout_s=60)
    for result in body["Result"]:
        expected = "RUNNING_FAILED" if result["NodeId"] == node_of(lab, 3) else "FINISHED"
        assert result["Status"] == expected, result


async def test_paused_engine_before_start_fails_its_targets_within_the_timeouts(
    client: Any, lab: Lab, fault_service: str
) -> None:
    targets = targets_of(lab, fault_service)
    job = await create_job(client, fault_service, "hostname")
    lab.node_action(2, "pause")
    started = time.monotonic()
    executor_id = await start(client, job, targets)
    body = await wait_final(client, job, executor_id, timeout_s=60)
    for result in body["Result"]:
        expected = "CREATE_FAILED" if result["NodeId"] == node_of(lab, 2) else "FINISHED"
        assert result["Status"] == expected, result
    assert time.monotonic() - started < 30
