"""Configuration from DCE_JOBS_* variables."""

from __future__ import annotations

import subprocess
import sys

import pytest

from dce_jobs.__main__ import check_exposure
from dce_jobs.config import from_env
from dce_jobs.errors import ConfigError


def test_defaults() -> None:
    config = from_env({})
    assert (config.host, config.port, config.node_concurrency, config.output_limit_bytes) == (
        "127.0.0.1",
        8080,
        8,
        16 << 20,
    )


def test_values_are_read_and_secrets_hidden_from_repr() -> None:
    config = from_env(
        {
            "DCE_JOBS_PORT": "9000",
            "DCE_JOBS_API_TOKEN": "tok",
            "DCE_JOBS_SECRET_KEY": "k1, k2",
            "DCE_JOBS_MONGO_URL": "mongodb://u:pw@h/db",
            "DCE_JOBS_NODE_ENDPOINTS": "n1=tcp://10.0.0.1:2375,worker-2=tcp://h:2376",
        }
    )
    assert config.port == 9000 and config.secret_keys == ("k1", "k2")
    assert dict(config.node_endpoints) == {"n1": "tcp://10.0.0.1:2375", "worker-2": "tcp://h:2376"}
    assert "tok" not in repr(config) and "pw" not in repr(config) and "k1" not in repr(config)


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("DCE_JOBS_PORT", "http"),
        ("DCE_JOBS_PORT", "70000"),
        ("DCE_JOBS_NODE_CONCURRENCY", "0"),
        ("DCE_JOBS_ALLOW_ANONYMOUS", "maybe"),
        ("DCE_JOBS_NODE_ENDPOINTS", "node-without-url"),
        ("DCE_JOBS_LOG_LEVEL", "LOUD"),
        ("DCE_JOBS_ALLOWED_HOSTS", "http://jobs.example.com"),
        ("DCE_JOBS_ALLOWED_HOSTS", "jobs.example.com:8080"),
        ("DCE_JOBS_FRAME_ANCESTORS", "'self'; script-src *"),
        ("DCE_JOBS_FRAME_ANCESTORS", "  "),
        ("DCE_JOBS_FRAME_ANCESTORS", "'none' https://dce.example.com"),
        ("DCE_JOBS_FRAME_ANCESTORS", "'unsafe-inline'"),
    ],
)
def test_bad_values_name_the_variable(name: str, value: str) -> None:
    with pytest.raises(ConfigError, match=name):
        from_env({name: value})


def test_allowed_hosts_and_frame_ancestors() -> None:
    config = from_env({})
    assert (config.allowed_hosts, config.frame_ancestors) == ((), "'self'")
    config = from_env(
        {
            "DCE_JOBS_ALLOWED_HOSTS": "Jobs.Example.com., 10.0.0.5, ::1, [fd00::2]",
            "DCE_JOBS_FRAME_ANCESTORS": "'self'  https://dce.example.com:8443 *.corp.example.com",
        }
    )
    assert config.allowed_hosts == ("jobs.example.com", "10.0.0.5", "[::1]", "[fd00::2]")
    assert config.frame_ancestors == "'self' https://dce.example.com:8443 *.corp.example.com"


def test_exposure_rules() -> None:
    check_exposure(from_env({}))
    check_exposure(from_env({"DCE_JOBS_HOST": "0.0.0.0", "DCE_JOBS_API_TOKEN": "t"}))
    check_exposure(from_env({"DCE_JOBS_HOST": "0.0.0.0", "DCE_JOBS_ALLOW_ANONYMOUS": "1"}))
    with pytest.raises(ConfigError, match="DCE_JOBS_API_TOKEN"):
        check_exposure(from_env({"DCE_JOBS_HOST": "0.0.0.0"}))


def test_bad_value_stops_startup_with_one_line() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "dce_jobs", "serve"],
        env={"DCE_JOBS_PORT": "x", "PATH": "/usr/bin"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 2
    assert proc.stderr.strip() == "dce-jobs: DCE_JOBS_PORT='x' is not an integer"
