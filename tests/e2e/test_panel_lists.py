"""The job list and a job's execution history in headless Chromium: server-side filters, order and pages kept in the
URL (reload, Back, Forward), LastRun, CreatedBy/UpdatedBy, durations, Trigger and StartedBy, hostile names as text.
"""

from __future__ import annotations

import json
import urllib.request
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from dce_jobs.models import Status
from tests.e2e.panel import Panel, api, tid
from tests.e2e.seed import Seeded, add_execution, add_run

pytestmark = pytest.mark.browser

T0 = 1_700_000_000.0  # 2023-11-14 22:13:20 UTC
NODE = "guv4tovwx67oa4j9evjrcgg5v"
USER_HEADER = "X-Dce-User"
HOSTILE = '<img src=x onerror="window.__pwned=1">\'&amp;</td><b>x'
HOSTILE_USER = "<b>mallory</b><script>window.__pwned=2</script>"


def _no_script_errors(panel: Panel) -> None:
    """No uncaught exception and no Content Security Policy violation in the browser's console."""
    assert not (errors := panel.console_errors()), errors


def _as(server: Any, user: str, method: str, path: str, body: Any) -> Any:
    """Call the API as `user` (the header the DCE proxy would set)."""
    req = urllib.request.Request(f"{server.url}{path}", data=json.dumps(body).encode(), method=method)
    req.add_header("Content-Type", "application/json")
    req.add_header(USER_HEADER, user)
    with urllib.request.urlopen(req, timeout=30) as resp:
        return json.loads(resp.read())


def _hash_query(panel: Panel) -> dict[str, list[str]]:
    return parse_qs(urlsplit(panel.driver.current_url).fragment.partition("?")[2])


def _set(panel: Panel, testid: str, value: str) -> None:
    """Set an input or select as a person would end up with it, then fire its change event."""
    panel.el(testid)
    panel.driver.execute_script(
        "const el = document.querySelector(arguments[0]); el.value = arguments[1];"
        " el.dispatchEvent(new Event('change'))",
        tid(testid),
        value,
    )


def _fits_at_plugin_widths(panel: Panel, table_testid: str, shot: str) -> None:
    """At the widths DCE gives a plugin the table needs no sideways scrolling (long names are cut); a screenshot."""
    for width in (1024, 1400):
        panel.set_width(width)
        wrap = panel.driver.execute_script(
            "const t = document.querySelector(arguments[0]).closest('.table-wrap');"
            "return [t.scrollWidth, t.clientWidth];",
            tid(table_testid),
        )
        assert wrap[0] <= wrap[1], f"{table_testid} scrolls sideways at {width} px: {wrap}"
        panel.shot(f"{shot}-{width}")


def _no_script_ran(panel: Panel, table_testid: str) -> None:
    assert not panel.find(f"{tid(table_testid)} img, {tid(table_testid)} b, {tid(table_testid)} script")
    assert panel.driver.execute_script("return window.__pwned === undefined")


# -- the job list ---------------------------------------------------------------------------------------------------


def _job_row_text(panel: Panel, name: str, testid: str) -> str:
    return str(panel.find(tid(testid), panel.job_row(name))[0].text)


