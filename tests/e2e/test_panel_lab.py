"""The whole scenario of issue 6 in a real headless Chromium, on a real Docker Swarm (the project's lab)."""

from __future__ import annotations

import hashlib
from typing import Any

import pytest

from tests.e2e.conftest import E2E_SERVICE, PanelServer
from tests.e2e.panel import Panel, tid

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
            "job-secret-args": SECRET,
        }
    )
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
    assert panel.el("job-secret-args").get_attribute("value") == "*" * len(SECRET)
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
    panel.wait(lambda: len(panel.result_rows()) == 2, what="the execution view")
    assert sorted(panel.result_labels()) == sorted(chosen)
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
