"""The activity view (#/activity) in headless Chromium: executions across jobs, filters, paging, the URL.

Executions are written into the server's store (no engine): their state, end, counts, trigger and user are the
ones GET /api/executors lists.
"""

from __future__ import annotations

import re
import sqlite3
from contextlib import closing
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from dce_jobs.models import Status
from tests.e2e.panel import Panel, api, tid
from tests.e2e.seed import Seeded, add_execution, add_run

pytestmark = pytest.mark.browser

T0 = 1_700_000_000.0  # 2023-11-14 22:13:20 UTC
NODE = "guv4tovwx67oa4j9evjrcgg5v"
HOSTILE = '<img src=x onerror="window.__pwned=1">\'&amp;</td><b>x'
WIDTHS = [1024, 1400]


def _no_script_errors(panel: Panel) -> None:
    """No uncaught exception and no Content Security Policy violation in the browser's console."""
    assert not (errors := panel.console_errors()), errors


def _hash_query(panel: Panel) -> dict[str, list[str]]:
    return parse_qs(urlsplit(panel.driver.current_url).fragment.partition("?")[2])


def _rows(panel: Panel) -> list[Any]:
    return list(panel.find(tid("activity-row")))


def _ids(panel: Panel) -> list[str]:
    return [r.get_attribute("data-executor-id") for r in _rows(panel)]


def _cell(panel: Panel, executor_id: str, testid: str) -> Any:
    row = panel.wait(
        lambda: next((r for r in _rows(panel) if r.get_attribute("data-executor-id") == executor_id), None),
        what=f"the row of {executor_id}",
    )
    return panel.find(tid(testid), row)[0]


def _set(panel: Panel, testid: str, value: str) -> None:
    """Set an input or select as a person would end up with it, then fire its change event."""
    panel.el(testid)
    panel.driver.execute_script(
        "const el = document.querySelector(arguments[0]); el.value = arguments[1];"
        " el.dispatchEvent(new Event('change'))",
        tid(testid),
        value,
    )


def _seed(server: Any) -> dict[str, Any]:
    """Two jobs in two apps: 22 ended runs of one (states, triggers and users in turn), 2 of the other, 1 running."""

    def job(name: str, app: str, service: str) -> dict[str, Any]:
        return dict(
            api(server, "POST", "/api/jobs", {"AppName": app, "ServiceName": service, "Name": name, "Cmd": "true"})
        )

    deploy = job("发布", "shop", "shop_web")
    hostile = job(HOSTILE, "db", "db_main")
    states = ["succeeded", "failed", "stopped", "succeeded"]
    triggers = [("manual", "alice"), ("schedule", "schedule"), ("retry", "retry"), ("manual", HOSTILE)]
    ids = []
    for n in range(22):
        trigger, user = triggers[n % 4]
        counts = {"succeeded": 3, "failed": 1} if states[n % 4] == "failed" else {"succeeded": 2}
        ids.append(
            add_run(
                server.data_dir,
                deploy["JobId"],
                T0 + n * 600,
                state=states[n % 4],
                duration_s=5 + n * 30,
                counts=counts,
                trigger=trigger,
                started_by=user,
                app_name="shop",
                service_name="shop_web",
            )
        )
    for n in (22, 23):
        ids.append(
            add_run(
                server.data_dir,
                hostile["JobId"],
                T0 + n * 600,
                state="failed",
                duration_s=3725,
                counts={"failed": 2},
                started_by="bob",
                app_name="db",
                service_name="db_main",
            )
        )
    running = f"{T0 + 24 * 600:.6f}"
    add_execution(
        server.data_dir,
        deploy["JobId"],
        running,
        [Seeded("a" * 64, NODE, Status.RUNNING, started_at=T0 + 24 * 600)],
        started_by="carol",
        app_name="shop",
        service_name="shop_web",
    )
    return {"deploy": deploy, "hostile": hostile, "ids": ids, "running": running}


