"""Request and response shapes of the seed contract: the only user of marshmallow."""

from __future__ import annotations

import re
import shlex
from typing import Any

from marshmallow import RAISE, Schema, ValidationError, fields, validate, validates_schema

from .cipher import mask
from .errors import InvalidInput
from .models import ContainerResult, Execution, Job, Target

_USER_PART = r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,63}"
# \Z, not $: re.match lets $ match before a trailing newline ("root\n" must be refused)
_USER_RE = re.compile(rf"^{_USER_PART}(:{_USER_PART})?\Z")
_ENV_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*=[^\x00]*\Z", re.DOTALL)
_CONTAINER_RE = re.compile(r"^[0-9a-f]{12,64}\Z")
_NODE_RE = re.compile(r"^[0-9a-z]{1,64}\Z")

MAX_ENV = 256
MAX_SECRET_ARGS = 64
MAX_TARGETS = 2000
MAX_TIMEOUT_S = 7 * 24 * 3600.0


class StrictBool(fields.Boolean):
    """A JSON true/false only: no "yes", 1 or "true" strings."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> bool:
        if not isinstance(value, bool):
            raise ValidationError("Not a JSON boolean (true or false).")
        return value


def _not_blank(value: str) -> None:
    if not value.strip():
        raise ValidationError("Must not be empty.")


def _argv(value: str) -> None:
    try:
        argv = shlex.split(value)
    except ValueError as e:
        raise ValidationError(f"Cannot be split into arguments with shell rules: {e}.") from None
    if not argv:
        raise ValidationError("Must contain a command.")


def _name(max_len: int) -> fields.String:
    return fields.String(required=True, validate=[validate.Length(min=1, max=max_len), _not_blank])


def _timeout() -> fields.Float:
    return fields.Float(
        load_default=None, allow_none=True, validate=validate.Range(min=0.1, max=MAX_TIMEOUT_S), allow_nan=False
    )


class JobSchema(Schema):
    """The job fields of POST and PUT /api/jobs."""

    class Meta:
        unknown = RAISE

    AppName = _name(128)
    ServiceName = fields.String(
        required=True,
        validate=[
            validate.Length(min=1, max=255),
            validate.Regexp(r"^[A-Za-z0-9][A-Za-z0-9_.-]*\Z", error="Not a valid Docker service name."),
        ],
    )
    Name = _name(128)
    Cmd = fields.String(required=True, validate=[validate.Length(min=1, max=8192), _argv])
    Privileged = StrictBool(load_default=False)
    User = fields.String(
        load_default="",
        validate=validate.Regexp(r"^\Z|" + _USER_RE.pattern, error="Must look like name, name:group or uid[:gid]."),
    )
    Env = fields.List(
        fields.String(
            validate=[validate.Length(max=4096), validate.Regexp(_ENV_RE, error="Must be KEY=VALUE with a valid KEY.")]
        ),
        load_default=list,
        validate=validate.Length(max=MAX_ENV),
    )
    SecretArgs = fields.List(
        fields.String(validate=validate.Length(max=4096)),
        load_default=list,
        validate=validate.Length(max=MAX_SECRET_ARGS),
    )
    Timeout = _timeout()


class TargetSchema(Schema):
    """One entry of Target in a start request."""

    class Meta:
        unknown = RAISE

    ContainerId = fields.String(
        required=True,
        validate=validate.Regexp(_CONTAINER_RE, error="Must be a container id or a prefix of 12+ hex characters."),
    )
    NodeId = fields.String(required=True, validate=validate.Regexp(_NODE_RE, error="Must be a Swarm node id."))


class StartSchema(Schema):
    """The body of POST /api/jobs/{JobId}/start."""

    class Meta:
        unknown = RAISE

    Target = fields.List(fields.Nested(TargetSchema), validate=validate.Length(min=1, max=MAX_TARGETS))
    Timeout = _timeout()

    @validates_schema
    def _no_duplicates(self, data: dict[str, Any], **kwargs: Any) -> None:
        seen: set[str] = set()
        for entry in data.get("Target") or []:
            if entry["ContainerId"] in seen:
                raise ValidationError(f"Container {entry['ContainerId']} is listed twice.", "Target")
            seen.add(entry["ContainerId"])


def _load(schema: Schema, payload: Any) -> dict[str, Any]:
    if not isinstance(payload, dict):
        raise InvalidInput("the body must be a JSON object")
    try:
        return schema.load(payload)  # type: ignore[no-any-return]
    except ValidationError as e:
        raise InvalidInput(describe_errors(e.messages)) from None


def describe_errors(messages: Any, prefix: str = "") -> str:
    """Flatten marshmallow's error tree into `Field: why; Other.0: why`."""
    if isinstance(messages, dict):
        parts = [describe_errors(v, f"{prefix}.{k}" if prefix else str(k)) for k, v in messages.items()]
        return "; ".join(p for p in parts if p)
    if isinstance(messages, list) and all(isinstance(m, str) for m in messages):
        return f"{prefix or 'body'}: {' '.join(messages)}"
    if isinstance(messages, list):
        return "; ".join(describe_errors(m, prefix) for m in messages)
    return f"{prefix or 'body'}: {messages}"


