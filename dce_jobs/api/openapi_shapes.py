"""Response shapes of the OpenAPI document: jobs, inspect results, containers, health, errors."""

from __future__ import annotations

import copy
from typing import Any

from apispec.ext.marshmallow import MarshmallowPlugin

from .. import schemas


def error_schema() -> dict[str, Any]:
    return object_schema({"message": {"type": "string"}, "id": {"type": "string"}})


def job_schema(plugin: MarshmallowPlugin) -> dict[str, Any]:
    """The job as answered: JobSchema's fields (all present, masks for secrets) plus JobId and Executors."""
    assert plugin.converter is not None
    job = copy.deepcopy(plugin.converter.schema2jsonschema(schemas.JobSchema))  # type: ignore[no-untyped-call]
    properties = {name: strip_input_rules(prop) for name, prop in job["properties"].items()}
    properties["SecretArgs"]["items"] = {"type": "string", "pattern": r"^\**$"}
    properties["JobId"] = {"type": "string"}
    properties["Executors"] = {"type": "array", "items": {"type": "string", "pattern": r"^[0-9]+\.[0-9]{6}$"}}
    return object_schema(properties)


def strip_input_rules(prop: dict[str, Any]) -> dict[str, Any]:
    """A request property as a response one: same type, without defaults or patterns (Python and ECMA differ)."""
    out = {k: v for k, v in prop.items() if k not in {"default", "pattern"}}
    if isinstance(out.get("items"), dict):
        out["items"] = strip_input_rules(out["items"])
    return out


def container_schema() -> dict[str, Any]:
    string = {"type": "string"}
    return object_schema(
        {
            "ContainerId": string,
            "NodeId": string,
            "NodeHostname": string,
            "TaskId": string,
            "TaskName": string,
            "Slot": {"type": "integer", "nullable": True},
            "State": string,
        }
    )


def health_schema() -> dict[str, Any]:
    return object_schema(
        {
            "status": {"type": "string", "enum": ["ok", "unavailable"]},
            "store": {"type": "string"},
            "version": {"type": "string"},
        }
    )


def object_schema(properties: dict[str, Any], *, required: tuple[str, ...] | None = None) -> dict[str, Any]:
    names = list(properties) if required is None else list(required)
    return {"type": "object", "properties": properties, "required": names, "additionalProperties": False}
