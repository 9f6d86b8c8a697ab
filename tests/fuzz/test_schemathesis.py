"""Schemathesis against the live server with its own spec: no unexpected 5xx, every response as documented."""

from __future__ import annotations

from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode
from schemathesis.specs.openapi import checks as openapi_checks

from dce_jobs.api.openapi import OPERATIONS
from tests.server import Server

from .conftest import MAX_EXAMPLES, TOKEN
from .seed import Seeded

pytestmark = pytest.mark.fuzz

#: every operation with valid data; those that take a body also with invalid data (negating a bare string
#: path or query parameter is impossible: every string is valid there)
CASES = [(f"{method} {path}", GenerationMode.POSITIVE) for method, path in OPERATIONS] + [
    (f"{method} {path}", GenerationMode.NEGATIVE) for (method, path), op in OPERATIONS.items() if op.body
]

#: operations that reach a Docker engine: without one, the documented answer is 502
ENGINE_ERROR_OK = {
    "POST /api/jobs/{job_id}/start",
    "POST /api/jobs/{job_id}/executors/{executor_id}/retry",
    "GET /api/services/{service_name}/containers",
    "GET /api/services",
}


def no_server_error(ctx: Any, response: Any, case: schemathesis.Case[Any]) -> bool | None:
    """No 5xx, except the 502 of an engine call (the lab is not up for fuzzing)."""
    if response.status_code == 502 and case.operation.label in ENGINE_ERROR_OK:
        return None
    assert response.status_code < 500, f"{case.operation.label} answered {response.status_code}: {response.text[:300]}"
    return None


CHECKS = [
    no_server_error,
    openapi_checks.status_code_conformance,
    openapi_checks.content_type_conformance,
    openapi_checks.response_headers_conformance,
    openapi_checks.response_schema_conformance,
]


@pytest.mark.parametrize(("label", "mode"), CASES, ids=[f"{label} {mode.value}" for label, mode in CASES])
def test_every_response_is_documented(
    label: str, mode: GenerationMode, api_schema: Any, seeded_server: tuple[Server, Seeded]
) -> None:
    server, _ = seeded_server
    operation = api_schema.find_operation_by_label(label)
    assert operation is not None, f"{label} is missing from the served spec"

    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(max_examples=MAX_EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck), database=None)
    def exchange(case: schemathesis.Case[Any]) -> None:
        case.call_and_validate(base_url=server.url, headers={"Authorization": f"Bearer {TOKEN}"}, checks=CHECKS)

    exchange()
