"""The OpenAPI document: valid OpenAPI 3, every /api route of the app, errors and auth described."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from openapi_spec_validator import validate

from dce_jobs.api import openapi
from dce_jobs.app import create_app
from dce_jobs.config import from_env

TOKEN = "spec-token"


@pytest.fixture
def app(tmp_path: Path) -> Any:
    """An app with a token, on SQLite in tmp_path (no engine is called)."""
    return create_app(from_env({"DCE_JOBS_DATA_DIR": str(tmp_path), "DCE_JOBS_API_TOKEN": TOKEN}))


@pytest.fixture
def spec(app: Any) -> dict[str, Any]:
    """The document built for the app's routes."""
    return openapi.build_spec(openapi.api_routes(app))


def test_the_document_is_valid_openapi_3(spec: dict[str, Any]) -> None:
    validate(spec)
    assert spec["openapi"].startswith("3.")


def test_every_registered_api_route_is_described_and_nothing_else(app: Any, spec: dict[str, Any]) -> None:
    registered = set(openapi.api_routes(app))
    described = {(method.upper(), path) for path, ops in spec["paths"].items() for method in ops}
    assert registered == described
    assert len(registered) == 27
    assert registered == set(openapi.OPERATIONS)


def test_bearer_auth_everywhere_but_health_and_the_document(spec: dict[str, Any]) -> None:
    assert spec["components"]["securitySchemes"]["bearer"] == {"type": "http", "scheme": "bearer"}
    assert spec["security"] == [{"bearer": []}]
    for path, ops in spec["paths"].items():
        for method, op in ops.items():
            public = path in {"/api/health", "/api/openapi.json"}
            assert (op.get("security") == []) is public, (method, path)
            assert ("401" in op["responses"]) is not public, (method, path)


def test_error_bodies_and_statuses(spec: dict[str, Any]) -> None:
    error = spec["components"]["schemas"]["Error"]
    assert set(error["required"]) == {"message", "id"} and error["additionalProperties"] is False
    for name in ("BadRequest", "Unauthorized", "NotFound", "PayloadTooLarge", "EngineError", "Unavailable"):
        body = spec["components"]["responses"][name]["content"]["application/json"]["schema"]
        assert body == {"$ref": "#/components/schemas/Error"}
    for path, ops in spec["paths"].items():
        for method, op in ops.items():
            codes = set(op["responses"])
            if "requestBody" in op:
                assert {"400", "413"} <= codes, (method, path)
            if "{" in path and path.startswith("/api/jobs"):
                assert "404" in codes, (method, path)
    engine_routes = ["/api/jobs/{job_id}/start", "/api/jobs/{job_id}/executors/{executor_id}/retry"]
    assert all("502" in spec["paths"][p]["post"]["responses"] for p in engine_routes)
    assert "502" in spec["paths"]["/api/services/{service_name}/containers"]["get"]["responses"]


def test_response_schemas_come_from_the_marshmallow_fields(spec: dict[str, Any]) -> None:
    schemas = spec["components"]["schemas"]
    assert set(schemas["Job"]["properties"]) == set(schemas["JobInput"]["properties"]) | {"JobId", "Executors"}
    assert schemas["JobInput"]["additionalProperties"] is False
    assert schemas["Result"]["additionalProperties"] is True  # other exec-inspect fields pass
    assert {"ExitCode", "Pid", "ProcessConfig", "Output", "OutputTail"} <= set(schemas["Result"]["properties"])
    assert set(schemas["Container"]["required"]) == {
        "ContainerId",
        "NodeId",
        "NodeHostname",
        "TaskId",
        "TaskName",
        "Slot",
        "State",
    }
    start = schemas["StartInput"]["properties"]["Target"]["items"]
    assert start == {"$ref": "#/components/schemas/Target"}
    entry = schemas["ExecutionEntry"]
    assert entry["properties"]["JobName"]["nullable"] is True and "JobName" in entry["required"]


async def test_served_without_a_token_and_built_once_per_app(aiohttp_client: Any, app: Any) -> None:
    client = await aiohttp_client(app)
    first = await client.get("/api/openapi.json")
    assert first.status == 200 and first.content_type == "application/json"
    body = await first.json()
    assert body == openapi.build_spec(openapi.api_routes(app))
    second = await client.get("/api/openapi.json")
    assert await second.read() == await first.read()
    assert (await client.get("/api/jobs")).status == 401
