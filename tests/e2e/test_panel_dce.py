"""The panel at the widths DCE gives a plugin (1024 and 1400 px), in DCE's language, without an engine.

Chinese messages with the server's words on a details line, the Warnings of a saved job, the server's default
timeout, the stop badge and end reasons, Back with a dialog open, the list's filter kept across a reload, and a
layout where nothing is cut off. The same on the lab's real swarm is in test_panel_dce_lab.py.
"""

from __future__ import annotations

from typing import Any

import pytest

from dce_jobs.models import EndReason, Status
from tests.e2e.panel import Panel, api, tid
from tests.e2e.seed import Seeded, add_execution

pytestmark = pytest.mark.browser

WIDTHS = [1024, 1400]
NODE = "guv4tovwx67oa4j9evjrcgg5v"
LONG_NAME = "每日凌晨对订单库做一次完整的一致性校验并把结果汇总发送给值班同学"


def cid(n: int) -> str:
    return f"{n:x}" * 64


def _job(server: Any, name: str, app: str = "shop", service: str = "shop_web", **more: Any) -> dict[str, Any]:
    return dict(api(server, "POST", "/api/jobs", {"AppName": app, "ServiceName": service, "Name": name, **more}))


@pytest.mark.parametrize("width", WIDTHS)
def test_form_errors_warnings_and_default_timeout_in_chinese(panel: Panel, panel_server: Any, width: int) -> None:
    server = panel_server()
    panel.set_width(width)
    panel.open(server.url)
    panel.el("jobs-empty")

    # Bad fields the server refuses: each marked in Chinese, with the server's English below it.
    panel.click("create-job")
    panel.wait_text("job-timeout-hint", "86400 秒（1 天），服务端默认")
    # No engine here: the picker says it cannot list the services, and typing still works.
    panel.wait_text("job-service-picker-state", "无法获取集群中的服务")
    panel.fill_job_form(
        {
            "job-name": "检查",
            "job-app": "shop",
            "job-service": "shop web!",
            "job-cmd": "true",
            "job-env": "1BAD=x",
        }
    )
    panel.click("save-job")
    service_error = panel.wait_text("field-error-ServiceName", "不是有效的 Docker 服务名称")
    assert "Not a valid Docker service name." in service_error
    env_error = panel.wait_text("field-error-Env", "格式应为 KEY=VALUE")
    assert "Must be KEY=VALUE" in env_error
    panel.wait_text("form-error", "请修改标红的字段")
    panel.shot(f"dce-{width}-01-form-errors")

    # Saved all the same when the service cannot be checked; the list says so, with the server's words.
    panel.fill_job_form({"job-service": "shop_web", "job-env": "", "job-name": LONG_NAME})
    panel.save_job_form()
    warning = panel.wait_text("job-warnings", "无法确认服务是否存在")
    assert "could not check that service shop_web exists" in warning
    [saved] = api(server, "GET", "/api/jobs")
    assert saved["ServiceName"] == "shop_web" and saved["Timeout"] is None
    # The toast sits where it covers none of the page's actions.
    toast = panel.el("toast")
    for action in ("create-job", "refresh-jobs"):
        assert not _overlap(panel.rect(toast), panel.rect(panel.el(action))), action
    panel.shot(f"dce-{width}-02-saved-with-warning")

    # The list at this width: one line per name, every action in view, no sideways scrolling.
    row = panel.job_row(LONG_NAME)
    link = panel.el("job-link", row)
    line_px = float(panel.driver.execute_script("return parseFloat(getComputedStyle(arguments[0]).lineHeight)", link))
    assert panel.rect(link)["height"] < 1.5 * line_px, "the job name wraps"
    inner = panel.driver.execute_script("return window.innerWidth")
    for action in ("start-job", "edit-job", "delete-job"):
        assert panel.rect(panel.el(action, row))["right"] <= inner - 16, action
    _no_sideways_scroll(panel, "job-table")

    # The job page shows the timeout that really applies.
    panel.click("job-link", row)
    panel.wait_text("job-timeout-value", "86400 秒（1 天），服务端默认")
    panel.shot(f"dce-{width}-03-job-default-timeout")

    # The start dialog's engine error: the panel's words, then the server's on a details line.
    panel.click("start-job")
    panel.wait_text("start-timeout-hint", "86400 秒（1 天），服务端默认")
    error = panel.wait_text("start-error", "无法连接节点的 Docker 引擎")
    assert "engine unreachable" in panel.text("start-error-details")
    assert "engine unreachable" in error
    panel.shot(f"dce-{width}-04-start-error")
    panel.click("cancel-start")
    panel.gone(tid("start-dialog"))


