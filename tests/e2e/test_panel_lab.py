"""The whole scenario of issue 6 in a real headless Chromium, on a real Docker Swarm (the project's lab)."""

from __future__ import annotations

import hashlib
import time
import uuid
from typing import Any

import pytest

from tests.e2e.conftest import E2E_SERVICE, PanelServer
from tests.e2e.panel import Panel, api, tid

pytestmark = [pytest.mark.browser, pytest.mark.engine]

SECRET = "s3cr3t-Value"
# The secret arrives as $1; the command compares its hash, so the secret is neither in the command nor printed.
DIGEST = hashlib.sha256(SECRET.encode()).hexdigest()
CHECK = 'test "$(printf %s "$1" | sha256sum | cut -c1-64)" = ' + DIGEST
CMD = "sh -c '" + CHECK + " && echo secret-ok from $(hostname)' _"


def test_create_start_watch_download_edit_rerun_delete(panel: Panel, lab_server: PanelServer) -> None:
    panel.open(lab_server.url)
    panel.el("jobs-empty")
    panel.click("create-job")
    panel.fill_job_form(
        {
            "job-name": "密钥校验",
            "job-app": "e2e",
            "job-service": E2E_SERVICE,
            "job-cmd": CMD,
        }
    )
    panel.add_secret(SECRET)
    panel.save_job_form()
    row = panel.job_row("密钥校验")
    job_id = row.get_attribute("data-job-id")

    # Start on two of the service's three running containers.
    first = _run_on_two(panel, row, shot="20-start-dialog")
    panel.shot("21-execution-started")
    _check_run(panel, first, expected="secret-ok from")
    panel.shot("22-execution-finished")

    panel.click("download-log", _row(panel, first[0]))
    name, text = panel.take_download()
    assert name.endswith(f"{first[0][:12]}.log")
    assert "secret-ok from" in text and SECRET not in text
    panel.click("download-all")
    name, text = panel.take_download()
    assert name.endswith("_all.log")
    assert all(f"container {c}" in text for c in first) and text.count("secret-ok from") == 2
    assert SECRET not in text

    # Edit without touching the secret (its masks go back as they were), then run again: it still matches.
    panel.click("back-to-job")
    panel.wait_text("job-title", "密钥校验")
    panel.click("edit-job")
    assert [i.get_attribute("value") for i in panel.secret_inputs()] == ["*" * len(SECRET)]
    panel.fill_job_form({"job-cmd": CMD.replace("secret-ok from", "secret-ok again from")})
    panel.save_job_form()
    panel.wait_text("job-definition", "secret-ok again from")
    assert SECRET not in panel.text("job-definition")
    second = _run_on_two(panel, panel.el("job-title"), via_job_page=True)
    _check_run(panel, second, expected="secret-ok again from")

    panel.click("back-to-job")
    panel.wait(lambda: len(panel.find(tid("history-row"))) == 2, what="two executions in the history")
    panel.wait(lambda: all("成功" in r.text for r in panel.find(tid("history-result"))))
    ids = [r.get_attribute("data-executor-id") for r in panel.find(tid("history-row"))]
    assert ids == sorted(ids, key=float, reverse=True)
    panel.shot("23-job-history")

    panel.click("delete-job")
    panel.confirm(ok=True)
    panel.el("jobs-empty")
    assert job_id not in panel.driver.page_source


