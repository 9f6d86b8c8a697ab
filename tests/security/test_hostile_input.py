"""Foreign targets, oversized bodies and shell metacharacters, on a real engine."""

from __future__ import annotations

import http.client
import json
import secrets
import shlex
from pathlib import Path

import pytest

from tests.integration.lab import Lab

from .conftest import Api, container_has, targets

pytestmark = [pytest.mark.security, pytest.mark.engine]

MIB = 1024 * 1024


def test_a_container_outside_the_jobs_service_is_refused_and_nothing_runs(api: Api, sec_lab: Lab) -> None:
    marker = f"/tmp/ran-{secrets.token_hex(6)}"
    job = api.create_job(f"touch {marker}")
    own, foreign = targets(sec_lab, "dsc-web")[0], targets(sec_lab, "dsc-other")[0]
    for requested in ([foreign], [own, foreign], [{**foreign, "ContainerId": foreign["ContainerId"][:12]}]):
        status, body = api.call("POST", f"/api/jobs/{job['JobId']}/start", {"Target": requested})
        assert (status, body["id"]) == (400, "target_not_in_service"), body
    assert api.call("GET", f"/api/jobs/{job['JobId']}")[1]["Executors"] == []
    assert not container_has(sec_lab, foreign["ContainerId"], marker)
    assert not container_has(sec_lab, own["ContainerId"], marker)


def _state(api: Api) -> str:
    return json.dumps(api.call("GET", "/api/jobs")[1], sort_keys=True)


def test_bodies_over_one_mib_get_413_and_change_nothing(api: Api, sec_lab: Lab) -> None:
    job = api.create_job("echo small")
    before = _state(api)
    big_job = {"AppName": "big", "ServiceName": "dsc-web", "Name": "big", "Cmd": "echo " + "x" * MIB}
    big_start = {"Target": targets(sec_lab, "dsc-web"), "Padding": "y" * MIB}
    for method, path, body in (
        ("POST", "/api/jobs", big_job),
        ("PUT", f"/api/jobs/{job['JobId']}", big_job),
        ("POST", f"/api/jobs/{job['JobId']}/start", big_start),
        ("POST", f"/api/jobs/{job['JobId']}/executors/1496287694.460088/retry", {"All": True, "x": "z" * MIB}),
    ):
        status, answer = api.call(method, path, body)
        assert (status, answer["id"]) == (413, "payload_too_large"), (method, path, answer)
    assert _chunked_post(api, "/api/jobs", json.dumps(big_job).encode()) == 413
    assert _state(api) == before


def _chunked_post(api: Api, path: str, payload: bytes) -> int:
    """POST with Transfer-Encoding: chunked (no Content-Length for the server to check up front)."""
    from .conftest import TOKEN

    connection = http.client.HTTPConnection("127.0.0.1", api.server.port, timeout=30)
    try:
        headers = {"Content-Type": "application/json", "Authorization": f"Bearer {TOKEN}"}
        chunks = (payload[i : i + 65536] for i in range(0, len(payload), 65536))
        connection.request("POST", path, body=chunks, headers=headers, encode_chunked=True)
        return connection.getresponse().status
    finally:
        connection.close()


HOSTILE_WORDS = [
    "a;touch",
    "/tmp/pwned-$$",
    "&&",
    "echo",
    "$(id)",
    "|",
    "cat",
    ">",
    "/tmp/x-{tag}",
    "`id`",
    "${HOME}",
    "*",
    "'quoted'",
    '"double"',
    "\\back",
    "a\nb",
]


@pytest.mark.parametrize("quoted", [True, False], ids=["shlex-quoted", "bare"])
def test_shell_metacharacters_are_plain_argv_words(api: Api, sec_lab: Lab, quoted: bool) -> None:
    tag = secrets.token_hex(6)
    words = [w.replace("{tag}", tag) for w in HOSTILE_WORDS]
    if quoted:
        cmd = shlex.join(["echo", *words])
    else:  # shlex splits a bare line on blanks only: ; | && > stay inside words
        words = [w for w in words if not set(w) & set("'\"\\\n")]
        cmd = "echo " + " ".join(words)
    assert shlex.split(cmd) == ["echo", *words]
    job = api.create_job(cmd)
    own = targets(sec_lab, "dsc-web")[:1]
    (result,) = api.wait_final(job, api.start(job, own))["Result"]
    assert (result["Status"], result["ExitCode"]) == ("FINISHED", 0), result
    assert result["Output"] == " ".join(words) + "\n"  # busybox echo printed the literal words
    assert result["ProcessConfig"]["entrypoint"] == "echo"
    assert result["ProcessConfig"]["arguments"] == words
    for path in (f"/tmp/pwned-{api.server.process.pid}", "/tmp/pwned-$$", f"/tmp/x-{tag}"):
        assert not Path(path).exists(), f"{path} appeared on the host"
    assert not list(Path("/tmp").glob(f"*{tag}*"))
    assert not container_has(sec_lab, own[0]["ContainerId"], f"/tmp/x-{tag}")
    assert not container_has(sec_lab, own[0]["ContainerId"], "/tmp/pwned-$$")
