"""Response shapes of the OpenAPI document: jobs, inspect results, containers, health, errors."""

from __future__ import annotations

import copy
from typing import Any

from apispec.ext.marshmallow import MarshmallowPlugin

from .. import schemas
from ..models import COUNT_KEYS, EndReason, ExecutionState, FailureAction, Status


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


def result_schema() -> dict[str, Any]:
    """One Result entry of inspect: the seed's keys, exec-inspect fields once finished, and Output."""
    boolean, string, integer = {"type": "boolean"}, {"type": "string"}, {"type": "integer"}
    entry = object_schema(
        {
            "NodeId": string,
            "ContainerId": string,
            "ID": {**string, "description": "exec id ('' until created)"},
            "Status": {"type": "string", "enum": [s.value for s in Status]},
            "E": {**string, "description": "why the target failed ('' when it did not)"},
            "ExitCode": {**integer, "nullable": True},
            "Pid": integer,
            "Running": boolean,
            "ProcessConfig": {"type": "object", "description": "the engine's, with secret arguments masked"},
            "OpenStdin": boolean,
            "OpenStdout": boolean,
            "OpenStderr": boolean,
            "CanRemove": boolean,
            "DetachKeys": string,
            "ContainerID": string,
            "Slot": {"type": "integer", "nullable": True, "description": "Swarm task slot (null: global service)"},
            "PreviousContainerId": {
                **string,
                "description": "a retry that followed the slot to a new task: the container it replaced",
            },
            "StartTime": {"type": "number", "nullable": True, "description": "when the process started (epoch s)"},
            "EndTime": {"type": "number", "nullable": True, "description": "when the target ended (epoch s)"},
            "EndReason": {
                "type": "string",
                "nullable": True,
                "enum": [r.value for r in EndReason],
                "description": "why the target ended, a fixed vocabulary (E is the human message); null until then",
            },
            "Output": {**string, "description": "the last 64 KiB of the stored output"},
            "OutputTruncated": {**boolean, "description": "the stored output hit DCE_JOBS_OUTPUT_LIMIT_BYTES"},
            "OutputTail": {**boolean, "description": "Output is only the tail of the stored output"},
        },
        required=("NodeId", "ContainerId", "ID", "Status", "E", "Slot", "StartTime", "EndTime", "EndReason"),
    )
    entry["additionalProperties"] = True  # other exec-inspect fields a newer engine may add
    return entry


def inspect_schema() -> dict[str, Any]:
    return object_schema(
        {
            "JobId": {"type": "string"},
            "ExecutorId": {"type": "string"},
            "CreateTime": {"type": "number", "description": "seconds since the epoch"},
            "Timeout": {"type": "number", "nullable": True, "description": "seconds a target may run (null: none)"},
            "RetryOf": {"type": "string", "nullable": True, "description": "the ExecutorId this execution retries"},
            "State": {"type": "string", "enum": [s.value for s in ExecutionState]},
            "EndTime": {"type": "number", "nullable": True, "description": "when the last target ended (epoch s)"},
            "Counts": object_schema({k: {"type": "integer"} for k in COUNT_KEYS}),
            **rolling_properties(),
            "Target": {"type": "array", "items": {"$ref": "#/components/schemas/Target"}},
            "Result": {"type": "array", "items": {"$ref": "#/components/schemas/Result"}},
        }
    )


def rolling_properties() -> dict[str, Any]:
    """The rolling settings in force, as inspect shows them."""
    return {
        "Parallelism": {"type": "integer", "description": "targets running at once (0: all)"},
        "Delay": {"type": "number", "description": "seconds between one target ending and the next starting"},
        "FailureAction": {"type": "string", "enum": [a.value for a in FailureAction]},
        "MaxFailureRatio": {"type": "number", "description": "failed / all targets tolerated"},
    }


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