@pytest.mark.parametrize("width", WIDTHS)
def test_activity_lists_runs_across_jobs_newest_first_with_paging_kept_in_the_url(
    panel: Panel, panel_server: Any, width: int
) -> None:
    server = panel_server()
    seeded = _seed(server)
    newest_first = [seeded["running"], *reversed(seeded["ids"])]
    panel.driver.execute_cdp_cmd("Emulation.setTimezoneOverride", {"timezoneId": "UTC"})
    panel.set_width(width)
    panel.open(server.url)
    panel.click("nav-activity")
    panel.wait(lambda: _ids(panel) == newest_first[:20], what="the newest 20 runs")
    assert panel.text("pager-info") == "第 1 / 2 页，共 25 条"
    assert panel.text("activity-count") == "共 25 次执行"

    # The running one: no end yet, a duration that grows from its start.
    assert _cell(panel, seeded["running"], "activity-state-badge").text == "执行中"
    assert _cell(panel, seeded["running"], "activity-end").text == "—"
    assert float(_cell(panel, seeded["running"], "activity-duration").get_attribute("data-since")) == T0 + 24 * 600
    assert _cell(panel, seeded["running"], "activity-started-by").text == "carol"

    # Ended ones: state, trigger, who, start and end, duration, counts; the job's name links to the job.
    failed = seeded["ids"][5]  # failed after 155 s, fired by a schedule
    assert _cell(panel, failed, "activity-state-badge").text == "部分失败"
    assert _cell(panel, failed, "activity-trigger").text == "定时"
    assert _cell(panel, failed, "activity-started-by").text == "定时计划"
    assert _cell(panel, failed, "activity-start").text == "2023-11-14 23:03:20"
    assert _cell(panel, failed, "activity-end").text == "2023-11-14 23:05:55"
    assert _cell(panel, failed, "activity-duration").text == "2 分 35 秒"
    assert _cell(panel, failed, "activity-counts").text == "3 成功 · 1 失败"
    retried = seeded["ids"][6]
    assert _cell(panel, retried, "activity-trigger").text == "重试"
    assert _cell(panel, retried, "activity-started-by").text == "自动重试"
    assert _cell(panel, retried, "activity-state-badge").text == "已停止"
    assert _cell(panel, seeded["ids"][8], "activity-trigger").text == "手动"
    assert _cell(panel, seeded["ids"][8], "activity-started-by").text == "alice"
    assert _cell(panel, seeded["ids"][21], "activity-duration").text == "10 分 35 秒"
    assert _cell(panel, seeded["ids"][23], "activity-duration").text == "1 小时 2 分"
    link = panel.wait(lambda: (a := _cell(panel, failed, "activity-job")).text == "发布" and a, what="the job's name")
    assert link.get_attribute("href").endswith(f"#/jobs/{seeded['deploy']['JobId']}")
    run_link = _cell(panel, failed, "activity-execution")
    assert run_link.text == failed
    assert run_link.get_attribute("href").endswith(f"#/jobs/{seeded['deploy']['JobId']}/executions/{failed}")

    # Hostile names (a job's, a user's) are text: no element made of them, no script run.
    hostile_run = seeded["ids"][23]
    panel.wait(lambda: _cell(panel, hostile_run, "activity-job").text == HOSTILE, what="the hostile job name as text")
    assert _cell(panel, seeded["ids"][19], "activity-started-by").text == HOSTILE
    assert not panel.find(f"{tid('activity-table')} img, {tid('activity-table')} b")
    assert panel.driver.execute_script("return window.__pwned === undefined")
    wrap = panel.driver.execute_script(
        "const t = document.querySelector(arguments[0]).closest('.table-wrap');return [t.scrollWidth, t.clientWidth];",
        tid("activity-table"),
    )
    assert wrap[0] <= wrap[1], f"the table scrolls sideways: {wrap}"
    assert panel.el("nav-activity").get_attribute("aria-current") == "page"
    panel.shot(f"activity-{width}-01-page-1")

    # The next page is a new URL: reload keeps it, Back and Forward move between the pages.
    panel.click("pager-next")
    panel.wait(lambda: _ids(panel) == newest_first[20:], what="page 2")
    assert _hash_query(panel)["page"] == ["2"]
    assert panel.text("pager-info") == "第 2 / 2 页，共 25 条"
    assert panel.el("pager-next").get_attribute("data-disabled") is not None
    panel.driver.refresh()
    panel.wait(lambda: _ids(panel) == newest_first[20:], what="page 2 after the reload")
    panel.driver.back()
    panel.wait(lambda: _ids(panel) == newest_first[:20], what="page 1 again")
    panel.driver.forward()
    panel.wait(lambda: _ids(panel) == newest_first[20:], what="page 2 again")

    # To an execution and back: the same page of the list.
    panel.click("activity-execution", _rows(panel)[0])  # run 4: by hand, by alice
    panel.wait_text("execution-trigger", "手动")
    assert panel.text("execution-started-by").endswith("alice")
    panel.driver.back()
    panel.wait(lambda: _ids(panel) == newest_first[20:], what="page 2 after the execution view")
    _no_script_errors(panel)


