"""Following a real run live in the panel, on the lab's swarm: output appends as it is printed, the reader's scroll
position and text selection survive the updates, the row preview is the newest line, and stderr is marked."""

from __future__ import annotations

import re
import uuid
from typing import Any

import pytest
from selenium.common.exceptions import StaleElementReferenceException

from tests.e2e.conftest import E2E_APP, E2E_SERVICE, PanelServer
from tests.e2e.panel import Panel, api, tid

pytestmark = [pytest.mark.browser, pytest.mark.engine]


def _touch(lab: Any, container_id: str, path: str) -> None:
    """Create a file in a container through the lab's engine (the run waits for it before it ends)."""
    import docker

    client = docker.APIClient(base_url=lab.manager.unix_url, timeout=30)
    client.exec_start(client.exec_create(container_id, ["touch", path])["Id"])


def _cmd(gate: str) -> str:
    # 30 lines at once (enough to scroll), then a tick every 0.3 s with one line on stderr, until the test opens the
    # gate (at most ~2 minutes), then "done".
    return (
        'sh -c \'for i in $(seq -w 1 30); do echo "line $i"; done; i=0; '
        f'while [ ! -e {gate} ] && [ $i -lt 400 ]; do i=$((i+1)); echo "tick $i"; '
        '[ $i -eq 3 ] && echo "warning: on stderr" >&2; sleep 0.3; done; echo done\''
    )


def _row(panel: Panel, container_id: str) -> Any:
    return next(r for r in panel.result_rows() if r.get_attribute("data-container-id") == container_id)


def _preview(panel: Panel, container_id: str) -> str:
    for _ in range(10):  # the live view replaces the preview line as lines arrive: read it again when it went stale
        try:
            row = next((r for r in panel.result_rows() if r.get_attribute("data-container-id") == container_id), None)
            found = panel.find(tid("result-preview-line"), row) if row is not None else []
            return str(found[0].get_attribute("textContent")) if found else ""
        except StaleElementReferenceException:
            continue
    raise AssertionError(f"the preview line of {container_id} kept going stale")


def _tick(panel: Panel, container_id: str) -> int:
    m = re.fullmatch(r"tick (\d+)", _preview(panel, container_id))
    return int(m.group(1)) if m else 0


@pytest.mark.parametrize("width", [1024, 1400])
def test_follow_a_run_scroll_and_selection_survive(
    panel: Panel, lab_server: PanelServer, e2e_lab: Any, width: int
) -> None:
    gate = f"/tmp/dce-jobs-live-{uuid.uuid4().hex[:8]}"
    job = api(
        lab_server,
        "POST",
        "/api/jobs",
        {"AppName": E2E_APP, "ServiceName": E2E_SERVICE, "Name": f"实时-{width}", "Cmd": _cmd(gate)},
    )
    first_container = api(lab_server, "GET", f"/api/services/{E2E_SERVICE}/containers")[0]
    target, node = first_container["ContainerId"], first_container["NodeId"]
    started = api(
        lab_server, "POST", f"/api/jobs/{job['JobId']}/start", {"Target": [{"ContainerId": target, "NodeId": node}]}
    )
    executor = started["Executors"][-1]
    panel.set_width(width)
    panel.open(lab_server.url, f"#/jobs/{job['JobId']}/executions/{executor}")

    # Live: the preview moves on from tick to tick while the run goes on.
    panel.wait(lambda: _tick(panel, target) > 0, timeout=30, what="the first tick")
    assert panel.el("poll-state").get_attribute("data-source") == "events"
    panel.click("toggle-output", _row(panel, target))
    box = panel.output_box(target)
    panel.wait(lambda: (s := panel.box_scroll(box))["height"] > s["client"] > 0, what="a box that scrolls")

    # The reader scrolls up and selects a line: both stay while lines keep arriving.
    panel.scroll_box_to(box, 0)
    panel.wait(lambda: not panel.el("output-follow").is_selected(), what="follow to turn off")
    first = panel.find(".ln", box)[0]
    assert panel.select_in(first, 0, 7) == "line 01"
    seen = _tick(panel, target)
    panel.wait(lambda: _tick(panel, target) >= seen + 3, timeout=30, what="three more ticks")
    assert panel.box_scroll(box)["top"] == 0
    assert panel.selection() == {"text": "line 01", "inBox": True}
    assert panel.find(".ln", box)[0].text == "line 01"

    # stderr is its own line, marked.
    err = panel.wait(
        lambda: next((ln for ln in panel.find(".ln", box) if ln.text == "warning: on stderr"), None),
        what="the stderr line",
    )
    assert err.get_attribute("data-stream") == "stderr"
    assert panel.find(".ln", box)[0].get_attribute("data-stream") == "stdout"
    panel.shot(f"live-lab-{width}-01-scrolled-up")

    # Back to following, then the run ends: every line once, in order, the last one shown.
    panel.click("output-follow")
    _touch(e2e_lab, target, gate)
    panel.wait(lambda: panel.result_labels() == {target: "成功"}, timeout=60, what="the run to succeed")
    panel.wait(lambda: panel.el("poll-state").get_attribute("data-state") == "done", what="the end of the stream")
    panel.wait(lambda: _preview(panel, target) == "done", what="the last line")
    lines = [ln.get_attribute("textContent") for ln in panel.find(".ln", box)]
    ticks = [int(t.split()[1]) for t in lines if t.startswith("tick ")]
    assert lines[:30] == [f"line {n:02d}" for n in range(1, 31)] and lines[-1] == "done"
    assert ticks == list(range(1, len(ticks) + 1)) and len(ticks) >= seen + 3
    s = panel.box_scroll(box)
    assert s["top"] + s["client"] >= s["height"] - 2, "following again: the box shows the end"
    panel.shot(f"live-lab-{width}-02-ended")