def test_timeout_stop_and_retry_failed(panel: Panel, lab_server: PanelServer) -> None:
    panel.open(lab_server.url)
    panel.el("jobs-empty")

    # A job with Timeout 2 made in the form: its `sleep 30` is terminated after 2 s and the target fails.
    panel.click("create-job")
    panel.fill_job_form(
        {"job-name": "超时", "job-app": "e2e", "job-service": E2E_SERVICE, "job-cmd": "sleep 30", "job-timeout": "2"}
    )
    panel.save_job_form()
    row = panel.job_row("超时")
    job_id = row.get_attribute("data-job-id")
    assert api(lab_server, "GET", f"/api/jobs/{job_id}")["Timeout"] == 2
    begun = time.monotonic()
    [target] = _run_on(panel, row, 1)
    _wait_failed(panel, target, "timed out after 2 s", "已超时")
    assert time.monotonic() - begun < 25, "the timeout did not cut the 30 s sleep short"
    assert "失败" in panel.text("execution-status")
    panel.gone(tid("stop-execution"))
    panel.shot("24-execution-timed-out")

    # Once more with a timeout for this run only, from the start dialog (validated before it is sent).
    panel.click("start-again")
    [target] = _run_on(panel, None, 1, start=False)
    panel.fill("start-timeout", "1s")
    panel.click("confirm-start")
    panel.wait_text("start-timeout-error", "请输入秒数")
    panel.fill("start-timeout", "1")
    panel.shot("25-start-dialog-timeout")
    earlier = panel.driver.current_url
    panel.click("confirm-start")
    panel.gone(tid("start-dialog"), timeout=30)
    panel.wait(lambda: panel.driver.current_url != earlier, what="the new execution's page")
    panel.wait(lambda: list(panel.result_labels()) == [target], what="the execution with one target")
    _wait_failed(panel, target, "timed out after 1 s", "已超时")
    job = api(lab_server, "GET", f"/api/jobs/{job_id}")
    assert job["Timeout"] == 2 and len(job["Executors"]) == 2  # the override did not change the job

    # A long job stopped from the panel: every target ends 失败 with "stopped", long before its 60 s.
    job_id = api(
        lab_server,
        "POST",
        "/api/jobs",
        {"AppName": "e2e", "ServiceName": E2E_SERVICE, "Name": "长任务", "Cmd": "sleep 60"},
    )["JobId"]
    panel.open(lab_server.url, f"#/jobs/{job_id}")
    panel.wait_text("job-title", "长任务")
    begun = time.monotonic()
    targets = _run_on(panel, None, 3, via_job_page=True)
    panel.wait(
        lambda: {r.get_attribute("data-status") for r in panel.result_rows()} == {"RUNNING"},
        timeout=30,
        what="every target running",
    )
    panel.gone(tid("retry-failed"))
    panel.click("stop-execution")
    panel.wait_text("confirm-dialog", "停止")
    panel.shot("26-stop-confirm")
    panel.confirm(ok=True)
    for target in targets:
        _wait_stopped(panel, target)
    assert time.monotonic() - begun < 40, "stopping did not end the 60 s sleeps"
    panel.wait(lambda: panel.el("poll-state").get_attribute("data-state") == "done")
    panel.gone(tid("stop-execution"))
    panel.el("retry-failed")
    panel.shot("27-execution-stopped")

    # Retry of a partly failed run: only the failed container runs again, in a new execution (and succeeds).
    marker = f"/tmp/e2e-retry-{uuid.uuid4().hex[:8]}"
    flaky = (
        'sh -c \'case "$(hostname)" in *-1) test -e '
        + marker
        + " || { touch "
        + marker
        + "; echo first attempt fails; exit 3; };; esac; echo ok from $(hostname)'"
    )
    job_id = api(
        lab_server, "POST", "/api/jobs", {"AppName": "e2e", "ServiceName": E2E_SERVICE, "Name": "重试", "Cmd": flaky}
    )["JobId"]
    panel.open(lab_server.url, f"#/jobs/{job_id}")
    panel.wait_text("job-title", "重试")
    targets = _run_on(panel, None, 3, via_job_page=True)
    panel.wait(lambda: sorted(panel.result_labels().values()) == ["失败", "成功", "成功"], timeout=60)
    panel.wait_text("execution-status", "部分失败")
    [failed] = [c for c, label in panel.result_labels().items() if label == "失败"]
    assert panel.find(tid("result-exit-code"), _row(panel, failed))[0].text == "3"
    first = api(lab_server, "GET", f"/api/jobs/{job_id}")["Executors"]
    panel.shot("28-execution-partly-failed")
    panel.click("retry-failed")
    panel.confirm(ok=True)
    panel.wait(lambda: not panel.driver.current_url.endswith(first[-1]), what="the new execution's page")
    executors = api(lab_server, "GET", f"/api/jobs/{job_id}")["Executors"]
    assert executors[:-1] == first and panel.driver.current_url.endswith(executors[-1])
    panel.wait(lambda: list(panel.result_labels()) == [failed], what="only the failed container")
    panel.wait(lambda: panel.result_labels() == {failed: "成功"}, timeout=60, what="the retried container to succeed")
    assert [panel.find(tid("result-exit-code"), r)[0].text for r in panel.result_rows()] == ["0"]
    before = api(lab_server, "GET", f"/api/jobs/{job_id}/inspect/{first[-1]}")
    assert sorted(t["ContainerId"] for t in before["Target"]) == sorted(targets)
    panel.gone(tid("retry-failed"))
    panel.shot("29-execution-retried")


