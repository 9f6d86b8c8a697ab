"""The statistics view in a real headless Chromium: the 30-day chart, success rate, hours and durations."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import pytest

from dce_jobs.models import Execution
from dce_jobs.store.sqlite import SqliteStore
from tests.e2e.panel import Panel, api

pytestmark = pytest.mark.browser


def _seed_runs(data_dir: Path, job_id: str, plan: list[tuple[float, str, float]]) -> None:
    """Executions created at each time and ended in a state after a duration, written into the server's store."""

    async def work() -> None:
        store = SqliteStore(data_dir / "dce-jobs.sqlite3")
        await store.open()
        try:
            for n, (created, state, duration_s) in enumerate(plan):
                execution = Execution(job_id=job_id, executor_id=f"{created:.6f}", created_at=created, targets=())
                await store.create_execution(execution, [])
                await store.end_execution(execution, state=state, ended_at=created + duration_s)
        finally:
            await store.close()

    asyncio.run(work())


def test_statistics_view(panel: Panel, panel_server: Any) -> None:
    server = panel_server(TZ="UTC")
    job = api(
        server, "POST", "/api/jobs", {"AppName": "shop", "ServiceName": "shop_web", "Name": "统计", "Cmd": "true"}
    )
    now = time.time()
    noon = now - now % 86400 + 12 * 3600 - (86400 if now % 86400 < 12 * 3600 else 0)  # the last 12:00 UTC
    plan = [
        (noon - day * 86400 + n, "succeeded" if n % 4 else "failed", 10.0 + n) for day in (0, 1, 10) for n in range(8)
    ]
    _seed_runs(server.data_dir, job["JobId"], plan)

    panel.driver.execute_cdp_cmd("Emulation.setTimezoneOverride", {"timezoneId": "UTC"})
    panel.open(server.url, "#/stats")
    panel.wait_text("stats-total", "24")
    assert panel.text("stats-success-rate") == "75.0%"
    days = panel.find('[data-testid="stats-day"]')
    assert len(days) == 30
    totals = [int(d.get_attribute("data-total")) for d in days]
    assert totals[-1] == 8 and totals[-2] == 8 and totals[-11] == 8 and sum(totals) == 24
    hours = {
        int(g.get_attribute("data-hour")): int(g.get_attribute("data-count"))
        for g in panel.find('[data-testid="stats-hour"]')
    }
    assert hours[12] == 24 and sum(hours.values()) == 24
    assert panel.text("stats-p50") == "13 秒"
    for width in (1024, 1400):
        panel.set_width(width)
        panel.shot(f"stats-{width}")

    panel.el("stats-days")
    panel.driver.execute_script(
        "const s = document.querySelector('[data-testid=stats-days]');"
        " s.value = '7'; s.dispatchEvent(new Event('change'))"
    )
    panel.wait(lambda: len(panel.find('[data-testid="stats-day"]')) == 7, what="a 7-day chart")
    assert panel.driver.current_url.endswith("#/stats?days=7")
    panel.wait_text("stats-total", "16")
