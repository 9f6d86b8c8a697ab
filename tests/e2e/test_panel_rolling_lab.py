"""A real rolling run from the panel on the lab's swarm: one at a time, paused by a failure, resumed, retried."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from tests.e2e.conftest import E2E_APP, E2E_SERVICE, PanelServer
from tests.e2e.panel import Panel, api, tid

pytestmark = [pytest.mark.browser, pytest.mark.engine]


def _flag(lab: Any, container_id: str, path: str, *, present: bool) -> None:
    """Create or remove the file that makes the job fail in one container (through the lab's engine)."""
    import docker

    client = docker.APIClient(base_url=lab.manager.unix_url, timeout=30)
    cmd = ["touch", path] if present else ["rm", "-f", path]
    client.exec_start(client.exec_create(container_id, cmd)["Id"])


@pytest.mark.parametrize("width", [1024, 1400])
def test_start_one_at_a_time_pause_on_failure_resume_and_retry(
    panel: Panel, lab_server: PanelServer, e2e_lab: Any, width: int
) -> None:
    from selenium.webdriver.support.ui import Select

    flag = f"/tmp/dce-jobs-panel-fail-{uuid.uuid4().hex[:8]}"
    job = api(
        lab_server,
        "POST",
        "/api/jobs",
        {"AppName": E2E_APP, "ServiceName": E2E_SERVICE, "Name": f"分批-{width}", "Cmd": f"test ! -e {flag}"},
    )
    panel.set_width(width)
    panel.open(lab_server.url, f"#/jobs/{job['JobId']}")
    panel.wait_text("job-rolling-value", "全部同时执行")

    # Start on all three, one at a time, pausing at the first failure: overrides of this run only.
    panel.click("start-job")
    panel.wait(lambda: len(panel.find(tid("container-row"))) == 3, timeout=30, what="three running containers")
    dialog = panel.el("start-dialog")
    order = [r.get_attribute("data-container-id") for r in panel.find(tid("container-row"), dialog)]
    _flag(e2e_lab, order[1], flag, present=True)  # the second target fails; the third must then wait
    panel.click("select-all-containers", dialog)
    panel.click("start-rolling-toggle", dialog)
    panel.fill("start-parallelism", "1", dialog)
    Select(panel.el("start-failureaction", dialog)).select_by_value("pause")
    panel.shot(f"rolling-lab-{width}-01-start-overrides")
    panel.click("confirm-start")
    panel.gone(tid("start-dialog"), timeout=30)

    panel.el("paused-note", timeout=60)
    panel.wait_text("execution-status", "已暂停")
    executor = api(lab_server, "GET", f"/api/jobs/{job['JobId']}")["Executors"][-1]
    body = api(lab_server, "GET", f"/api/jobs/{job['JobId']}/inspect/{executor}")
    assert body["State"] == "paused" and (body["Parallelism"], body["FailureAction"]) == (1, "pause")
    panel.wait(lambda: _count(panel, "waiting") == "1" and _count(panel, "failed") == "1", what="the counts")
    assert _count(panel, "succeeded") == "1" and _count(panel, "running") == "0"
    assert panel.text("execution-rolling") == "每次 1 个 · 任一失败即暂停"
    labels = panel.result_labels()
    assert [labels[c] for c in order] == ["成功", "失败", "等待中"]
    panel.shot(f"rolling-lab-{width}-02-paused")

    # 继续: the waiting target starts, and the run ends partly failed with its end time.
    panel.click("resume-execution")
    panel.wait(lambda: panel.result_labels().get(order[2]) == "成功", timeout=60, what="the third target to run")
    panel.gone(tid("paused-note"))
    panel.wait_text("execution-status", "部分失败")
    panel.wait(lambda: _count(panel, "succeeded") == "2" and _count(panel, "waiting") == "0", what="final counts")
    panel.wait(lambda: panel.el("poll-state").get_attribute("data-state") == "done", what="polling to stop")
    assert panel.text("execution-end") != "—"
    panel.shot(f"rolling-lab-{width}-03-resumed")

    # Retry asks first, names the failed container; once the cause is gone it succeeds, and links back.
    _flag(e2e_lab, order[1], flag, present=False)
    panel.click("retry-failed")
    listed = panel.find(tid("retry-target"), panel.el("confirm-dialog"))
    assert [li.get_attribute("data-container-id") for li in listed] == [order[1]]
    assert "任务槽位" in listed[0].text
    panel.shot(f"rolling-lab-{width}-04-retry-confirm")
    panel.confirm(ok=True)
    panel.wait(lambda: not panel.driver.current_url.endswith(executor), what="the retry's page")
    panel.wait(lambda: panel.result_labels() == {order[1]: "成功"}, timeout=60, what="the retried target to succeed")
    link = panel.el("retry-of-link")
    assert link.get_attribute("href").endswith(f"/executions/{executor}")
    panel.shot(f"rolling-lab-{width}-05-retried")
    link.click()
    panel.wait(lambda: panel.driver.current_url.endswith(f"/executions/{executor}"), what="back to the first run")
    panel.wait_text("execution-status", "部分失败")


def _count(panel: Panel, key: str) -> str:
    return str(panel.el(f"count-{key}").find_element("css selector", "dd").text)
