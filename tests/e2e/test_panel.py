"""The panel in a real headless Chromium, against a real `dce-jobs serve`.

Without an engine: the job list, form, delete, the token prompt, the start dialog's error, and the execution
view over executions written into the store. The full run on the lab's Swarm is in test_panel_lab.py.
"""

from __future__ import annotations

import time
from typing import Any

import pytest

from dce_jobs.models import Status
from tests.e2e.panel import Panel, api, tid
from tests.e2e.seed import Seeded, add_execution, get_job, set_result

pytestmark = pytest.mark.browser

NODE_A = "guv4tovwx67oa4j9evjrcgg5v"
NODE_B = "wn99oc5gv7u0ugt7yih5ymdw4"


def cid(n: int) -> str:
    return f"{n:x}" * 64 if n < 16 else f"{n:064x}"


def test_job_list_form_and_delete(panel: Panel, panel_server: Any) -> None:
    server = panel_server()
    panel.open(server.url)
    panel.el("jobs-empty")
    panel.shot("01-jobs-empty")

    panel.click("create-job")
    panel.fill_job_form(
        {
            "job-name": "发布前检查",
            "job-app": "2048",
            "job-service": "2048_2048",
            "job-cmd": "sh -c 'test \"$1\" = hunter2 && echo secret-ok' _",
            "job-user": "root",
            "job-env": "STAGE=pre\nLANG=C.UTF-8",
            "job-timeout": "30",
        }
    )
    panel.add_secret("hunter2")
    panel.shot("02-job-form-create")
    panel.save_job_form()
    panel.job_row("发布前检查")
    assert [j["Timeout"] for j in api(server, "GET", "/api/jobs")] == [30]

    # A second job in another app, for the filter and search.
    api(server, "POST", "/api/jobs", {"AppName": "shop", "ServiceName": "shop_web", "Name": "清缓存", "Cmd": "true"})
    panel.click("refresh-jobs")
    panel.job_row("清缓存")
    panel.shot("03-jobs-list")

    panel.fill("job-search", "检查")
    panel.wait(lambda: panel.job_names() == ["发布前检查"], what="search to keep one job")
    panel.fill("job-search", "")
    panel.wait(lambda: len(panel.job_names()) == 2)
    from selenium.webdriver.support.ui import Select

    Select(panel.el("app-filter")).select_by_value("shop")
    panel.wait(lambda: panel.job_names() == ["清缓存"], what="app filter")
    Select(panel.el("app-filter")).select_by_value("")
    panel.wait(lambda: len(panel.job_names()) == 2)

    # A duplicate name is refused, and said so next to the field.
    panel.click("create-job")
    panel.fill_job_form({"job-name": "清缓存", "job-app": "shop", "job-service": "shop_web", "job-cmd": "true"})
    panel.click("save-job")
    panel.wait_text("form-error", "作业名称已存在")
    panel.wait_text("field-error-Name", "同名")
    panel.click("cancel-job")
    panel.gone(tid("job-form-dialog"))

    # Edit without touching the secret: the masks go back and the stored secret stays the same.
    row = panel.job_row("发布前检查")
    job_id = row.get_attribute("data-job-id")
    before = get_job(server.data_dir, job_id).secret_args
    panel.click("edit-job", row)
    (secret,) = panel.secret_inputs()
    assert secret.get_attribute("type") == "password"
    assert secret.get_attribute("value") == "*******"
    assert panel.el("job-timeout").get_attribute("value") == "30"
    # A timeout that is not a number is refused next to the field; emptied, it means none (null).
    panel.fill_job_form({"job-timeout": "3O"})
    panel.click("save-job")
    panel.wait_text("field-error-Timeout", "请输入秒数")
    panel.fill_job_form({"job-cmd": "sh -c 'test \"$1\" = hunter2 && echo secret-ok again' _", "job-timeout": ""})
    panel.gone(tid("field-error-Timeout"))
    panel.shot("04-job-form-edit")
    panel.save_job_form()
    job = api(server, "GET", f"/api/jobs/{job_id}")
    assert job["Cmd"].endswith("again' _") and job["SecretArgs"] == ["*******"]
    assert job["Timeout"] is None
    assert job["Env"] == ["STAGE=pre", "LANG=C.UTF-8"] and job["User"] == "root"
    assert get_job(server.data_dir, job_id).secret_args == before

    # No engine here: the start dialog must say clearly why it cannot list containers.
    panel.click("start-job", panel.job_row("发布前检查"))
    error = panel.wait_text("start-error", "无法获取服务 2048_2048 的容器")
    assert "HTTP" in error or "错误" in error or "无法" in error
    assert not panel.el("confirm-start").is_enabled()
    panel.shot("05-start-dialog-error")
    panel.click("cancel-start")
    panel.gone(tid("start-dialog"))

    # Delete asks first; cancelling keeps the job.
    panel.click("delete-job", panel.job_row("清缓存"))
    panel.wait_text("confirm-dialog", "清缓存")
    panel.shot("06-delete-confirm")
    panel.confirm(ok=False)
    panel.job_row("清缓存")
    panel.click("delete-job", panel.job_row("清缓存"))
    panel.confirm(ok=True)
    panel.wait(lambda: panel.job_names() == ["发布前检查"], what="job deleted")
    assert [j["Name"] for j in api(server, "GET", "/api/jobs")] == ["发布前检查"]