@pytest.mark.parametrize("width", WIDTHS)
def test_back_with_a_dialog_open_closes_it(panel: Panel, panel_server: Any, width: int) -> None:
    server = panel_server()
    job = _job(server, "巡检", Cmd="true")
    panel.set_width(width)
    panel.open(server.url)
    panel.click("job-link", panel.job_row("巡检"))
    panel.wait_text("job-title", "巡检")

    panel.click("edit-job")
    panel.el("job-form-dialog")
    panel.driver.back()
    panel.gone(tid("job-form-dialog"))
    panel.job_row("巡检")
    assert not panel.driver.execute_script("return document.querySelector('dialog[open]')")

    # Forward to the job page, open the delete confirmation, Back again: nothing is deleted, nothing left open.
    panel.driver.forward()
    panel.wait_text("job-title", "巡检")
    panel.click("delete-job")
    panel.el("confirm-dialog")
    panel.driver.back()
    panel.gone(tid("confirm-dialog"))
    panel.job_row("巡检")
    assert [j["JobId"] for j in api(server, "GET", "/api/jobs")] == [job["JobId"]]
    panel.shot(f"dce-{width}-05-back-closed-the-dialog")


@pytest.mark.parametrize("width", WIDTHS)
def test_list_is_newest_first_and_keeps_filter_search_and_order_across_a_reload(
    panel: Panel, panel_server: Any, width: int
) -> None:
    server = panel_server()
    for name, app in (("清缓存", "shop"), ("备份", "db"), ("重建索引", "shop"), ("巡检", "shop")):
        _job(server, name, app=app, service=f"{app}_web", Cmd="true")
    panel.set_width(width)
    panel.open(server.url)
    panel.wait(lambda: panel.job_names() == ["巡检", "重建索引", "备份", "清缓存"], what="newest first")

    from selenium.webdriver.support.ui import Select

    Select(panel.el("app-filter")).select_by_value("shop")
    panel.wait(lambda: panel.job_names() == ["巡检", "重建索引", "清缓存"], what="app filter")
    panel.fill("job-search", "索引")
    panel.wait(lambda: panel.job_names() == ["重建索引"], what="search")
    panel.fill("job-search", "")
    panel.wait(lambda: len(panel.job_names()) == 3)
    Select(panel.el("job-sort")).select_by_value("name")
    names = panel.wait(lambda: (n := panel.job_names()) != ["巡检", "重建索引", "清缓存"] and n, what="by name")
    panel.fill("job-search", "清")
    panel.wait(lambda: panel.job_names() == ["清缓存"], what="search")
    assert "app=shop" in panel.driver.current_url and "sort=name" in panel.driver.current_url

    panel.driver.refresh()
    panel.wait(lambda: panel.job_names() == ["清缓存"], what="the same list after the reload")
    assert panel.el("job-search").get_attribute("value") == "清"
    assert Select(panel.el("app-filter")).first_selected_option.get_attribute("value") == "shop"
    assert Select(panel.el("job-sort")).first_selected_option.get_attribute("value") == "name"
    panel.fill("job-search", "")
    panel.wait(lambda: panel.job_names() == names, what="every shop job by name")

    # To a job and back by the breadcrumb: still the same filter.
    panel.click("job-link", panel.job_row("巡检"))
    panel.click("back-to-jobs")
    panel.wait(lambda: panel.job_names() == names, what="the filtered list again")
    panel.shot(f"dce-{width}-06-list-filtered")


@pytest.mark.parametrize("width", WIDTHS)
def test_execution_view_stop_badge_end_reasons_latest_line_and_width(
    panel: Panel, panel_server: Any, width: int
) -> None:
    server = panel_server()
    job = _job(server, "长任务", Cmd="sleep 60")
    executor = "1700000000.100000"
    add_execution(
        server.data_dir,
        job["JobId"],
        executor,
        [
            # With the EndReason the runner records (a record without one is legacy: its status gives the reason).
            Seeded(
                cid(1),
                NODE,
                Status.RUNNING_FAILED,
                error="stopped",
                output="step 1\nstep 2\nstep 3 of 9\n",
                end_reason=EndReason.STOPPED,
            ),
            Seeded(cid(2), NODE, Status.CREATE_FAILED, error="stopped before start", end_reason=EndReason.STOPPED),
            Seeded(
                cid(3),
                NODE,
                Status.RUNNING_FAILED,
                error="timed out after 2 s",
                output="waiting\n",
                end_reason=EndReason.TIMED_OUT,
            ),
            Seeded(
                cid(4),
                NODE,
                Status.RUNNING_FAILED,
                error="container 444444444444 stopped while this target ran (exit code 137)",
                end_reason=EndReason.CONTAINER_GONE,
            ),
            Seeded(cid(5), NODE, Status.FINISHED, 0, output="first\n" + "x" * 300 + "\nthe last line\n\n"),
        ],
    )
    panel.set_width(width)
    panel.open(server.url, f"#/jobs/{job['JobId']}/executions/{executor}")
    panel.wait(lambda: len(panel.result_rows()) == 5, what="five result rows")
    assert panel.result_labels() == {cid(1): "已停止", cid(2): "已停止", cid(3): "失败", cid(4): "失败", cid(5): "成功"}
    stopped = panel.find(tid("result-status"), _row(panel, cid(1)))[0]
    assert "badge-stopped" in stopped.get_attribute("class") and "badge-fail" not in stopped.get_attribute("class")
    assert "已超时" in _row(panel, cid(3)).text and "timed out after 2 s" in _row(panel, cid(3)).text
    assert "容器在执行期间停止或被删除" in _row(panel, cid(4)).text
    assert "执行被手动停止" in _row(panel, cid(1)).text
    assert panel.text("stopped-count") == "2"
    assert "部分失败" in panel.text("execution-status")
    # The preview is the newest whole line of the output, not the first.
    assert (
        panel.find(tid("result-preview-line"), _row(panel, cid(5)))[0].get_attribute("textContent") == "the last line"
    )
    panel.el("retry-failed")
    _no_sideways_scroll(panel, "result-table")
    for row in panel.result_rows():
        assert panel.rect(panel.find(tid("download-log"), row)[0])["right"] <= panel.driver.execute_script(
            "return window.innerWidth"
        )
    panel.click("toggle-output", _row(panel, cid(4)))
    panel.wait_text("result-reason", "容器在执行期间停止或被删除")
    panel.wait_text("result-error", "stopped while this target ran")
    panel.shot(f"dce-{width}-07-execution-stopped-and-failed")