def _run_on(panel: Panel, row: Any, count: int, *, via_job_page: bool = False, start: bool = True) -> list[str]:
    """Start on the first `count` running containers; return their ids (once the execution view shows them).

    With row None and not via_job_page the start dialog is being opened already; with start False it is left
    open with the containers ticked.
    """
    if row is not None or via_job_page:
        panel.click("start-job", None if via_job_page else row)
    panel.wait(lambda: len(panel.find(tid("container-row"))) == 3, timeout=30, what="three running containers")
    dialog = panel.el("start-dialog")
    rows = panel.find(tid("container-row"), dialog)
    for r in rows[:count]:
        panel.find(tid("container-checkbox"), r)[0].click()
    panel.wait_text("selected-count", f"已选择 {count} / 3")
    chosen = [r.get_attribute("data-container-id") for r in rows[:count]]
    if not start:
        return chosen
    panel.click("confirm-start")
    panel.gone(tid("start-dialog"), timeout=30)
    panel.wait(lambda: sorted(panel.result_labels()) == sorted(chosen), what="the execution view")
    return chosen


def _wait_failed(panel: Panel, container_id: str, error: str, status: str) -> None:
    """The target turns 失败, its row shows the runner's reason and the status line says what happened."""
    panel.wait(lambda: panel.result_labels().get(container_id) == "失败", timeout=40, what=f"{container_id} to fail")
    # the status comes with the target's event; the runner's words come with the inspect that event triggers
    panel.wait(lambda: error in _row(panel, container_id).text, timeout=10, what=f"{container_id}'s reason")
    row = _row(panel, container_id)
    assert error in row.text and status in row.text, row.text


def _wait_stopped(panel: Panel, container_id: str) -> None:
    """A deliberate stop: the target turns a grey 已停止 (not a red 失败), its row keeps the server's E."""
    panel.wait(lambda: panel.result_labels().get(container_id) == "已停止", timeout=40, what=f"{container_id} stopped")
    panel.wait(lambda: "stopped" in _row(panel, container_id).text, timeout=10, what=f"{container_id}'s reason")
    row = _row(panel, container_id)
    assert "stopped" in row.text and "执行被手动停止" in row.text, row.text
    assert "badge-stopped" in panel.find(tid("result-status"), row)[0].get_attribute("class")


def _run_on_two(panel: Panel, row: Any, *, shot: str = "", via_job_page: bool = False) -> list[str]:
    """Open the start dialog, tick two containers, start; return their ids once the execution view shows."""
    panel.click("start-job", None if via_job_page else row)
    panel.wait(lambda: len(panel.find(tid("container-row"))) == 3, timeout=30, what="three running containers")
    dialog = panel.el("start-dialog")
    rows = panel.find(tid("container-row"), dialog)
    assert all(r.text.strip() for r in rows)
    # Select-all, then untick the last one.
    panel.click("select-all-containers", dialog)
    panel.find(tid("container-checkbox"), rows[2])[0].click()
    panel.wait_text("selected-count", "已选择 2 / 3")
    chosen = [r.get_attribute("data-container-id") for r in rows[:2]]
    if shot:
        panel.shot(shot)
    panel.click("confirm-start")
    panel.gone(tid("start-dialog"), timeout=30)
    # A wait, not one read: the view redraws its rows on each poll (a row read mid-redraw is stale).
    panel.wait(lambda: sorted(panel.result_labels()) == sorted(chosen), what="the execution view")
    return chosen


def _check_run(panel: Panel, containers: list[str], *, expected: str) -> None:
    """Both targets turn 成功 with exit code 0, polling stops, and the output says the secret matched."""
    panel.wait(lambda: set(panel.result_labels().values()) == {"成功"}, timeout=60, what="both containers to succeed")
    panel.wait(lambda: panel.el("poll-state").get_attribute("data-state") == "done")
    assert [panel.find(tid("result-exit-code"), r)[0].text for r in panel.result_rows()] == ["0", "0"]
    panel.click("toggle-output", _row(panel, containers[0]))
    out = panel.el("result-output")
    assert expected in out.text and SECRET not in out.text


def _row(panel: Panel, container_id: str) -> Any:
    return next(r for r in panel.result_rows() if r.get_attribute("data-container-id") == container_id)
