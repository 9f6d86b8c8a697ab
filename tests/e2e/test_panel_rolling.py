"""Rolling settings and the execution summary in the panel, at DCE's widths, without an engine.

The job form's rolling fields (with the server's validation on them, kept by an edit), the summary of a seeded
rolling execution (counts, times, settings in force, durations that grow, waiting rows), the paused banner and
its 继续 button, the retry confirmation and the RetryOf link. The same with a real pause and resume on the lab's
swarm is in test_panel_rolling_lab.py.
"""

from __future__ import annotations

import json
import time
from typing import Any

import pytest

from dce_jobs.models import EndReason, FailureAction, Rolling, Status
from tests.e2e.panel import Panel, api, tid
from tests.e2e.seed import Seeded, add_execution

pytestmark = pytest.mark.browser

WIDTHS = [1024, 1400]
NODE = "guv4tovwx67oa4j9evjrcgg5v"

# A server without a live run never reports `paused` (a pause lives in the runner of an engine-backed run): this
# wraps the page's fetch so inspect answers say paused until a resume is sent, and records what the panel sends.
PAUSE_UNTIL_RESUMED = """
window.__sent = [];
window.__resumed = false;
const realFetch = window.fetch.bind(window);
window.fetch = async (input, init = {}) => {
  const url = String(input);
  window.__sent.push({url, method: init.method || 'GET', headers: init.headers || {}, body: init.body ?? null});
  if (url.includes('/resume')) window.__resumed = true;
  // The paused state is faked in inspect's answers: the view is to poll them (as without the event stream).
  if (url.includes('/events') && !window.__resumed) return new Response('{}', {status: 404});
  const resp = await realFetch(input, init);
  if (!url.includes('/inspect/') || window.__resumed || !resp.ok) return resp;
  const body = await resp.json();
  body.State = 'paused';
  return new Response(JSON.stringify(body), {status: 200, headers: {'Content-Type': 'application/json'}});
};
"""


def cid(n: int) -> str:
    return f"{n:x}" * 64


@pytest.mark.parametrize("width", WIDTHS)
def test_rolling_fields_round_trip_with_the_servers_errors_on_them(panel: Panel, panel_server: Any, width: int) -> None:
    from selenium.webdriver.support.ui import Select

    server = panel_server()
    panel.set_width(width)
    panel.open(server.url)
    panel.el("jobs-empty")
    panel.click("create-job")
    panel.fill_job_form(
        {
            "job-name": "分批重启",
            "job-app": "shop",
            "job-service": "shop_web",
            "job-cmd": "sh -c 'kill -HUP 1'",
            "job-parallelism": "2",
            "job-delay": "1",
            "job-maxfailureratio": "2",
        }
    )
    Select(panel.el("job-failureaction")).select_by_value("pause")
    # A format the panel refuses itself, then a range only the server knows: both on their own field.
    panel.fill("job-parallelism", "两个")
    panel.click("save-job")
    panel.wait_text("field-error-Parallelism", "请输入整数")
    panel.fill("job-parallelism", "2")
    panel.click("save-job")
    ratio_error = panel.wait_text("field-error-MaxFailureRatio", "应在 0 到 1 之间")
    assert "greater than or equal to 0" in ratio_error
    assert "invalid" in panel.el("job-maxfailureratio").find_element("xpath", "..").get_attribute("class")
    panel.wait_text("form-error", "请修改标红的字段")
    assert api(server, "GET", "/api/jobs") == []
    panel.shot(f"rolling-{width}-01-form-server-error")

    panel.fill("job-maxfailureratio", "0.5")
    panel.save_job_form()
    [job] = api(server, "GET", "/api/jobs")
    assert (job["Parallelism"], job["Delay"], job["FailureAction"], job["MaxFailureRatio"]) == (2, 1, "pause", 0.5)

    # The job page says what applies, the edit form shows the values, and an edit that changes something else keeps
    # them.
    panel.click("job-link", panel.job_row("分批重启"))
    panel.wait_text("job-rolling-value", "每次 2 个 · 间隔 1 秒 · 失败超过 50% 时暂停")
    panel.click("edit-job")
    dialog = panel.el("job-form-dialog")
    values = {
        t: panel.el(t, dialog).get_attribute("value") for t in ("job-parallelism", "job-delay", "job-maxfailureratio")
    }
    assert values == {"job-parallelism": "2", "job-delay": "1", "job-maxfailureratio": "0.5"}
    assert Select(panel.el("job-failureaction", dialog)).first_selected_option.get_attribute("value") == "pause"
    panel.shot(f"rolling-{width}-02-form-edit")
    panel.fill_job_form({"job-cmd": "sh -c 'kill -USR1 1'"})
    panel.save_job_form()
    panel.wait_text("job-definition", "kill -USR1 1")
    edited = api(server, "GET", f"/api/jobs/{job['JobId']}")
    assert (edited["Parallelism"], edited["Delay"], edited["FailureAction"], edited["MaxFailureRatio"]) == (
        2,
        1,
        "pause",
        0.5,
    )

    # The start dialog: the per-run overrides are folded away, and say what the job's are.
    panel.click("start-job")
    toggle = panel.el("start-rolling-toggle")
    assert "每次 2 个" in toggle.text
    assert not panel.el("start-rolling").get_attribute("open")
    assert not panel.find(tid("start-parallelism"))[0].is_displayed()
    toggle.click()
    assert panel.el("start-parallelism").get_attribute("placeholder") == "2"
    assert "沿用作业设置" in Select(panel.el("start-failureaction")).first_selected_option.text
    panel.shot(f"rolling-{width}-03-start-overrides")
    panel.click("cancel-start")
    panel.gone(tid("start-dialog"))