def test_token_is_asked_once_and_kept_for_the_session(panel: Panel, panel_server: Any) -> None:
    server = panel_server(DCE_JOBS_API_TOKEN="tok-3f9a1c")
    panel.open(server.url)
    panel.wait_text("token-message", "需要 API 令牌")
    panel.shot("07-token-prompt")

    panel.fill("token-input", "wrong-token")
    panel.click("token-submit")
    panel.wait_text("token-message", "令牌被拒绝")
    panel.shot("08-token-rejected")

    panel.fill("token-input", "tok-3f9a1c")
    panel.click("token-submit")
    panel.el("jobs-empty")
    panel.el("token-state")

    # Kept for the browser session: a reload does not ask again.
    panel.driver.refresh()
    panel.el("jobs-empty")
    time.sleep(0.5)
    assert not panel.find(tid("token-dialog"))

    # Without a token the page says a token is needed instead of failing silently.
    panel.click("clear-token")
    panel.el("token-dialog")
    panel.click("token-cancel")
    panel.wait_text("jobs-error", "需要 API 令牌")


def test_execution_view_labels_output_downloads_and_polling(panel: Panel, panel_server: Any) -> None:
    server = panel_server()
    job = api(
        server,
        "POST",
        "/api/jobs",
        {"AppName": "2048", "ServiceName": "2048_2048", "Name": "巡检", "Cmd": "sh -c 'uptime'"},
    )
    job_id = job["JobId"]
    older, newer = "1700000000.100000", "1700000600.200000"
    add_execution(
        server.data_dir,
        job_id,
        older,
        [Seeded(cid(1), NODE_A, Status.FINISHED, 0, output="ok\n")],
    )
    targets = [
        Seeded(cid(2), NODE_A, Status.FINISHED, 0, output="load average: 0.01\n<b>not html</b>\n"),
        Seeded(cid(3), NODE_B, Status.FINISHED, 3, output="disk almost full\n"),
        Seeded(cid(4), NODE_B, Status.CREATE_FAILED, error="container 4444 is not running"),
        Seeded(cid(5), NODE_A, Status.RUNNING, output="step 1\n"),
    ]
    add_execution(server.data_dir, job_id, newer, targets)

    panel.open(server.url, f"#/jobs/{job_id}")
    panel.wait(lambda: len(panel.find(tid("history-row"))) == 2, what="two executions")
    order = [r.get_attribute("data-executor-id") for r in panel.find(tid("history-row"))]
    assert order == [newer, older]
    panel.wait(lambda: "执行中" in panel.find(tid("history-result"))[0].text)
    panel.wait(lambda: "成功" in panel.find(tid("history-result"))[1].text)
    panel.shot("09-job-history")

    panel.click("open-execution", panel.find(tid("history-row"))[0])
    panel.wait(lambda: len(panel.result_rows()) == 4, what="four result rows")
    assert panel.result_labels() == {cid(2): "成功", cid(3): "失败", cid(4): "失败", cid(5): "执行中"}
    panel.wait(lambda: panel.el("poll-state").get_attribute("data-state") == "polling")
    # While a target runs the execution can be stopped; retrying waits until every target is final.
    panel.el("stop-execution")
    assert not panel.find(tid("retry-failed"))[0].is_displayed()
    codes = [panel.find(tid("result-exit-code"), r)[0].text for r in panel.result_rows()]
    assert codes == ["0", "3", "—", "—"]

    # Failures show E, finished ones their output; text stays text.
    panel.click("toggle-output", _row(panel, cid(4)))
    panel.wait_text("result-error", "container 4444 is not running")
    panel.click("toggle-output", _row(panel, cid(2)))
    out = panel.wait(lambda: _detail(panel, cid(2)), what="output of container 2")
    assert "<b>not html</b>" in out.text and not panel.find("pre b")
    panel.shot("10-execution-running")

    # The last target finishes: its row turns 成功 and polling stops.
    set_result(server.data_dir, job_id, newer, 3, Seeded(cid(5), NODE_A, Status.FINISHED, 0, output="step 2\n"))
    panel.wait(lambda: panel.result_labels()[cid(5)] == "成功", what="last target to finish")
    panel.wait(lambda: panel.el("poll-state").get_attribute("data-state") == "done")
    assert "部分失败" in panel.text("execution-status")
    panel.el("retry-failed")
    assert not panel.find(tid("stop-execution"))[0].is_displayed()
    count = _inspect_calls(panel)
    time.sleep(2.5)
    assert _inspect_calls(panel) == count, "the view kept polling after every target was final"
    panel.shot("11-execution-done")

    panel.click("download-log", _row(panel, cid(2)))
    name, text = panel.take_download()
    assert name.endswith(f"{cid(2)[:12]}.log") and text == targets[0].output
    panel.click("download-all")
    name, text = panel.take_download()
    assert name.endswith("_all.log")
    for seeded in targets:
        assert f"container {seeded.container_id}" in text
    assert "step 1\nstep 2\n" in text

    # Retry needs the engine, which this server cannot reach: the panel says so (502 with the engine's words).
    panel.click("retry-failed")
    # Asked first: which targets, and that each runs in the current task of its Swarm slot by default.
    listed = panel.find(tid("retry-target"), panel.el("confirm-dialog"))
    assert [li.get_attribute("data-container-id") for li in listed] == [cid(3), cid(4)]
    panel.wait_text("retry-slots-note", "任务槽位")
    panel.confirm(ok=True)
    error = panel.wait_text("action-message", "无法连接节点的 Docker 引擎")
    assert "engine unreachable" in error, error
    assert panel.find(tid("retry-failed"))[0].is_displayed()
    # Meanwhile every failed target succeeded (retried elsewhere): the server has nothing to retry, and says so.
    set_result(server.data_dir, job_id, newer, 1, Seeded(cid(3), NODE_B, Status.FINISHED, 0))
    set_result(server.data_dir, job_id, newer, 2, Seeded(cid(4), NODE_B, Status.FINISHED, 0))
    panel.click("retry-failed")
    panel.confirm(ok=True)
    panel.wait_text("action-message", "没有需要重试的容器")
    panel.wait(lambda: set(panel.result_labels().values()) == {"成功"}, what="the view to show the new statuses")
    panel.gone(tid("retry-failed"))
    assert len(api(server, "GET", f"/api/jobs/{job_id}")["Executors"]) == 2
    panel.shot("12-execution-nothing-to-retry")


