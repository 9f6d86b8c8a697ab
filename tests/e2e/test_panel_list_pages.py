"""The paged lists in headless Chromium: the page size kept in the URL (jobs, a job's history, activity), and the
history and activity asking for their page again by themselves while an execution on it runs.

Executions are written into the server's store (no engine); one that runs is ended there, as the runner would.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from dce_jobs.models import Status
from tests.e2e.panel import Panel, api, tid
from tests.e2e.seed import Seeded, add_execution, add_run, end_run

pytestmark = pytest.mark.browser

T0 = 1_700_000_000.0  # 2023-11-14 22:13:20 UTC
NODE = "guv4tovwx67oa4j9evjrcgg5v"

#: a clock for the lists' refresh timer (REFRESH_MS): its timeouts are recorded, never due by themselves, fired
#: by hand; every other timeout is the browser's own
FAKE_REFRESH_CLOCK = """
const realSet = window.setTimeout.bind(window), realClear = window.clearTimeout.bind(window);
window.__refreshes = [];
window.setTimeout = (fn, ms, ...rest) => {
  if (ms !== 5000) return realSet(fn, ms, ...rest);
  const t = { fn, state: 'pending', id: realSet(() => {}, 2147483647) };
  window.__refreshes.push(t);
  return t.id;
};
window.clearTimeout = (id) => {
  for (const t of window.__refreshes) if (t.id === id && t.state === 'pending') t.state = 'cleared';
  realClear(id);
};
"""
PENDING = "return window.__refreshes.filter((t) => t.state === 'pending').length"
FIRE = (
    "const due = window.__refreshes.filter((t) => t.state === 'pending');"
    " due.forEach((t) => { t.state = 'fired'; t.fn(); }); return due.length"
)


def _no_script_errors(panel: Panel) -> None:
    """No uncaught exception and no Content Security Policy violation in the browser's console."""
    assert not (errors := panel.console_errors()), errors


def _hash_query(panel: Panel) -> dict[str, list[str]]:
    return parse_qs(urlsplit(panel.driver.current_url).fragment.partition("?")[2])


def _choose(panel: Panel, testid: str, value: str) -> None:
    from selenium.webdriver.support.ui import Select

    Select(panel.el(testid)).select_by_value(value)


def _chosen(panel: Panel, testid: str) -> str:
    return str(panel.el(testid).get_attribute("value"))


def _count(panel: Panel, testid: str) -> int:
    return len(panel.find(tid(testid)))


def _job(server: Any, name: str) -> dict[str, Any]:
    body = {"AppName": "shop", "ServiceName": "shop_web", "Name": name, "Cmd": "true"}
    return dict(api(server, "POST", "/api/jobs", body))


def _runs(server: Any, job: dict[str, Any], count: int) -> list[str]:
    return [
        add_run(server.data_dir, job["JobId"], T0 + n * 60, state="succeeded", duration_s=1, app_name="shop")
        for n in range(count)
    ]


def _running(server: Any, job: dict[str, Any]) -> str:
    """An execution of `job` whose one target runs; its ExecutorId."""
    executor_id = f"{T0 + 600:.6f}"
    target = Seeded("a" * 64, NODE, Status.RUNNING, started_at=T0 + 600)
    add_execution(server.data_dir, job["JobId"], executor_id, [target], app_name="shop", service_name="shop_web")
    return executor_id