def load_job(payload: Any) -> dict[str, Any]:
    """Validate a job body; raise InvalidInput naming each bad field."""
    return _load(JobSchema(), payload)


def load_start(payload: Any) -> tuple[list[Target] | None, float | None]:
    """Validate a start body: the targets (None = every running container) and a Timeout override."""
    data = _load(StartSchema(), {} if payload is None else payload)
    targets = None
    if "Target" in data:
        targets = [Target(container_id=t["ContainerId"], node_id=t["NodeId"]) for t in data["Target"]]
    return targets, data.get("Timeout")


class RetrySchema(Schema):
    """The body of POST .../executors/{ExecutorId}/retry."""

    class Meta:
        unknown = RAISE

    All = StrictBool(load_default=False)


def load_retry(payload: Any) -> bool:
    """Validate a retry body; True means retry every target, not only the failed ones."""
    return bool(_load(RetrySchema(), {} if payload is None else payload)["All"])


def dump_job(job: Job) -> dict[str, Any]:
    """A job as the seed shows it: PascalCase, SecretArgs as masks."""
    return {
        "JobId": job.job_id,
        "AppName": job.app_name,
        "ServiceName": job.service_name,
        "Name": job.name,
        "Cmd": job.cmd,
        "Privileged": job.privileged,
        "User": job.user,
        "Env": list(job.env),
        "SecretArgs": [mask(s.length) for s in job.secret_args],
        "Executors": list(job.executors),
        "Timeout": job.timeout_s,
    }


def dump_target(target: Target) -> dict[str, str]:
    """One target as the seed shows it."""
    return {"ContainerId": target.container_id, "NodeId": target.node_id}


def dump_result(result: ContainerResult, *, output: str | None, output_cut: bool) -> dict[str, Any]:
    """One Result entry of inspect: the seed's keys, exec-inspect fields once known, and Output."""
    entry: dict[str, Any] = {
        "NodeId": result.node_id,
        "ContainerId": result.container_id,
        "ID": result.exec_id,
        "Status": result.status.value,
        "E": result.error,
    }
    if result.inspect:
        entry.update(result.inspect)
    if result.exit_code is not None:
        entry["ExitCode"] = result.exit_code
    if output is not None:
        entry["Output"] = output
        entry["OutputTruncated"] = result.output_truncated
        entry["OutputTail"] = output_cut
    return entry


def dump_execution(execution: Execution, entries: list[dict[str, Any]]) -> dict[str, Any]:
    """The inspect body of the seed."""
    return {
        "JobId": execution.job_id,
        "ExecutorId": execution.executor_id,
        "CreateTime": execution.created_at,
        "Timeout": execution.timeout_s,
        "Target": [dump_target(t) for t in execution.targets],
        "Result": entries,
    }


def dump_saved_job(job: Job, warnings: list[tuple[str, str]]) -> dict[str, Any]:
    """The job as POST and PUT answer it: with `Warnings` ({"id", "message"} each) when there are any."""
    body = dump_job(job)
    if warnings:
        body["Warnings"] = [{"id": warning_id, "message": message} for warning_id, message in warnings]
    return body