def test_activity_filters_by_app_service_state_and_time_kept_across_reload_and_back(
    panel: Panel, panel_server: Any
) -> None:
    server = panel_server()
    seeded = _seed(server)
    ids = seeded["ids"]
    panel.driver.execute_cdp_cmd("Emulation.setTimezoneOverride", {"timezoneId": "UTC"})
    panel.open(server.url, "#/activity")
    panel.wait(lambda: len(_rows(panel)) == 20, what="the first page")

    # State: only failed runs (the deploy job's every 4th, and both of the other job's), one page.
    _set(panel, "activity-state", "failed")
    failed = [ids[23], ids[22], *reversed(ids[1:22:4])]
    panel.wait(lambda: _ids(panel) == failed, what="failed runs")
    assert _hash_query(panel)["state"] == ["failed"]
    assert not panel.find(tid("pager"))

    # App: typed and confirmed with Enter; together with the state.
    from selenium.webdriver.common.keys import Keys

    panel.fill("activity-app", "db")
    panel.el("activity-app").send_keys(Keys.ENTER)
    panel.wait(lambda: _ids(panel) == [ids[23], ids[22]], what="the db app's failed runs")
    assert _hash_query(panel)["app"] == ["db"]

    # Reload: the same list, and the controls show the filters.
    panel.driver.refresh()
    panel.wait(lambda: _ids(panel) == [ids[23], ids[22]], what="the same runs after the reload")
    assert panel.el("activity-app").get_attribute("value") == "db"
    assert panel.el("activity-state").get_attribute("value") == "failed"

    # Back: the filter before (state only), the controls with it.
    panel.driver.back()
    panel.wait(lambda: _ids(panel) == failed, what="failed runs of every app")
    assert panel.el("activity-app").get_attribute("value") == ""

    # Service, then a time range of starts (inclusive, in the browser's zone): runs 4..8 of the deploy job.
    _set(panel, "activity-state", "")
    panel.fill("activity-service", "shop_web")
    panel.el("activity-service").send_keys(Keys.ENTER)
    panel.wait(lambda: _hash_query(panel).get("service") == ["shop_web"], what="the service in the URL")
    panel.wait(lambda: len(_rows(panel)) == 20 and _ids(panel)[0] == seeded["running"], what="the shop_web runs")
    _set(panel, "activity-from", "2023-11-14T22:53:20")  # T0 + 2400
    panel.wait(lambda: _hash_query(panel).get("from") == [str(int(T0 + 2400))], what="from in the URL")
    _set(panel, "activity-to", "2023-11-14T23:33:20")  # T0 + 4800
    panel.wait(lambda: _ids(panel) == list(reversed(ids[4:9])), what="runs 4 to 8")
    query = _hash_query(panel)
    assert query["service"] == ["shop_web"] and query["to"] == [str(int(T0 + 4800))]
    panel.driver.refresh()
    panel.wait(lambda: _ids(panel) == list(reversed(ids[4:9])), what="the same range after the reload")
    assert panel.el("activity-from").get_attribute("value") == "2023-11-14T22:53:20"
    panel.shot("activity-02-filtered")

    # Nothing matches: said so; clearing the filters shows everything again.
    _set(panel, "activity-state", "running")
    panel.wait_text("activity-empty", "没有符合条件的执行")
    panel.click("activity-clear")
    panel.wait(lambda: len(_rows(panel)) == 20, what="every run again")
    assert _hash_query(panel) == {}
    _no_script_errors(panel)


def test_activity_names_each_job_from_the_list_without_asking_for_the_job(panel: Panel, panel_server: Any) -> None:
    """JobName of each entry: a job renamed after its runs shows its new name, a gone one says so; no GET of a job."""
    server = panel_server()
    seeded = _seed(server)
    deploy, ids = seeded["deploy"], seeded["ids"]
    renamed = "发布 v2 <i>new</i>"
    fields = {k: deploy[k] for k in ("AppName", "ServiceName", "Cmd")}
    api(server, "PUT", f"/api/jobs/{deploy['JobId']}", {**fields, "Name": renamed})
    # an entry whose job is gone: deleting a job deletes its runs, so only a list read during a delete sees one
    old = api(server, "POST", "/api/jobs", {"AppName": "old", "ServiceName": "old_web", "Name": "old", "Cmd": "true"})
    orphan = add_run(server.data_dir, old["JobId"], T0 + 30 * 600, state="succeeded", app_name="old")
    with closing(sqlite3.connect(server.data_dir / "dce-jobs.sqlite3", isolation_level=None)) as db:
        db.execute("DELETE FROM jobs WHERE job_id = ?", (old["JobId"],))
    panel.open(server.url, "#/activity")
    panel.wait(lambda: len(_rows(panel)) == 20, what="the first page")

    gone = _cell(panel, orphan, "activity-job")
    assert (gone.tag_name, gone.text, gone.get_attribute("href")) == ("span", "（作业已删除）", None)
    link = _cell(panel, ids[21], "activity-job")
    assert (link.tag_name, link.text, link.get_attribute("title")) == ("a", renamed, renamed)
    assert link.get_attribute("href").endswith(f"#/jobs/{deploy['JobId']}")
    assert _cell(panel, seeded["running"], "activity-job").text == renamed
    assert _cell(panel, ids[23], "activity-job").text == HOSTILE
    assert not panel.find(f"{tid('activity-table')} img, {tid('activity-table')} b, {tid('activity-table')} i")
    assert panel.driver.execute_script("return window.__pwned === undefined")
    asked = panel.driver.execute_script(
        "return performance.getEntriesByType('resource').map(e => new URL(e.name).pathname)"
        ".filter(p => p.includes('/api/'))"
    )
    assert any(p.endswith("/api/executors") for p in asked), asked
    assert not [p for p in asked if re.fullmatch(r".*/api/jobs/[^/]+", p)], asked
    _no_script_errors(panel)