def test_each_list_offers_20_50_or_100_a_page_kept_in_the_url(panel: Panel, panel_server: Any) -> None:
    server = panel_server()
    jobs = [_job(server, f"作业 {n:02d}") for n in range(23)]
    _runs(server, jobs[0], 25)

    # The job list: 20 by default; 50 is a new URL at page 1, kept by a reload, undone by Back.
    panel.open(server.url, "#/?page=2")
    panel.wait(lambda: _count(panel, "job-row") == 3, what="page 2 of 20 a page")
    assert _chosen(panel, "job-page-size") == "20"
    _choose(panel, "job-page-size", "50")
    panel.wait(lambda: _count(panel, "job-row") == 23, what="every job on one page")
    assert _hash_query(panel) == {"size": ["50"]}
    assert not panel.find(tid("pager"))
    panel.driver.refresh()
    panel.wait(lambda: _count(panel, "job-row") == 23, what="50 a page after the reload")
    assert _chosen(panel, "job-page-size") == "50"
    panel.driver.back()
    panel.wait(lambda: _count(panel, "job-row") == 3, what="page 2 of 20 a page after Back")
    assert _chosen(panel, "job-page-size") == "20"

    # A job's history: 100 a page.
    panel.open(server.url, f"#/jobs/{jobs[0]['JobId']}")
    panel.wait(lambda: _count(panel, "history-row") == 20, what="the newest 20 runs")
    _choose(panel, "history-page-size", "100")
    panel.wait(lambda: _count(panel, "history-row") == 25, what="every run")
    assert _hash_query(panel) == {"size": ["100"]}
    panel.driver.refresh()
    panel.wait(lambda: _count(panel, "history-row") == 25, what="100 a page after the reload")
    assert _chosen(panel, "history-page-size") == "100"

    # The activity: a size typed into the URL by hand is kept and offered beside the three.
    panel.open(server.url, "#/activity?size=7&page=2")
    panel.wait(lambda: _count(panel, "activity-row") == 7, what="7 a page")
    assert panel.text("pager-info") == "第 2 / 4 页，共 25 条"
    options = [o.get_attribute("value") for o in panel.find("option", panel.el("activity-page-size"))]
    assert (options, _chosen(panel, "activity-page-size")) == (["7", "20", "50", "100"], "7")
    _choose(panel, "activity-page-size", "20")
    panel.wait(lambda: _count(panel, "activity-row") == 20, what="20 a page")
    assert _hash_query(panel) == {}
    assert panel.text("pager-info") == "第 1 / 2 页，共 25 条"
    _no_script_errors(panel)


@pytest.mark.parametrize("view", ["activity", "history"])
def test_a_list_with_a_running_execution_refreshes_itself_until_none_runs(
    panel: Panel, panel_server: Any, view: str
) -> None:
    server = panel_server()
    job = _job(server, "巡检")
    ended = _runs(server, job, 2)
    running = _running(server, job)
    route = "#/activity" if view == "activity" else f"#/jobs/{job['JobId']}"
    body = f"{view}-body"

    panel.open(server.url, route)
    panel.wait(lambda: _count(panel, f"{view}-row") == 3, what="the three runs")
    panel.wait(lambda: panel.el(body).get_attribute("data-refresh") == "on", what="a refresh pending")
    badge = f"{tid(f'{view}-row')}[data-executor-id='{running}']"
    assert "执行中" in panel.find(badge)[0].text

    # Ended in the store: the list shows it by itself (the next refresh), then asks no more.
    end_run(server.data_dir, job["JobId"], running, state="failed", ended_at=T0 + 660)
    panel.wait(lambda: "失败" in panel.find(badge)[0].text, what="the end shown without a reload")
    assert panel.el(body).get_attribute("data-refresh") == "off"
    assert {r.get_attribute("data-executor-id") for r in panel.find(tid(f"{view}-row"))} == {*ended, running}
    _no_script_errors(panel)


@pytest.mark.parametrize("view", ["activity", "history"])
def test_the_refresh_never_piles_up_and_stops_when_the_view_is_left(panel: Panel, panel_server: Any, view: str) -> None:
    server = panel_server()
    job = _job(server, "巡检")
    _runs(server, job, 1)
    _running(server, job)
    route = "#/activity" if view == "activity" else f"#/jobs/{job['JobId']}"

    panel.open(server.url, "#/")
    panel.wait(lambda: _count(panel, "job-row") == 1, what="the job list")
    panel.driver.execute_script(FAKE_REFRESH_CLOCK)
    panel.driver.execute_script("location.hash = arguments[0]", route)
    panel.wait(lambda: panel.driver.execute_script(PENDING) == 1, what="one refresh pending")

    # Refreshes by hand and by the clock: still one pending at a time; the same answer is not drawn again.
    for _ in range(3):
        panel.click(f"{view}-refresh")
    panel.wait(lambda: panel.el(f"{view}-body").get_attribute("data-refresh") == "on", what="the last refresh shown")
    assert panel.driver.execute_script(PENDING) == 1
    rows = panel.find(tid(f"{view}-row"))
    for _ in range(3):
        assert panel.driver.execute_script(FIRE) == 1
        panel.wait(lambda: panel.driver.execute_script(PENDING) == 1, what="the next refresh pending")
    assert [r.get_attribute("data-executor-id") for r in rows] == [
        r.get_attribute("data-executor-id") for r in panel.find(tid(f"{view}-row"))
    ]
    assert panel.driver.execute_script("return arguments[0].isConnected", rows[0])

    # Leaving the view clears it.
    panel.driver.execute_script("location.hash = '#/'")
    panel.wait(lambda: _count(panel, "job-row") == 1, what="the job list again")
    assert panel.driver.execute_script(PENDING) == 0
    _no_script_errors(panel)
