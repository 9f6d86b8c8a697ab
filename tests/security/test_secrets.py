"""After a run that uses secrets, their plaintext is nowhere: store files, server log, API answers, output."""

from __future__ import annotations

import secrets
from pathlib import Path

import pytest

from tests.integration.lab import Lab

from .conftest import Api, targets

pytestmark = [pytest.mark.security, pytest.mark.engine]


def _files_holding(root: Path, needle: bytes) -> list[str]:
    return [str(p) for p in sorted(root.rglob("*")) if p.is_file() and needle in p.read_bytes()]


def test_secret_plaintext_appears_nowhere(api: Api, sec_lab: Lab) -> None:
    first, second = f"pw-{secrets.token_hex(8)}", f"tok-{secrets.token_hex(8)}"
    # the secrets are the trailing argv entries: $1 and $2 of the shell in the container
    job = api.create_job('sh -c \'echo "a=$1"; echo "b=$2" >&2; echo "$1$2"\' sh', SecretArgs=[first, second])
    executor_id = api.start(job, targets(sec_lab, "dsc-web"))
    body = api.wait_final(job, executor_id)

    answers = [repr(job), repr(body)]
    for result in body["Result"]:
        assert result["Status"] == "FINISHED" and result["ExitCode"] == 0, result
        masked = "*" * len(first), "*" * len(second)
        expected = [f"a={masked[0]}", f"b={masked[1]}", masked[0] + masked[1]]  # it ran with them
        assert sorted(result["Output"].splitlines()) == sorted(expected)  # stdout and stderr may interleave
        assert result["ProcessConfig"]["arguments"][-2:] == list(masked)
        answers.append(
            api.call("GET", f"/api/jobs/{job['JobId']}/log/{executor_id}?ContainerId={result['ContainerId']}")[1]
        )
    events = f"/api/jobs/{job['JobId']}/executors/{executor_id}/events"  # the event stream's replay
    for path in ("/api/jobs", f"/api/jobs/{job['JobId']}", f"/api/jobs/{job['JobId']}/log/{executor_id}", events):
        status, answer = api.call("GET", path)
        assert status == 200
        answers.append(repr(answer))
    assert f"a={'*' * len(first)}" in answers[-1]  # the replayed output, masked as stored
    status, edited = api.call("PUT", f"/api/jobs/{job['JobId']}", {**_editable(job), "Name": "renamed"})
    assert status == 200 and edited["SecretArgs"] == job["SecretArgs"]
    answers.append(repr(edited))

    for secret in (first, second):
        assert not [a for a in answers if secret in a], "a response holds a secret"
        assert not _files_holding(api.data_dir, secret.encode()), "a store file holds a secret"
        assert secret not in api.server.log_text(), "the server log holds a secret"
    assert "DEBUG" in api.server.log_text()  # the log was captured at its most talkative


def _editable(job: dict[str, object]) -> dict[str, object]:
    keys = ("AppName", "ServiceName", "Name", "Cmd", "Privileged", "User", "Env", "SecretArgs", "Timeout")
    return {k: job[k] for k in keys}
