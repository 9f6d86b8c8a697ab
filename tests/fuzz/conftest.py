"""A live `dce-jobs serve` on seeded SQLite (no engine: engine calls fail fast with 502) for schemathesis."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis

from tests.server import Server

from .seed import Seeded, seed

TOKEN = "fuzz-token-0123456789"
MAX_EXAMPLES = 30


def pytest_configure(config: pytest.Config) -> None:
    """Register the marker of this folder."""
    config.addinivalue_line("markers", "fuzz: schemathesis against a live server (bounded)")


@pytest.fixture(scope="session")
def seeded_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Server, Seeded]]:
    """The server on a data dir seeded with jobs and finished executions; its engine socket does not exist."""
    base = tmp_path_factory.mktemp("fuzz")
    data_dir = base / "data"
    seeded = asyncio.run(seed(data_dir))
    env = {
        "DCE_JOBS_API_TOKEN": TOKEN,
        "DCE_JOBS_DOCKER_HOST": f"unix://{base}/no-engine.sock",
        "DCE_JOBS_CONNECT_TIMEOUT_S": "1",
        "DCE_JOBS_DOCKER_TIMEOUT_S": "2",
    }
    server = Server(data_dir=data_dir, log_path=base / "server.log", env=env).wait_ready()
    try:
        yield server, seeded
    finally:
        server.stop()


def _config(seeded: Seeded) -> schemathesis.Config:
    """Bounded generation; path ids drawn half the time from what was seeded (DELETE only from its own jobs)."""

    def bind(dictionary: str) -> dict[str, Any]:
        return {"dictionary": dictionary, "probability": 0.7}

    return schemathesis.Config.from_dict(
        {
            "dictionaries": {
                "jobs": {"values": seeded.job_ids[:1] * 3 + seeded.job_ids[1:]},
                "doomed": {"values": seeded.doomed_job_ids},
                "executors": {"values": seeded.executor_ids},
                "containers": {"values": seeded.container_ids},
                "schedules": {"values": seeded.schedule_ids},
            },
            "parameters": {
                "path.job_id": bind("jobs"),
                "path.executor_id": bind("executors"),
                "path.schedule_id": bind("schedules"),
                "query.ContainerId": bind("containers"),
            },
            "operations": [{"include-method": "DELETE", "parameters": {"path.job_id": bind("doomed")}}],
            "generation": {"max-examples": MAX_EXAMPLES, "database": "none"},
        }
    )


@pytest.fixture(scope="session")
def api_schema(seeded_server: tuple[Server, Seeded]) -> Any:
    """The spec as the live server serves it."""
    server, seeded = seeded_server
    return schemathesis.openapi.from_url(f"{server.url}/api/openapi.json", config=_config(seeded))