def test_job_list_pages_orders_and_filters_on_the_server_kept_in_the_url(panel: Panel, panel_server: Any) -> None:
    server = panel_server(DCE_JOBS_USER_HEADER=USER_HEADER)
    jobs = {}
    for n in range(23):
        app = "shop" if n % 2 == 0 else "db"
        body = {"AppName": app, "ServiceName": f"{app}_web", "Name": f"作业 {n:02d}", "Cmd": "true"}
        jobs[n] = _as(server, "alice", "POST", "/api/jobs", body)
    _as(
        server,
        HOSTILE_USER,
        "POST",
        "/api/jobs",
        {"AppName": "db", "ServiceName": "db_web", "Name": HOSTILE, "Cmd": "x"},
    )
    edited = {k: jobs[3][k] for k in ("AppName", "ServiceName", "Name")}
    _as(server, "bob", "PUT", f"/api/jobs/{jobs[3]['JobId']}", {**edited, "Cmd": "echo edited"})
    add_run(server.data_dir, jobs[5]["JobId"], T0, state="failed", duration_s=3, counts={"failed": 1})
    add_run(server.data_dir, jobs[7]["JobId"], T0, state="succeeded", duration_s=3, counts={"succeeded": 1})
    add_execution(server.data_dir, jobs[9]["JobId"], f"{T0:.6f}", [Seeded("a" * 64, NODE, Status.RUNNING)])
    newest_first = [HOSTILE, *(f"作业 {n:02d}" for n in range(22, -1, -1))]

    panel.open(server.url)
    panel.wait(lambda: panel.job_names() == newest_first[:20], what="the 20 newest jobs")
    assert panel.text("pager-info") == "第 1 / 2 页，共 24 个作业"
    assert panel.text("job-count") == "共 24 个作业"

    # LastRun's state, who edited last, a hostile name and user as text.
    assert _job_row_text(panel, "作业 05", "job-last-state") == "失败"
    assert _job_row_text(panel, "作业 07", "job-last-state") == "成功"
    assert _job_row_text(panel, "作业 09", "job-last-state") == "执行中"
    assert _job_row_text(panel, "作业 11", "job-last-run") == "未执行"
    link = panel.find(tid("job-last-link"), panel.job_row("作业 05"))[0]
    assert link.get_attribute("href").endswith(f"#/jobs/{jobs[5]['JobId']}/executions/{T0:.6f}")
    assert _job_row_text(panel, "作业 04", "job-updated-by") == "alice"
    assert panel.el("job-link", panel.job_row(HOSTILE)).text == HOSTILE
    assert _job_row_text(panel, HOSTILE, "job-updated-by") == HOSTILE_USER
    _no_script_ran(panel, "job-table")
    _fits_at_plugin_widths(panel, "job-table", "lists-01-jobs-page-1")

    # Page 2 is a URL of its own: kept by a reload, left and found again by Back and Forward.
    panel.click("pager-next")
    panel.wait(lambda: panel.job_names() == newest_first[20:], what="page 2")
    assert _job_row_text(panel, "作业 03", "job-updated-by") == "bob"
    assert _hash_query(panel) == {"page": ["2"]}
    panel.driver.refresh()
    panel.wait(lambda: panel.job_names() == newest_first[20:], what="page 2 after the reload")
    panel.driver.back()
    panel.wait(lambda: panel.job_names() == newest_first[:20], what="page 1 after Back")
    panel.driver.forward()
    panel.wait(lambda: panel.job_names() == newest_first[20:], what="page 2 after Forward")

    # Another order starts again at page 1; by name the server sorts.
    from selenium.webdriver.support.ui import Select

    Select(panel.el("job-sort")).select_by_value("name")
    by_name = [HOSTILE, *(f"作业 {n:02d}" for n in range(23))]
    panel.wait(lambda: panel.job_names() == by_name[:20], what="by name")
    assert _hash_query(panel) == {"sort": ["name"]}

    # LastRun's state, then the app: each a new URL; Back undoes one at a time.
    Select(panel.el("job-state-filter")).select_by_value("never")
    never = [name for name in by_name if name not in ("作业 05", "作业 07", "作业 09")]
    panel.wait(lambda: panel.job_names() == never[:20], what="jobs never run")
    assert panel.text("pager-info") == "第 1 / 2 页，共 21 个作业"
    Select(panel.el("app-filter")).select_by_value("db")
    db_never = [HOSTILE, *(f"作业 {n:02d}" for n in range(1, 23, 2) if n not in (5, 7, 9))]
    panel.wait(lambda: panel.job_names() == db_never, what="db jobs never run")
    assert not panel.find(tid("pager"))
    assert _hash_query(panel) == {"sort": ["name"], "state": ["never"], "app": ["db"]}
    panel.driver.refresh()
    panel.wait(lambda: panel.job_names() == db_never, what="the same list after the reload")
    assert Select(panel.el("job-state-filter")).first_selected_option.get_attribute("value") == "never"
    assert Select(panel.el("app-filter")).first_selected_option.get_attribute("value") == "db"
    panel.driver.back()
    panel.wait(lambda: panel.job_names() == never[:20], what="every app again")
    assert Select(panel.el("app-filter")).first_selected_option.get_attribute("value") == ""
    Select(panel.el("job-state-filter")).select_by_value("failed")
    panel.wait(lambda: panel.job_names() == ["作业 05"], what="the failed one")

    # The name search (a substring, on the server) goes into the URL as it is typed.
    Select(panel.el("job-state-filter")).select_by_value("")
    panel.wait(lambda: len(panel.job_names()) == 20, what="every job by name")
    panel.fill("job-search", "业 1")
    panel.wait(lambda: panel.job_names() == [f"作业 {n}" for n in range(10, 20)], what="the search")
    assert _hash_query(panel) == {"sort": ["name"], "q": ["业 1"]}
    panel.driver.refresh()
    panel.wait(lambda: panel.job_names() == [f"作业 {n}" for n in range(10, 20)], what="the search after the reload")
    assert panel.el("job-search").get_attribute("value") == "业 1"
    panel.fill("job-search", "没有这个")
    panel.wait_text("jobs-empty", "没有匹配的作业")

    # A job's page tells who created and last edited it.
    panel.open(server.url, f"#/jobs/{jobs[3]['JobId']}")
    assert panel.text("job-created").endswith("alice")
    assert panel.text("job-updated").endswith("bob")
    _no_script_errors(panel)


