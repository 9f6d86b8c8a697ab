"""Without the token every /api route answers 401 and changes nothing; health and the spec stay open."""

from __future__ import annotations

import re

import pytest

from dce_jobs.api.openapi import OPERATIONS

from .conftest import TOKEN, Api

pytestmark = [pytest.mark.security, pytest.mark.engine]

BAD_CREDENTIALS = [None, "wrong-token", TOKEN + "x", TOKEN[:-1], TOKEN.upper()]
IDS = {"job_id": "0" * 8, "executor_id": "1496287694.460088", "service_name": "dsc-web", "schedule_id": "0" * 32}


def _concrete(path: str, job_id: str) -> str:
    return re.sub(r"{(\w+)}", lambda m: job_id if m.group(1) == "job_id" else IDS[m.group(1)], path)


def test_every_api_route_needs_the_token(api: Api) -> None:
    job = api.create_job("echo hi")
    before = api.call("GET", "/api/jobs")[1]
    body = {"AppName": "x", "ServiceName": "dsc-web", "Name": "sneaky", "Cmd": "echo pwned"}
    for (method, template), op in OPERATIONS.items():
        path = _concrete(template, job["JobId"])
        for token in BAD_CREDENTIALS:
            status, answer = api.call(method, path, body if op.body else None, token=token)
            if op.public:
                assert status == 200, (method, path)
            else:
                assert status == 401 and answer["id"] == "unauthorized", (method, path, token)
    for method in ("GET", "POST", "DELETE"):
        assert api.call(method, "/api/no-such-route", token=None)[0] == 401
    assert api.call("GET", "/api/jobs")[1] == before  # nothing was created, edited, started or deleted


def test_a_basic_or_malformed_authorization_header_is_refused(api: Api) -> None:
    import urllib.error
    import urllib.request

    for header in (f"Basic {'x' * 10}", "Bearer", "Bearer  ", "bearer wrong", f"Token {api.server.url}"):
        request = urllib.request.Request(f"{api.server.url}/api/jobs", headers={"Authorization": header})
        with pytest.raises(urllib.error.HTTPError) as caught:
            urllib.request.urlopen(request, timeout=10)
        assert caught.value.code == 401, header