def _row(panel: Panel, container_id: str) -> Any:
    return next(r for r in panel.result_rows() if r.get_attribute("data-container-id") == container_id)


def _detail(panel: Panel, container_id: str) -> Any:
    for row in panel.find(tid("result-detail")):
        if row.get_attribute("data-container-id") == container_id:
            return panel.find(tid("result-output"), row)[0]
    return None


def _inspect_calls(panel: Panel) -> int:
    return int(
        panel.driver.execute_script(
            "return performance.getEntriesByType('resource').filter(e => e.name.includes('/inspect/')).length"
        )
    )


SEED_RULES = [
    ({"Status": "STARTING"}, "执行中", "output"),
    ({"Status": "CREATED"}, "执行中", "output"),
    ({"Status": "RUNNING", "Output": "so far"}, "执行中", "output"),
    ({"Status": "CREATE_FAILED", "E": "no such container"}, "失败", "error"),
    ({"Status": "RUNNING_FAILED", "E": "engine went away"}, "失败", "error"),
    ({"Status": "FINISHED", "ExitCode": 0, "Output": "ok"}, "成功", "output"),
    ({"Status": "FINISHED", "ExitCode": 2, "Output": "bad"}, "失败", "output"),
    ({"Status": "", "ExitCode": 0, "Output": ""}, "成功", "output"),  # the seed's own example
]


def test_status_rules_of_the_seed(panel: Panel, panel_server: Any) -> None:
    """The panel's own status module, loaded in the browser, applies the seed's status -> label table."""
    panel.open(panel_server().url)
    got = panel.driver.execute_async_script(
        """
        const [results, done] = arguments;
        import('./static/js/status.js').then((s) =>
          done(results.map((r) => [s.outcome(r).label, s.detail(r).kind])));
        """,
        [r for r, _, _ in SEED_RULES],
    )
    assert got == [[label, shows] for _, label, shows in SEED_RULES]
