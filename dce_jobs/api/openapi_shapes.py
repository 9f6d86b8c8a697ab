"""The job's response shapes in the OpenAPI document: JobSchema's fields as answered, and Warnings of a save."""

from __future__ import annotations

import copy
from typing import Any

from apispec.ext.marshmallow import MarshmallowPlugin

from .. import schemas


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
    assert plugin.converter is not None
    warning = plugin.converter.schema2jsonschema(schemas.WarningSchema)  # type: ignore[no-untyped-call]
    saved["properties"]["Warnings"] = {
        "type": "array",
        "items": warning,
        "description": "about the job's service; the job is saved all the same",
    }
    return saved


def schedule_schema(plugin: MarshmallowPlugin) -> dict[str, Any]:
    """The schedule as answered: every field present, NextRunTime and LastFire included."""
    assert plugin.converter is not None
    out = copy.deepcopy(plugin.converter.schema2jsonschema(schemas.ScheduleOutSchema))  # type: ignore[no-untyped-call]
    properties = {name: strip_input_rules(prop) for name, prop in out["properties"].items()}
    for name in ("RunAt", "ContainerIds", "Timeout", "NextRunTime", "Parallelism", "Delay", "FailureAction"):
        properties[name]["nullable"] = True
    properties["MaxFailureRatio"]["nullable"] = True
    last = plugin.converter.schema2jsonschema(schemas.LastFireSchema)  # type: ignore[no-untyped-call]
    properties["LastFire"] = {**object_schema(last["properties"]), "nullable": True}
    return object_schema(properties)


def strip_input_rules(prop: dict[str, Any]) -> dict[str, Any]:
    """A request property as a response one: same type, without defaults or patterns (Python and ECMA differ)."""
    out = {k: v for k, v in prop.items() if k not in {"default", "pattern"}}
    if isinstance(out.get("items"), dict):
        out["items"] = strip_input_rules(out["items"])
    return out


def object_schema(properties: dict[str, Any], *, required: tuple[str, ...] | None = None) -> dict[str, Any]:
    names = list(properties) if required is None else list(required)
    return {"type": "object", "properties": properties, "required": names, "additionalProperties": False}


_EVENT_DATA = (
    "one JSON object: `target` {Index, ContainerId, NodeId, Status, ExitCode, EndReason, StartTime, EndTime}; "
    "`output` {Index, ContainerId, Stream (stdout or stderr), Offset (bytes into the target's stored output), "
    "Text (redacted)}; `summary` and `end` {State, Counts} as inspect has them"
)


def sse_event() -> dict[str, Any]:
    """One event of the event stream (OpenAPI 3.0 describes each event of a text/event-stream)."""
    return {
        "type": "object",
        "required": ["event", "data", "id"],
        "properties": {
            "event": {"type": "string", "enum": ["target", "output", "summary", "end"]},
            "id": {"type": "string", "description": "opaque; send it back as Last-Event-ID to resume after it"},
            "data": {"type": "string", "description": _EVENT_DATA},
        },
    }