def test_job_list_orders_by_last_run_from_its_column(panel: Panel, panel_server: Any) -> None:
    server = panel_server()
    ids = {}
    for name in ("甲", "乙", "丙", "丁"):
        body = {"AppName": "shop", "ServiceName": "shop_web", "Name": name, "Cmd": "true"}
        ids[name] = api(server, "POST", "/api/jobs", body)["JobId"]
    # created 甲 乙 丙 丁; last started 丙, then 甲, then 乙 (乙 ran twice); 丁 never ran
    for name, at in (("乙", T0), ("丙", T0 + 60), ("甲", T0 + 120), ("乙", T0 + 180)):
        add_run(server.data_dir, ids[name], at, state="succeeded", duration_s=1, counts={"succeeded": 1})

    panel.open(server.url)
    panel.wait(lambda: panel.job_names() == ["丁", "丙", "乙", "甲"], what="newest created first")
    assert panel.el("sort-last-run").find_element("xpath", "..").get_attribute("aria-sort") == "none"
    panel.click("sort-last-run")
    panel.wait(lambda: panel.job_names() == ["乙", "甲", "丙", "丁"], what="the latest run first, never run last")
    assert _hash_query(panel) == {"sort": ["ran"]}
    assert panel.el("sort-last-run").find_element("xpath", "..").get_attribute("aria-sort") == "descending"
    panel.click("sort-last-run")
    panel.wait(lambda: panel.job_names() == ["丁", "丙", "甲", "乙"], what="the longest without a run first")
    assert _hash_query(panel) == {"sort": ["idle"]}
    assert panel.el("job-sort").get_attribute("value") == "idle"
    panel.driver.back()
    panel.wait(lambda: panel.job_names() == ["乙", "甲", "丙", "丁"], what="Back to the latest run first")
    assert panel.el("job-sort").get_attribute("value") == "ran"
    _no_script_errors(panel)


# -- a job's history --------------------------------------------------------------------------------------------------


def _history_ids(panel: Panel) -> list[str]:
    return [r.get_attribute("data-executor-id") for r in panel.find(tid("history-row"))]


def _history_cell(panel: Panel, executor_id: str, testid: str) -> Any:
    row = panel.wait(
        lambda: next(
            (r for r in panel.find(tid("history-row")) if r.get_attribute("data-executor-id") == executor_id), None
        ),
        what=f"the row of {executor_id}",
    )
    return panel.find(tid(testid), row)[0]


