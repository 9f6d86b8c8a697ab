"""How the engine clients are built: docker-py's APIClient, without requests' environment lookups on a socket file."""

from __future__ import annotations

from pathlib import Path

import docker
import pytest

from dce_jobs.config import from_env
from dce_jobs.nodes import NodePool


def _client(tmp_path: Path, docker_host: str) -> docker.APIClient:
    pool = NodePool(from_env({"DCE_JOBS_DATA_DIR": str(tmp_path), "DCE_JOBS_DOCKER_HOST": docker_host}))
    client: docker.APIClient = pool._build(None)
    return client


def test_a_socket_file_client_skips_netrc_and_proxy_lookups(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HTTP_PROXY", "http://proxy.invalid:3128")
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(tmp_path / "bundle.pem"))
    client = _client(tmp_path, "unix:///nonexistent/docker.sock")

    # what every call asked of the environment before: nothing now, whatever the environment holds
    settings = client.merge_environment_settings("http+docker://localhost/v1.41/info", {}, None, None, None)

    assert isinstance(client, docker.APIClient)
    assert client.trust_env is False
    assert settings["proxies"] == {} and settings["verify"] is True


def test_an_engine_over_tcp_keeps_the_environment(tmp_path: Path) -> None:
    client = _client(tmp_path, "tcp://127.0.0.1:1")

    assert client.trust_env is True
