"""What the service answers besides jobs and executions: containers, services, settings, health, errors."""

from __future__ import annotations

from typing import Any

from marshmallow import Schema, fields, post_dump, validate

WARNING_IDS = ("service_not_found", "service_not_checked", "app_name_mismatch")


class ContainerSchema(Schema):
    """A running task container of a service (GET /api/services/{ServiceName}/containers)."""

    container_id = fields.String(data_key="ContainerId", required=True)
    node_id = fields.String(data_key="NodeId", required=True)
    hostname = fields.String(data_key="NodeHostname", required=True)
    task_id = fields.String(data_key="TaskId", required=True)
    task_name = fields.String(data_key="TaskName", required=True)
    slot = fields.Integer(data_key="Slot", allow_none=True, required=True)
    state = fields.String(data_key="State", required=True)


class ReplicasSchema(Schema):
    """Running and desired tasks of a service."""

    running = fields.Integer(data_key="Running", required=True, validate=validate.Range(min=0))
    desired = fields.Integer(
        data_key="Desired",
        allow_none=True,
        required=True,
        validate=validate.Range(min=0),
        metadata={"description": "null for a global service"},
    )


class ServiceSchema(Schema):
    """One service of GET /api/services."""

    service_id = fields.String(data_key="ServiceId", required=True)
    name = fields.String(data_key="ServiceName", required=True)
    app = fields.String(
        data_key="AppName",
        required=True,
        metadata={"description": "the stack namespace label ('' outside a stack): DCE's app"},
    )
    image = fields.String(data_key="Image", required=True)
    replicas = fields.Nested(ReplicasSchema, data_key="Replicas", required=True)


class DefaultsSchema(Schema):
    """The defaults that apply when a job or a start sets none."""

    default_timeout_s = fields.Float(
        data_key="Timeout",
        allow_none=True,
        required=True,
        metadata={"description": "seconds a run may take when nothing sets it (null: none)"},
    )
    output_limit_bytes = fields.Integer(
        data_key="OutputLimitBytes", required=True, metadata={"description": "stored output per container"}
    )
    node_concurrency = fields.Integer(
        data_key="NodeConcurrency", required=True, metadata={"description": "engine calls in flight per node"}
    )
    global_concurrency = fields.Integer(
        data_key="GlobalConcurrency", required=True, metadata={"description": "engine calls in flight in all"}
    )

    @post_dump
    def _none_is_no_timeout(self, data: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
        return {**data, "Timeout": data["Timeout"] or None}


class SettingsSchema(Schema):
    """GET /api/settings."""

    defaults = fields.Nested(DefaultsSchema, data_key="Defaults", required=True)


class HealthSchema(Schema):
    """GET /api/health."""

    status = fields.String(required=True, validate=validate.OneOf(["ok", "unavailable"]))
    store = fields.String(required=True)
    version = fields.String(required=True)


class ErrorSchema(Schema):
    """Every error body: the seed's `{"message", "id"}`."""

    message = fields.String(required=True)
    id = fields.String(required=True)


class WarningSchema(Schema):
    """Something about a saved job the operator should know; it never blocks the save."""

    id = fields.String(required=True, validate=validate.OneOf(WARNING_IDS))
    message = fields.String(required=True)


def dump_settings(config: Any) -> dict[str, Any]:
    """The effective defaults of a Config."""
    return _SETTINGS.dump({"defaults": config})  # type: ignore[no-any-return]


def dump_health(status: str, store: str, version: str) -> dict[str, Any]:
    """The health body."""
    return _HEALTH.dump({"status": status, "store": store, "version": version})  # type: ignore[no-any-return]


def dump_containers(tasks: list[Any]) -> list[dict[str, Any]]:
    """Task containers as the containers route answers them."""
    return _CONTAINERS.dump(tasks)  # type: ignore[no-any-return]


def dump_services(services: list[Any]) -> list[dict[str, Any]]:
    """Services as GET /api/services answers them."""
    return _SERVICES.dump([{**vars(s), "replicas": s} for s in services])  # type: ignore[no-any-return]


def dump_warnings(warnings: list[tuple[str, str]]) -> list[dict[str, Any]]:
    """Warnings of a saved job."""
    return _WARNINGS.dump([{"id": i, "message": m} for i, m in warnings])  # type: ignore[no-any-return]


_SETTINGS = SettingsSchema()
_HEALTH = HealthSchema()
_CONTAINERS = ContainerSchema(many=True)
_SERVICES = ServiceSchema(many=True)
_WARNINGS = WarningSchema(many=True)