def test_job_history_filters_pages_durations_trigger_and_who(panel: Panel, panel_server: Any) -> None:
    server = panel_server()
    job = api(
        server, "POST", "/api/jobs", {"AppName": "shop", "ServiceName": "shop_web", "Name": "巡检", "Cmd": "true"}
    )
    states = ["succeeded", "failed", "stopped"]
    triggers = [("manual", "alice"), ("schedule", "schedule"), ("retry", "retry"), ("manual", HOSTILE_USER)]
    ids = []
    for n in range(25):
        trigger, user = triggers[n % 4]
        counts = {"succeeded": 2, "failed": 1} if states[n % 3] == "failed" else {states[n % 3]: 3}
        ids.append(
            add_run(
                server.data_dir,
                job["JobId"],
                T0 + n * 600,
                state=states[n % 3],
                duration_s=4.5 + n * 100,
                counts=counts,
                trigger=trigger,
                started_by=user,
            )
        )
    newest_first = list(reversed(ids))
    panel.driver.execute_cdp_cmd("Emulation.setTimezoneOverride", {"timezoneId": "UTC"})
    panel.open(server.url, f"#/jobs/{job['JobId']}")
    panel.wait(lambda: _history_ids(panel) == newest_first[:20], what="the newest 20 runs")
    assert panel.text("history-count") == "共 25 次"
    assert panel.text("pager-info") == "第 1 / 2 页，共 25 次"

    # Each run: its state and counts, trigger, who, end and duration.
    run = ids[13]  # failed, fired by a schedule, after 1304.5 s
    assert _history_cell(panel, run, "history-result").text == "部分失败 2 成功 · 1 失败"
    assert _history_cell(panel, run, "history-trigger").text == "定时"
    assert _history_cell(panel, run, "history-started-by").text == "定时计划"
    assert _history_cell(panel, run, "history-end").text == "2023-11-15 00:45:04"
    assert _history_cell(panel, run, "history-duration").text == "21 分 44 秒"
    assert _history_cell(panel, ids[14], "history-trigger").text == "重试"
    assert _history_cell(panel, ids[14], "history-started-by").text == "自动重试"
    assert _history_cell(panel, ids[14], "history-result").text == "已停止 3 已停止"
    assert _history_cell(panel, ids[12], "history-started-by").text == "alice"
    assert _history_cell(panel, ids[15], "history-started-by").text == HOSTILE_USER
    _no_script_ran(panel, "history-table")
    _fits_at_plugin_widths(panel, "history-table", "lists-02-job-history")

    # Page 2, by a link: Back returns to page 1.
    panel.click("pager-next")
    panel.wait(lambda: _history_ids(panel) == newest_first[20:], what="page 2")
    assert _history_cell(panel, ids[0], "history-duration").text == "4.5 秒"
    assert _hash_query(panel) == {"page": ["2"]}
    panel.driver.back()
    panel.wait(lambda: _history_ids(panel) == newest_first[:20], what="page 1 again")

    # The state filter, then a range of start times (inclusive, in the browser's zone).
    _set(panel, "history-state", "failed")
    failed = [i for n, i in enumerate(ids) if n % 3 == 1][::-1]
    panel.wait(lambda: _history_ids(panel) == failed, what="the failed runs")
    assert panel.text("history-count") == "符合条件 8 次"
    _set(panel, "history-from", "2023-11-14T23:13:20")  # T0 + 3600: run 6
    panel.wait(lambda: _hash_query(panel).get("from") == [str(int(T0 + 3600))], what="from in the URL")
    _set(panel, "history-to", "2023-11-15T00:53:20")  # T0 + 9600: run 16
    panel.wait(lambda: _history_ids(panel) == [ids[16], ids[13], ids[10], ids[7]], what="failed runs 7 to 16")
    assert _hash_query(panel) == {"state": ["failed"], "from": [str(int(T0 + 3600))], "to": [str(int(T0 + 9600))]}
    panel.driver.refresh()
    panel.wait(lambda: _history_ids(panel) == [ids[16], ids[13], ids[10], ids[7]], what="the same after the reload")
    assert panel.el("history-state").get_attribute("value") == "failed"
    assert panel.el("history-to").get_attribute("value") == "2023-11-15T00:53:20"

    # Into one of them and Back: the filtered history again. The execution's header says how and by whom it started.
    panel.click("open-execution", panel.find(tid("history-row"))[1])
    panel.wait_text("execution-trigger", "定时")
    assert panel.text("execution-started-by").endswith("定时计划")
    panel.driver.back()
    panel.wait(lambda: _history_ids(panel) == [ids[16], ids[13], ids[10], ids[7]], what="the filtered history")
    panel.driver.back()  # before `to`
    panel.wait(lambda: _history_ids(panel) == failed[:6], what="failed runs from run 6 on")
    panel.driver.forward()
    panel.wait(lambda: _history_ids(panel) == [ids[16], ids[13], ids[10], ids[7]], what="forward to the range")
    # The execution view's link back to the job keeps the history's filters too.
    panel.click("open-execution", panel.find(tid("history-row"))[0])
    panel.wait_text("execution-trigger", "手动")
    panel.click("back-to-job")
    panel.wait(lambda: _history_ids(panel) == [ids[16], ids[13], ids[10], ids[7]], what="the range by the crumb")
    assert _hash_query(panel) == {"state": ["failed"], "from": [str(int(T0 + 3600))], "to": [str(int(T0 + 9600))]}
    panel.click("history-clear")
    panel.wait(lambda: _history_ids(panel) == newest_first[:20], what="every run again")
    assert _hash_query(panel) == {}

    # A run by a hostile user: the header shows the name as text.
    panel.open(server.url, f"#/jobs/{job['JobId']}/executions/{ids[15]}")
    panel.wait(lambda: panel.text("execution-started-by").endswith(HOSTILE_USER), what="the user as text")
    assert panel.text("execution-trigger").endswith("手动")
    assert not panel.find(f"{tid('execution-started-by')} b")
    assert panel.driver.execute_script("return window.__pwned === undefined")
    _no_script_errors(panel)