END_REASONS = [
    # (Result, State) -> (badge, status line): EndReason wins over E; without it, E is recognised.
    ({"Status": "RUNNING_FAILED", "E": "whatever", "EndReason": "stopped"}, ("已停止", "stopped", "已停止")),
    ({"Status": "RUNNING_FAILED", "E": "stopped"}, ("已停止", "stopped", "已停止")),
    ({"Status": "RUNNING_FAILED", "E": "x", "EndReason": "timed_out"}, ("失败", "fail", "已超时")),
    ({"Status": "RUNNING_FAILED", "E": "x", "EndReason": "node_lost"}, ("失败", "fail", "节点失联")),
    ({"Status": "RUNNING_FAILED", "E": "x", "EndReason": "container_gone"}, ("失败", "fail", "容器已停止")),
    ({"Status": "CREATE_FAILED", "E": "x", "EndReason": "create_failed"}, ("失败", "fail", "创建失败")),
    ({"Status": "RUNNING_FAILED", "E": "x", "EndReason": "start_failed"}, ("失败", "fail", "启动失败")),
    ({"Status": "RUNNING_FAILED", "E": "x", "EndReason": "service_shutdown"}, ("失败", "fail", "服务停止")),
    ({"Status": "RUNNING_FAILED", "E": "x", "EndReason": "interrupted"}, ("失败", "fail", "已中断")),
    ({"Status": "RUNNING_FAILED", "E": "x", "EndReason": "engine_error"}, ("失败", "fail", "引擎出错")),
    ({"Status": "CREATE_FAILED", "E": "x", "EndReason": "not_started"}, ("失败", "fail", "未开始")),
    ({"Status": "FINISHED", "ExitCode": 0, "EndReason": "exited"}, ("成功", "ok", "已结束")),
    ({"Status": "RUNNING_FAILED", "E": "engine went away"}, ("失败", "fail", "运行失败")),
]


def test_end_reasons_and_execution_states_in_the_panels_words(panel: Panel, panel_server: Any) -> None:
    """The status module, loaded in the browser: EndReason and State when the server sends them, E before."""
    panel.open(panel_server().url)
    got = panel.driver.execute_async_script(
        """
        const [results, done] = arguments;
        import('./static/js/status.js').then((s) => done({
          each: results.map((r) => [s.outcome(r).label, s.outcome(r).tone, s.statusText(r)]),
          stoppedRun: s.summarize([{Status: 'RUNNING_FAILED', E: 'stopped'}], 'stopped').overall,
          failedRun: s.summarize(
            [{Status: 'FINISHED', ExitCode: 0}, {Status: 'FINISHED', ExitCode: 1}], 'failed').overall,
          paused: s.summarize([{Status: 'RUNNING'}], 'paused').overall,
          noState: s.summarize([{Status: 'RUNNING_FAILED', E: 'stopped'}]).overall,
        }));
        """,
        [r for r, _ in END_REASONS],
    )
    assert got["each"] == [list(expected) for _, expected in END_REASONS]
    assert got["stoppedRun"] == {"label": "已停止", "tone": "stopped"}
    assert got["failedRun"] == {"label": "部分失败", "tone": "fail"}
    assert got["paused"] == {"label": "已暂停", "tone": "muted"}
    assert got["noState"] == {"label": "已停止", "tone": "stopped"}


def _overlap(a: dict[str, float], b: dict[str, float]) -> bool:
    return a["left"] < b["right"] and b["left"] < a["right"] and a["top"] < b["bottom"] and b["top"] < a["bottom"]


def _no_sideways_scroll(panel: Panel, table_testid: str) -> None:
    wrap = panel.driver.execute_script(
        "const t = document.querySelector(arguments[0]).closest('.table-wrap');return [t.scrollWidth, t.clientWidth];",
        tid(table_testid),
    )
    assert wrap[0] <= wrap[1], f"{table_testid} scrolls sideways: {wrap}"


def _row(panel: Panel, container_id: str) -> Any:
    return next(r for r in panel.result_rows() if r.get_attribute("data-container-id") == container_id)
