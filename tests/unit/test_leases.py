"""Replicas on one store: a run of a live owner is left to it (409 on control), adopted once its lease expires."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from dce_jobs import keys
from dce_jobs.config import from_env
from dce_jobs.errors import ConfigError
from dce_jobs.execs import run_marker
from dce_jobs.leases import Owner
from dce_jobs.models import ContainerResult, Execution, Lease, Status, Target
from dce_jobs.nodes import NodePool
from dce_jobs.store.sqlite import SqliteStore
from tests.client import all_final, inspect, until
from tests.fakes.engine import NODE_ID, SERVICE, FakeSwarm
from tests.store.records import make_job

from .test_schedules import T0, Clock

EXECUTOR = "1795687190.000001"


async def orphan_of_replica_a(data_dir: Path, swarm: FakeSwarm, clock: Clock) -> tuple[dict[str, Any], Any]:
    """A job whose execution runs a real (fake-engine) `sleep 30` owned by replica-a on another host."""
    store = SqliteStore(data_dir / "dce-jobs.sqlite3")
    await store.open()
    job = make_job("nightly", "unit", service_name=SERVICE)
    await store.create_job(job)
    container_id = swarm.containers[0]
    execution = Execution(
        job_id=job.job_id,
        executor_id=EXECUTOR,
        created_at=clock(),
        targets=(Target(container_id=container_id, node_id=NODE_ID),),
        owner_id="replica-a",
    )
    engine = swarm.factory(base_url="")
    exec_id = engine.exec_create(container_id, ["sleep", "30"], environment=[run_marker(job.job_id, EXECUTOR, 0)])["Id"]
    sock = engine._post_json(f"/exec/{exec_id}/start")
    result = ContainerResult(
        job_id=job.job_id,
        executor_id=EXECUTOR,
        index=0,
        container_id=container_id,
        node_id=NODE_ID,
        status=Status.RUNNING,
        exec_id=exec_id,
        started_at=clock(),
    )
    await store.create_execution(execution, [result])
    await store.renew_lease(Lease("replica-a", clock() + 30, host="a-host", pid=4242))
    await store.close()
    return {"JobId": job.job_id}, sock


async def test_a_second_replica_leaves_a_live_owners_run_alone_and_adopts_it_once_the_lease_expires(
    make_client: Any, tmp_path: Path
) -> None:
    clock, swarm = Clock(T0), FakeSwarm(containers=1)
    job, sock = await orphan_of_replica_a(tmp_path / "data", swarm, clock)
    settings = {"DCE_JOBS_DOCKER_HOST": "unix:///fake.sock", "DCE_JOBS_SCHEDULER_TICK_S": "60"}
    store = SqliteStore(tmp_path / "data" / "dce-jobs.sqlite3")
    owner = Owner(store=store, renew_s=10, expiry_s=30, clock=clock, owner_id="replica-b", host="b-host", pid=1)
    nodes = NodePool(from_env(settings), client_factory=swarm.factory)
    client = await make_client(settings, nodes=nodes, store=store, owner=owner, clock=clock)
    runner = client.app[keys.RUNNER]
    await runner._recovered.wait()
    try:
        body = await inspect(client, job, EXECUTOR)
        assert body["Owner"] == "replica-a" and [r["Status"] for r in body["Result"]] == ["RUNNING"]
        stop = await client.post(f"/api/jobs/{job['JobId']}/executors/{EXECUTOR}/stop", json={})
        assert stop.status == 409
        refused = await stop.json()
        assert refused["id"] == "execution_owned_elsewhere" and "replica-a" in refused["message"]
        delete = await client.delete(f"/api/jobs/{job['JobId']}")
        assert delete.status == 409
        assert await runner.adopt() == 0
        assert any(e.running for e in swarm.execs.values())

        clock.advance(31)  # replica-a stopped renewing: its lease expires
        assert await runner.adopt() == 1
        assert await runner.adopt() == 0
        assert (await inspect(client, job, EXECUTOR))["Owner"] == "replica-b"
        assert not await store.take_over_execution(job["JobId"], EXECUTOR, from_owner="replica-a", to_owner="c")
        stop = await client.post(f"/api/jobs/{job['JobId']}/executors/{EXECUTOR}/stop", json={})
        assert stop.status == 200
        body = await until(client, job, EXECUTOR, all_final)
        assert [r["EndReason"] for r in body["Result"]] == ["stopped"]
        assert not any(e.running for e in swarm.execs.values())
        assert (await client.delete(f"/api/jobs/{job['JobId']}")).status == 202
    finally:
        sock.close()


async def test_an_owner_on_this_host_whose_process_is_gone_need_not_wait_for_its_lease(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "dce-jobs.sqlite3")
    await store.open()
    try:
        clock = Clock(T0)
        me = Owner(store=store, renew_s=1, expiry_s=3, clock=clock, owner_id="me", host="h", pid=100)
        await me.renew()
        await store.renew_lease(Lease("dead", T0 + 30, host="h", pid=2**22 + 12345))  # no such pid
        await store.renew_lease(Lease("reused", T0 + 30, host="h", pid=100))  # the pid this process now has
        await store.renew_lease(Lease("far", T0 + 30, host="elsewhere", pid=2**22 + 12345))
        await store.renew_lease(Lease("late", T0 - 1, host="elsewhere", pid=1))
        assert await me.alive() == {"me", "far"}
        await me.release()
        assert {lease.owner_id for lease in await store.list_leases()} == {"dead", "reused", "far", "late"}
    finally:
        await store.close()


def test_a_lease_expiry_shorter_than_two_renewals_is_refused_at_start() -> None:
    config = from_env({"DCE_JOBS_LEASE_RENEW_S": "2", "DCE_JOBS_LEASE_EXPIRY_S": "5", "DCE_JOBS_MISSED_FIRE_S": "0"})
    assert (config.lease_renew_s, config.lease_expiry_s, config.missed_fire_s) == (2.0, 5.0, 0.0)
    with pytest.raises(ConfigError, match="DCE_JOBS_LEASE_EXPIRY_S=3 must be at least twice"):
        from_env({"DCE_JOBS_LEASE_RENEW_S": "2", "DCE_JOBS_LEASE_EXPIRY_S": "3"})
    with pytest.raises(ConfigError, match="DCE_JOBS_SCHEDULER_TICK_S"):
        from_env({"DCE_JOBS_SCHEDULER_TICK_S": "0"})
