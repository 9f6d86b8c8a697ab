"""The job page's schedules in a real headless Chromium: create (cron), next run, disable, a bad cron, delete."""

from __future__ import annotations

import time
from typing import Any

import pytest

from tests.e2e.panel import Panel, api, tid

pytestmark = pytest.mark.browser


def test_schedules_on_the_job_page(panel: Panel, panel_server: Any) -> None:
    server = panel_server()
    body = {"AppName": "2048", "ServiceName": "2048_2048", "Name": "夜间清理", "Cmd": "echo hi"}
    job = api(server, "POST", "/api/jobs", body)
    url = f"/api/jobs/{job['JobId']}/schedules"
    panel.open(server.url, f"#/jobs/{job['JobId']}")
    panel.el("schedules-empty")

    panel.fill("schedule-cron", "30 2 * * *")
    panel.fill("schedule-time-zone", "Asia/Shanghai")
    panel.click("schedule-add")
    row = panel.el("schedule-row")
    (stored,) = api(server, "GET", url)
    assert (stored["Cron"], stored["TimeZone"], stored["Enabled"]) == ("30 2 * * *", "Asia/Shanghai", True)
    assert panel.text("schedule-state", row) == "已启用"
    assert panel.text("schedule-next", row) != "—"
    panel.shot("schedules-01-created")

    panel.click("schedule-toggle", row)
    panel.wait_text("schedule-state", "已停用")
    assert api(server, "GET", url)[0]["Enabled"] is False
    assert panel.text("schedule-next") == "—"

    panel.fill("schedule-cron", "61 * * * *")
    panel.click("schedule-add")
    assert "Cron" in panel.el("schedule-form-error").text
    assert len(api(server, "GET", url)) == 1

    # a one-shot fire with no engine reachable: the start fails and the last fire says so
    api(server, "POST", url, {"RunAt": time.time() + 1})
    panel.wait(lambda: all(s["LastFire"] for s in api(server, "GET", url) if s["RunAt"]), what="the fire")
    panel.driver.refresh()
    panel.wait(lambda: "启动失败" in " ".join(e.text for e in panel.find(tid("schedule-last-outcome"))))
    panel.shot("schedules-02-fired")

    for left in (1, 0):
        panel.click("schedule-delete", panel.find(tid("schedule-row"))[0])
        panel.confirm()
        panel.wait(lambda: len(panel.find(tid("schedule-row"))) == left, what=f"{left} schedules left")
    panel.el("schedules-empty")
    assert api(server, "GET", url) == []
