"""The panel's part of issue 15 in headless Chromium: parameters in the start dialog, retry links, hook deliveries."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import pytest

from dce_jobs.models import FollowUp, Status, TaskState
from dce_jobs.store.sqlite import SqliteStore
from tests.e2e.panel import Panel, api, tid
from tests.e2e.seed import Seeded, add_execution

pytestmark = pytest.mark.browser

NODE = "guv4tovwx67oa4j9evjrcgg5v"


def _link(data_dir: Path, job_id: str, first: str, second: str) -> None:
    """What an automatic retry records: RetriedBy on the first, attempt 1 and the values on the second; a hook."""

    async def work() -> None:
        store = SqliteStore(data_dir / "dce-jobs.sqlite3")
        await store.open()
        try:
            old = await store.get_execution(job_id, first)
            await store.update_execution(old.replace(retried_by=second))
            new = await store.get_execution(job_id, second)
            await store.update_execution(new.replace(retry_attempt=1, params={"VERSION": "1.4.2"}))
            attempts = (
                {"at": float(first) + 5, "status": 502, "error": "HTTP 502", "duration_s": 0.1},
                {"at": float(first) + 7, "status": 200, "error": "", "duration_s": 0.1},
            )
            delivery = FollowUp(
                kind="hook",
                task_id="d" * 32,
                job_id=job_id,
                executor_id=first,
                due_at=float(first) + 7,
                created_at=float(first) + 5,
                state=TaskState.DONE,
                payload={"event": "end"},
                attempts=attempts,
            )
            await store.save_follow_up(delivery)
        finally:
            await store.close()

    asyncio.run(work())


def test_params_in_the_start_dialog_and_retry_links_in_the_execution_view(panel: Panel, panel_server: Any) -> None:
    server = panel_server(DCE_JOBS_HOOK_SECRET="e2e")
    params = [{"Name": "VERSION", "Required": True, "Pattern": r"\d+\.\d+\.\d+"}, {"Name": "MODE", "Default": "fast"}]
    body = {"AppName": "2048", "ServiceName": "2048_2048", "Name": "发布", "Cmd": "deploy ${VERSION} ${MODE}"}
    job = api(server, "POST", "/api/jobs", {**body, "Params": params, "Retries": 1})
    now = time.time()
    first, second = f"{now - 60:.6f}", f"{now - 30:.6f}"
    failed = Seeded("a" * 64, NODE, Status.FINISHED, 1, output="bad\n", started_at=now - 60, finished_at=now - 55)
    add_execution(server.data_dir, job["JobId"], first, [failed])
    fine = Seeded("a" * 64, NODE, Status.FINISHED, 0, output="ok\n", started_at=now - 30, finished_at=now - 25)
    add_execution(server.data_dir, job["JobId"], second, [fine], retry_of=first)
    _link(server.data_dir, job["JobId"], first, second)

    panel.open(server.url, f"#/jobs/{job['JobId']}/executions/{first}")
    link = panel.el("retried-by-link")
    assert second in link.get_attribute("title")
    assert panel.text("hook-delivery") == "结束：已送达（2 次尝试）"
    panel.click("retried-by-link")
    panel.wait(lambda: panel.driver.current_url.endswith(f"/executions/{second}"), what="the retry")
    assert first in panel.el("retry-of-link").get_attribute("title")
    assert panel.text("retry-attempt").endswith("第 1 次")
    assert panel.text("execution-params").endswith('VERSION="1.4.2"')
    assert not panel.find(tid("retried-by-link"))

    panel.open(server.url, "#/")
    panel.click("start-job", panel.job_row("发布"))
    dialog = panel.el("start-dialog")
    inputs = panel.find(tid("param-input"), dialog)
    assert [i.get_attribute("data-param") for i in inputs] == ["VERSION", "MODE"]
    assert [i.get_attribute("placeholder") for i in inputs] == ["必填", "fast"]
    assert "不保密" in panel.text("start-params", dialog)
    panel.shot("ops-01-start-params")


def test_retry_and_hook_settings_in_the_job_form(panel: Panel, panel_server: Any) -> None:
    server = panel_server(DCE_JOBS_HOOK_SECRET="e2e", DCE_JOBS_HOOK_ALLOWED_HOSTS="hooks.example")
    body = {"AppName": "2048", "ServiceName": "2048_2048", "Name": "备份", "Cmd": "backup ${DAY}"}
    job = api(server, "POST", "/api/jobs", {**body, "Params": [{"Name": "DAY"}]})
    panel.open(server.url, "#/")
    panel.click("edit-job", panel.job_row("备份"))
    panel.fill("job-retries", "x")
    panel.fill("job-statushook", "https://elsewhere.example/h")
    panel.click("save-job")
    assert "整数" in panel.el("job-form-dialog").text
    panel.fill("job-retries", "2")
    panel.fill("job-retrydelay", "30")
    panel.click("save-job")
    panel.wait(lambda: "DCE_JOBS_HOOK_ALLOWED_HOSTS" in panel.el("job-form-dialog").text, what="the host refused")
    panel.shot("ops-02-hook-host-refused")
    panel.fill("job-statushook", "https://hooks.example/h")
    panel.save_job_form()
    saved = api(server, "GET", f"/api/jobs/{job['JobId']}")
    assert (saved["Retries"], saved["RetryDelay"], saved["StatusHook"]) == (2, 30, "https://hooks.example/h")
    assert saved["Params"] == job["Params"]  # the form does not send Params: the declarations are kept
