"""The service picker, the Warnings of a saved job and a real stop, at DCE's widths, on the lab's real swarm."""

from __future__ import annotations

import pytest

from tests.e2e.conftest import E2E_APP, E2E_SERVICE, PanelServer
from tests.e2e.panel import Panel, api, tid

pytestmark = [pytest.mark.browser, pytest.mark.engine]


@pytest.mark.parametrize("width", [1024, 1400])
def test_pick_the_service_see_the_warning_and_stop_a_run(panel: Panel, lab_server: PanelServer, width: int) -> None:
    from selenium.webdriver.support.ui import Select

    panel.set_width(width)
    panel.open(lab_server.url)
    panel.el("jobs-empty")

    # The picker lists the swarm's services under their app; picking one fills AppName and ServiceName.
    panel.click("create-job")
    panel.wait_text("job-service-picker-state", "按应用分组")
    picker = Select(panel.el("job-service-picker"))
    groups = panel.find("optgroup", panel.el("job-service-picker"))
    assert [g.get_attribute("label") for g in groups] == [f"应用 {E2E_APP}"]
    option = next(o for o in picker.options if o.get_attribute("value") == E2E_SERVICE)
    assert "运行 3/3" in option.text
    picker.select_by_value(E2E_SERVICE)
    assert panel.el("job-app").get_attribute("value") == E2E_APP
    assert panel.el("job-service").get_attribute("value") == E2E_SERVICE
    name = f"长任务-{width}"
    panel.fill_job_form({"job-name": name, "job-cmd": "sleep 60"})
    panel.shot(f"dce-lab-{width}-01-service-picker")
    panel.save_job_form()
    row = panel.job_row(name)
    assert not panel.find(tid("job-warnings"))
    job_id = row.get_attribute("data-job-id")

    # Edited onto a service not deployed (yet): saved, and the list says so in Chinese with the server's words.
    panel.click("edit-job", row)
    panel.fill_job_form({"job-service": "e2e_later"})
    assert Select(panel.el("job-service-picker")).first_selected_option.get_attribute("value") == ""
    panel.save_job_form()
    warning = panel.wait_text("job-warnings", "服务暂不存在")
    assert "service e2e_later does not exist" in warning
    assert api(lab_server, "GET", f"/api/jobs/{job_id}")["ServiceName"] == "e2e_later"
    panel.shot(f"dce-lab-{width}-02-warning")

    # Picked back: no warning any more.
    panel.click("edit-job", panel.job_row(name))
    panel.wait_text("job-service-picker-state", "按应用分组")
    Select(panel.el("job-service-picker")).select_by_value(E2E_SERVICE)
    panel.save_job_form()
    panel.gone(tid("job-warnings"))

    # A real run stopped from the panel: a grey 已停止 per target and for the run, not a red 失败.
    panel.click("start-job", panel.job_row(name))
    panel.wait(lambda: len(panel.find(tid("container-row"))) == 3, timeout=30, what="three running containers")
    panel.click("select-all-containers", panel.el("start-dialog"))
    panel.click("confirm-start")
    panel.gone(tid("start-dialog"), timeout=30)
    panel.wait(
        lambda: (
            len(panel.result_rows()) == 3
            and {r.get_attribute("data-status") for r in panel.result_rows()} == {"RUNNING"}
        ),
        timeout=30,
        what="every target running",
    )
    # The job sets no timeout: the run shows the server's default, which really applies.
    assert panel.text("execution-timeout") == "86400 秒（1 天）"
    panel.click("stop-execution")
    panel.confirm(ok=True)
    panel.wait(lambda: set(panel.result_labels().values()) == {"已停止"}, timeout=40, what="every target stopped")
    badges = [panel.find(tid("result-status"), r)[0].get_attribute("class") for r in panel.result_rows()]
    assert all("badge-stopped" in b for b in badges), badges
    panel.wait_text("execution-status", "已停止")
    assert "badge-stopped" in panel.el("execution-badge").get_attribute("class")
    inspect = api(
        lab_server,
        "GET",
        f"/api/jobs/{job_id}/inspect/{api(lab_server, 'GET', f'/api/jobs/{job_id}')['Executors'][-1]}",
    )
    # EndReason once the server sends it; until then the E "stopped" is what the panel reads.
    assert all(r.get("EndReason", "stopped") == "stopped" and r["E"].startswith("stopped") for r in inspect["Result"])
    panel.el("retry-failed")
    panel.shot(f"dce-lab-{width}-03-stopped")