@pytest.mark.parametrize("width", WIDTHS)
def test_summary_of_a_paused_rolling_run_resume_retry_and_retry_of(panel: Panel, panel_server: Any, width: int) -> None:
    server = panel_server()
    job = api(
        server, "POST", "/api/jobs", {"AppName": "shop", "ServiceName": "shop_web", "Name": "分批", "Cmd": "true"}
    )
    now = float(int(time.time()))  # whole seconds: the durations below are exact
    first, second = f"{now - 80:.6f}", f"{now - 20:.6f}"
    add_execution(
        server.data_dir,
        job["JobId"],
        first,
        [
            Seeded(
                cid(1),
                NODE,
                Status.FINISHED,
                0,
                output="ok\n",
                started_at=now - 75,
                finished_at=now - 70,
                end_reason=EndReason.EXITED,
                slot=1,
            ),
            Seeded(
                cid(2),
                NODE,
                Status.FINISHED,
                3,
                output="bad\n",
                started_at=now - 69,
                finished_at=now - 60,
                end_reason=EndReason.EXITED,
                slot=2,
            ),
            Seeded(cid(3), NODE, Status.RUNNING, output="working\n", started_at=now - 30, slot=3),
            Seeded(cid(4), NODE, Status.STARTING, slot=4),
            Seeded(cid(5), NODE, Status.STARTING, slot=5),
        ],
        rolling=Rolling(parallelism=1, delay_s=1.0, failure_action=FailureAction.PAUSE),
    )
    panel.set_width(width)
    panel.open(server.url)
    panel.job_row("分批")
    panel.driver.execute_script(PAUSE_UNTIL_RESUMED)
    panel.driver.execute_script("location.hash = arguments[0]", f"#/jobs/{job['JobId']}/executions/{first}")
    panel.wait(lambda: len(panel.result_rows()) == 5, what="five result rows")

    panel.el("paused-note")
    panel.wait_text("execution-status", "已暂停")
    counts = {k: panel.el(f"count-{k}").text for k in ("waiting", "running", "succeeded", "failed", "stopped")}
    assert counts == {
        "waiting": "等待\n2",
        "running": "运行\n1",
        "succeeded": "成功\n1",
        "failed": "失败\n1",
        "stopped": "已停止\n0",
    }
    assert "其余 2 个等待中的容器" in panel.text("paused-note")
    assert panel.text("execution-rolling") == "每次 1 个 · 间隔 1 秒 · 任一失败即暂停"
    assert panel.text("execution-end") == "—"
    assert not panel.find(tid("retry-failed"))[0].is_displayed()
    # Per row: the time a target took, growing while it runs; waiting targets say so.
    assert _cell(panel, cid(1), "result-duration") == "5 秒"
    assert _cell(panel, cid(2), "result-duration") == "9 秒"
    assert _cell(panel, cid(4), "result-duration") == "—" and "等待中" in _row(panel, cid(4)).text
    assert _cell(panel, cid(3), "result-slot") == "槽位 3"
    seen = _cell(panel, cid(3), "result-duration")
    panel.wait(lambda: _cell(panel, cid(3), "result-duration") != seen, what="the running target's duration to grow")
    _no_sideways_scroll(panel)
    panel.shot(f"rolling-{width}-04-paused-summary")

    # 继续: POST .../resume with a JSON Content-Type and an empty object.
    panel.click("resume-execution")
    panel.wait_text("toast", "已继续执行")
    sent = panel.driver.execute_script("return window.__sent.filter((r) => r.url.includes('/resume'))")
    assert len(sent) == 1
    assert sent[0]["method"] == "POST" and sent[0]["url"].endswith(f"/api/jobs/{job['JobId']}/executors/{first}/resume")
    assert sent[0]["headers"]["Content-Type"] == "application/json" and json.loads(sent[0]["body"]) == {}
    panel.gone(tid("paused-note"))
    panel.wait_text("execution-status", "执行中")

    # A retry that followed slot 2 to a new task: RetryOf links back, the row says which container it replaced.
    add_execution(
        server.data_dir,
        job["JobId"],
        second,
        [
            Seeded(
                cid(6),
                NODE,
                Status.FINISHED,
                1,
                output="still bad\n",
                started_at=now - 20,
                finished_at=now - 18,
                end_reason=EndReason.EXITED,
                slot=2,
                previous_container_id=cid(2),
            ),
            Seeded(
                cid(7),
                NODE,
                Status.RUNNING_FAILED,
                error="timed out after 10 s",
                started_at=now - 20,
                finished_at=now - 10,
                end_reason=EndReason.TIMED_OUT,
                slot=4,
            ),
        ],
        retry_of=first,
    )
    panel.open(server.url, f"#/jobs/{job['JobId']}/executions/{second}")
    panel.wait(lambda: len(panel.result_rows()) == 2, what="two result rows")
    panel.wait_text("execution-status", "失败")
    assert panel.text("execution-end") != "—"
    assert panel.text("execution-duration") == "10 秒"
    replaced = panel.find(tid("result-previous"), _row(panel, cid(6)))[0]
    assert replaced.text == f"旧容器 {cid(2)[:8]}…" and cid(2) in replaced.get_attribute("title")
    panel.click("toggle-output", _row(panel, cid(6)))
    panel.wait_text("result-replaced", f"旧容器 {cid(2)}")

    # Retry asks first, naming the targets and the slot rule; cancelling starts nothing.
    panel.click("retry-failed")
    dialog = panel.el("confirm-dialog")
    items = panel.find(tid("retry-target"), dialog)
    assert [i.get_attribute("data-container-id") for i in items] == [cid(6), cid(7)]
    assert "任务槽位 2" in items[0].text and "已超时" in items[1].text
    assert "当前任务" in panel.text("retry-slots-note", dialog)
    panel.shot(f"rolling-{width}-05-retry-confirm")
    panel.confirm(ok=False)
    assert len(api(server, "GET", f"/api/jobs/{job['JobId']}")["Executors"]) == 2
    panel.shot(f"rolling-{width}-06-retry-of")

    panel.click("retry-of-link")
    panel.wait(lambda: panel.driver.current_url.endswith(f"/executions/{first}"), what="the retried execution")
    panel.wait(lambda: len(panel.result_rows()) == 5, what="its five rows")
    assert not panel.find(tid("retry-of-link"))


def _no_sideways_scroll(panel: Panel) -> None:
    wrap = panel.driver.execute_script(
        "const t = document.querySelector(arguments[0]).closest('.table-wrap');return [t.scrollWidth, t.clientWidth];",
        tid("result-table"),
    )
    assert wrap[0] <= wrap[1], f"the result table scrolls sideways: {wrap}"


def _cell(panel: Panel, container_id: str, testid: str) -> str:
    """The text of one cell of a target's row, read afresh (rows are redrawn when an answer changes)."""
    return str(panel.wait(lambda: panel.find(tid(testid), _row(panel, container_id))[0].text, what=testid))


def _row(panel: Panel, container_id: str) -> Any:
    return next(r for r in panel.result_rows() if r.get_attribute("data-container-id") == container_id)
