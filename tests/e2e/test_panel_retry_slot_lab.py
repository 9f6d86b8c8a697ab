"""Retry from the panel after Swarm replaced a task: the retry runs in the slot's new container (real engine)."""

from __future__ import annotations

import time
import uuid
from typing import Any

import pytest

from tests.e2e.conftest import E2E_APP, E2E_SERVICE, PanelServer
from tests.e2e.panel import Panel, api, tid

pytestmark = [pytest.mark.browser, pytest.mark.engine]

FINAL = {"FINISHED", "CREATE_FAILED", "RUNNING_FAILED"}


def _engine(lab: Any) -> Any:
    import docker

    return docker.APIClient(base_url=lab.manager.unix_url, timeout=30)


def _containers(server: PanelServer) -> list[str]:
    return [c["ContainerId"] for c in api(server, "GET", f"/api/services/{E2E_SERVICE}/containers")]


def _until(check: Any, what: str, timeout_s: float = 60) -> Any:
    deadline = time.monotonic() + timeout_s
    while not (value := check()):
        assert time.monotonic() < deadline, what
        time.sleep(0.2)
    return value


@pytest.mark.parametrize("width", [1024, 1400])
def test_retry_follows_the_task_slot_after_swarm_replaced_the_container(
    panel: Panel, lab_server: PanelServer, e2e_lab: Any, width: int
) -> None:
    flag = f"/tmp/dce-jobs-panel-slot-{uuid.uuid4().hex[:8]}"
    body = {"AppName": E2E_APP, "ServiceName": E2E_SERVICE, "Name": f"槽位-{width}", "Cmd": f"test ! -e {flag}"}
    job = api(lab_server, "POST", "/api/jobs", body)
    old = _containers(lab_server)[0]
    engine = _engine(e2e_lab)
    engine.exec_start(engine.exec_create(old, ["touch", flag])["Id"])  # the job fails in this container only
    node = api(lab_server, "GET", f"/api/services/{E2E_SERVICE}/containers")[0]["NodeId"]
    started = api(
        lab_server, "POST", f"/api/jobs/{job['JobId']}/start", {"Target": [{"ContainerId": old, "NodeId": node}]}
    )
    executor = started["Executors"][-1]
    inspect = f"/api/jobs/{job['JobId']}/inspect/{executor}"
    _until(lambda: api(lab_server, "GET", inspect)["Result"][0]["Status"] in FINAL, "the first run to end")
    engine.kill(old)  # Swarm replaces the task of that slot with a new container (without the flag)
    _until(lambda: len(now := _containers(lab_server)) == 3 and old not in now, "Swarm to replace the task")

    panel.set_width(width)
    panel.open(lab_server.url, f"#/jobs/{job['JobId']}/executions/{executor}")
    panel.wait_text("execution-status", "失败")
    panel.click("retry-failed")
    listed = panel.find(tid("retry-target"), panel.el("confirm-dialog"))
    assert [li.get_attribute("data-container-id") for li in listed] == [old]
    panel.shot(f"retry-slot-{width}-01-confirm")
    panel.confirm(ok=True)
    panel.wait(lambda: not panel.driver.current_url.endswith(executor), what="the retry's page")
    labels = panel.wait(lambda: panel.result_labels() or None, timeout=60, what="the retry's row")
    (new,) = labels
    assert new != old and new in _containers(lab_server)
    panel.wait(lambda: panel.result_labels() == {new: "成功"}, timeout=60, what="the retried target to succeed")
    assert panel.text("result-previous").startswith(f"旧容器 {old[:8]}")
    panel.shot(f"retry-slot-{width}-02-new-container")
