"""What a running `dce-jobs serve` logs: job events at INFO, one compact access line per request only at DEBUG."""

from __future__ import annotations

from pathlib import Path

from tests.server import Server


def _serve_and_use(tmp_path: Path, level: str) -> str:
    env = {"DCE_JOBS_LOG_LEVEL": level, "DCE_JOBS_DOCKER_HOST": f"unix://{tmp_path}/no-engine.sock"}
    log_path = tmp_path / f"{level}.log"
    server = Server(data_dir=tmp_path / "data", log_path=log_path, env=env).wait_ready()
    try:
        body = {"AppName": "demo", "ServiceName": "demo_web", "Name": "hello", "Cmd": "hostname"}
        job = server.json("POST", "/api/jobs", body)
        server.json("GET", "/api/jobs")
        server.json("DELETE", f"/api/jobs/{job['JobId']}")
    finally:
        server.stop()
    return log_path.read_text(errors="replace")


def test_info_has_the_job_events_and_no_access_lines(tmp_path: Path) -> None:
    text = _serve_and_use(tmp_path, "INFO")
    assert "INFO dce_jobs.jobs: job " in text and "created: 'hello' of app demo on service demo_web" in text
    assert "deleted with its executions and output" in text
    assert "/api/jobs" not in text and "/api/health" not in text, text


def test_debug_adds_one_compact_line_per_request(tmp_path: Path) -> None:
    text = _serve_and_use(tmp_path, "DEBUG")
    lines = [line for line in text.splitlines() if "aiohttp.access" in line]
    assert any(line.endswith(" ms") and "DEBUG aiohttp.access: GET /api/jobs 200 " in line for line in lines), lines
    assert any("POST /api/jobs 200" in line for line in lines), lines
