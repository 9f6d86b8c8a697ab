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


def saved_job_schema(plugin: MarshmallowPlugin) -> dict[str, Any]:
    """The job as POST and PUT answer it: Job plus Warnings when there are any."""
    saved = job_schema(plugin)
    warning = object_schema(
        {
            "id": {"type": "string", "enum": ["service_not_found", "service_not_checked", "app_name_mismatch"]},
            "message": {"type": "string"},
        }
    )
    saved["properties"]["Warnings"] = {
        "type": "array",
        "items": warning,
        "description": "about the job's service; the job is saved all the same",
    }
    return saved


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


def service_schema() -> dict[str, Any]:
    """One service of GET /api/services."""
    string, count = {"type": "string"}, {"type": "integer", "minimum": 0}
    replicas = object_schema(
        {"Running": count, "Desired": {**count, "nullable": True, "description": "null for a global service"}}
    )
    return object_schema(
        {
            "ServiceId": string,
            "ServiceName": string,
            "AppName": {**string, "description": "the stack namespace label ('' outside a stack): DCE's app"},
            "Image": string,
            "Replicas": replicas,
        }
    )


def settings_schema() -> dict[str, Any]:
    """The effective defaults of GET /api/settings."""
    number = {"type": "number"}
    integer = {"type": "integer"}
    defaults = object_schema(
        {
            "Timeout": {**number, "nullable": True, "description": "seconds a run may take when nothing sets it"},
            "OutputLimitBytes": {**integer, "description": "stored output per container"},
            "NodeConcurrency": {**integer, "description": "concurrent execs per node"},
            "GlobalConcurrency": {**integer, "description": "concurrent execs in all"},
        }
    )
    return object_schema({"Defaults": defaults})


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
