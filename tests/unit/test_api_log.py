"""The whole-log download's header lines read in English and in the panel's Chinese."""

from __future__ import annotations

from typing import Any

from dce_jobs import keys
from dce_jobs.models import ContainerResult, Execution, Status, Target

from .conftest import job_body


async def test_whole_log_headers_carry_the_status_in_english_and_chinese(client: Any) -> None:
    job = await (await client.post("/api/jobs", json=job_body())).json()
    store = client.app[keys.STORE]
    executor_id = "1700000000.100000"
    targets = [Target(container_id=c * 64, node_id="node1") for c in "ab"]
    results = [
        ContainerResult(
            job_id=job["JobId"],
            executor_id=executor_id,
            index=i,
            container_id=t.container_id,
            node_id=t.node_id,
            status=status,
            exec_id=f"{i:064x}",
            exit_code=code,
        )
        for i, (t, status, code) in enumerate(zip(targets, (Status.FINISHED, Status.RUNNING_FAILED), (3, None)))
    ]
    execution = Execution(job_id=job["JobId"], executor_id=executor_id, created_at=1.0, targets=tuple(targets))
    await store.create_execution(execution, results)
    text = await (await client.get(f"/api/jobs/{job['JobId']}/log/{executor_id}")).text()
    assert f"===== container {'a' * 64} on node node1: FINISHED, exit code 3 · 已结束，退出码 3 =====\n" in text
    assert f"===== container {'b' * 64} on node node1: RUNNING_FAILED · 运行失败 =====\n" in text
