"""A job, a start, a retry on the wire: bodies loaded into model attributes, jobs dumped in the seed's shape."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterable
from typing import Any
from urllib.parse import urlsplit

from marshmallow import RAISE, Schema, ValidationError, fields, post_load, validate, validates_schema

from ..cipher import mask
from ..errors import InvalidInput
from ..models import HOOK_EVENTS, FailureAction, Job, Param, Rolling, Target
from .base import (
    _CONTAINER_RE,
    _ENV_RE,
    _NODE_RE,
    _USER_RE,
    MAX_DELAY_S,
    MAX_ENV,
    MAX_SECRET_ARGS,
    MAX_TARGETS,
    MaskedSecrets,
    StrictBool,
    StrictNumber,
    _argv,
    _env_key,
    _load,
    _name,
    _no_nul,
    _timeout,
)
from .service import dump_warnings

#: optional job fields: a PUT that omits one keeps the stored value
OPTIONAL_JOB_FIELDS = (
    "privileged",
    "user",
    "env",
    "secret_args",
    "timeout_s",
    "parallelism",
    "delay_s",
    "failure_action",
    "max_failure_ratio",
    "params",
    "retries",
    "retry_delay_s",
    "status_hook",
    "status_hook_events",
)

MAX_RETRIES = 10
MAX_RETRY_DELAY_S = 24 * 3600.0


def _hook_url(value: str) -> None:
    if not value:
        return  # "" clears the hook
    if any(c.isspace() or ord(c) < 32 or ord(c) == 127 for c in value):
        raise ValidationError("Must not contain spaces or control characters.")
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValidationError("Must be an http:// or https:// URL with a host.")
    if "@" in parts.netloc:
        # they would be stored and shown in clear: a receiver checks the signature instead
        raise ValidationError("Must not carry credentials (user:password@); receivers check the signature.")
    try:
        parts.port  # noqa: B018 (it raises on a bad port)
    except ValueError:
        raise ValidationError("Has an invalid port.") from None


MAX_PARAMS = 32
MAX_PATTERN_CHARS = 512
MAX_PARAM_VALUE_CHARS = 4096
_PARAM_NAME = r"^[A-Za-z_][A-Za-z0-9_]{0,63}\Z"


def _regex(value: str) -> None:
    try:
        re.compile(value)
    except (re.error, RecursionError, OverflowError) as e:
        raise ValidationError(f"Not a valid Python regular expression: {e}.") from None


class ParamSchema(Schema):
    """One declared run-time parameter of a job: `${Name}` in Cmd takes its value."""

    class Meta:
        unknown = RAISE

    name = fields.String(
        data_key="Name",
        required=True,
        validate=validate.Regexp(_PARAM_NAME, error="Must match [A-Za-z_][A-Za-z0-9_]* (at most 64 characters)."),
    )
    default = fields.String(
        data_key="Default",
        load_default=None,
        allow_none=True,
        validate=[validate.Length(max=MAX_PARAM_VALUE_CHARS), _no_nul],
    )
    required = StrictBool(data_key="Required", load_default=False)
    pattern = fields.String(
        data_key="Pattern",
        load_default="",
        validate=[validate.Length(max=MAX_PATTERN_CHARS), _no_nul, _regex],
        metadata={"description": "a Python regular expression the whole value must match (empty: any)"},
    )

    @validates_schema
    def _consistent(self, data: dict[str, Any], **kwargs: Any) -> None:
        if data.get("required") and data.get("default") is not None:
            raise ValidationError("A required parameter takes no Default.", "Default")
        default, pattern = data.get("default"), data.get("pattern")
        if default is not None and pattern and not re.fullmatch(pattern, default):
            raise ValidationError("Does not match the parameter's Pattern.", "Default")

    @post_load
    def _param(self, data: dict[str, Any], **kwargs: Any) -> Param:
        return Param(**data)


def _distinct(values: list[str]) -> None:
    if len(set(values)) != len(values):
        raise ValidationError("Lists a value twice.")


def _unique_names(params: list[Param]) -> None:
    names = [p.name for p in params]
    doubled = sorted({n for n in names if names.count(n) > 1})
    if doubled:
        raise ValidationError(f"Parameter {doubled[0]} is declared twice.")


class RollingFields:
    """The rolling settings of a job or a start (Swarm's UpdateConfig words); absent = all at once."""

    parallelism = fields.Integer(
        data_key="Parallelism", attribute="rolling.parallelism", strict=True, validate=validate.Range(0, MAX_TARGETS)
    )
    delay_s = StrictNumber(
        data_key="Delay", attribute="rolling.delay_s", validate=validate.Range(0, MAX_DELAY_S), allow_nan=False
    )
    failure_action = fields.Enum(
        FailureAction, by_value=True, data_key="FailureAction", attribute="rolling.failure_action"
    )
    max_failure_ratio = StrictNumber(
        data_key="MaxFailureRatio",
        attribute="rolling.max_failure_ratio",
        validate=validate.Range(0, 1),
        allow_nan=False,
    )


def merge_rolling(given: dict[str, Any] | None, base: Rolling) -> Rolling:
    """The rolling settings `given` (loaded, any subset) over `base`."""
    return dataclasses.replace(base, **(given or {}))


class LastRunSchema(Schema):
    """The newest execution of a job as the job list shows it."""

    executor_id = fields.String(data_key="ExecutorId", required=True)
    state = fields.String(
        data_key="State", required=True, metadata={"description": "running, succeeded, failed or stopped"}
    )
    ended_at = fields.Float(data_key="EndTime", allow_none=True, required=True, metadata={"description": "epoch s"})


class JobSchema(Schema, RollingFields):
    """A job on the wire, both ways: POST and PUT bodies in, the seed's job shape out (JobId, Executors, masks)."""

    class Meta:
        unknown = RAISE

    job_id = fields.String(data_key="JobId", dump_only=True)
    app_name = _name(128, "AppName")
    service_name = fields.String(
        data_key="ServiceName",
        required=True,
        validate=[
            validate.Length(min=1, max=255),
            validate.Regexp(r"^[A-Za-z0-9][A-Za-z0-9_.-]*\Z", error="Not a valid Docker service name."),
        ],
    )
    name = _name(128, "Name")
    cmd = fields.String(data_key="Cmd", required=True, validate=[validate.Length(min=1, max=8192), _no_nul, _argv])
    privileged = StrictBool(data_key="Privileged", load_default=False)
    user = fields.String(
        data_key="User",
        load_default="",
        validate=[
            _no_nul,
            validate.Regexp(r"^\Z|" + _USER_RE.pattern, error="Must look like name, name:group or uid[:gid]."),
        ],
    )
    env = fields.List(
        fields.String(
            validate=[
                validate.Length(max=4096),
                _no_nul,
                validate.Regexp(_ENV_RE, error="Must be KEY=VALUE with a valid KEY."),
                _env_key,
            ]
        ),
        data_key="Env",
        load_default=list,
        validate=validate.Length(max=MAX_ENV),
    )
    secret_args = MaskedSecrets(
        fields.String(validate=[validate.Length(max=4096), _no_nul]),
        data_key="SecretArgs",
        load_default=list,
        validate=validate.Length(max=MAX_SECRET_ARGS),
    )
    executors = fields.List(fields.String(), data_key="Executors", dump_only=True)
    timeout_s = _timeout()
    created_at = fields.Float(data_key="CreateTime", dump_only=True, metadata={"description": "epoch seconds"})
    updated_at = fields.Float(data_key="UpdateTime", dump_only=True, metadata={"description": "epoch seconds"})
    created_by = fields.String(data_key="CreatedBy", dump_only=True, metadata={"description": "user ('' before kept)"})
    updated_by = fields.String(data_key="UpdatedBy", dump_only=True, metadata={"description": "user of the last edit"})
    last_run = fields.Nested(
        LastRunSchema,
        data_key="LastRun",
        dump_only=True,
        allow_none=True,
        metadata={"description": "the newest execution (null: never run)"},
    )
    params = fields.List(
        fields.Nested(ParamSchema),
        data_key="Params",
        load_default=list,
        validate=[validate.Length(max=MAX_PARAMS), _unique_names],
    )
    retries = fields.Integer(
        data_key="Retries",
        strict=True,
        load_default=0,
        validate=validate.Range(0, MAX_RETRIES),
        metadata={"description": "automatic retries of the failed targets, as new executions (0 = none)"},
    )
    retry_delay_s = StrictNumber(
        data_key="RetryDelay",
        load_default=0.0,
        allow_nan=False,
        validate=validate.Range(0, MAX_RETRY_DELAY_S),
        metadata={"description": "seconds between an execution's end and its automatic retry"},
    )
    status_hook = fields.String(
        data_key="StatusHook",
        load_default="",
        validate=[validate.Length(max=2048), _hook_url],
        metadata={"description": "http(s) URL that receives a signed JSON summary of each execution ('' = none)"},
    )
    status_hook_events = fields.List(
        fields.String(validate=validate.OneOf(HOOK_EVENTS)),
        data_key="StatusHookEvents",
        load_default=lambda: ["end"],
        validate=[validate.Length(min=1, max=len(HOOK_EVENTS)), _distinct],
        metadata={"description": "when the hook is told: start, end (default end)"},
    )


class TargetSchema(Schema):
    """One entry of Target: in a start request, and in inspect (the seed's shape)."""

    class Meta:
        unknown = RAISE

    container_id = fields.String(
        data_key="ContainerId",
        required=True,
        validate=validate.Regexp(_CONTAINER_RE, error="Must be a container id or a prefix of 12+ hex characters."),
    )
    node_id = fields.String(
        data_key="NodeId", required=True, validate=validate.Regexp(_NODE_RE, error="Must be a Swarm node id.")
    )

    @post_load
    def _target(self, data: dict[str, Any], **kwargs: Any) -> Target:
        return Target(**data)


class StartSchema(Schema, RollingFields):
    """The body of POST /api/jobs/{JobId}/start."""

    class Meta:
        unknown = RAISE

    targets = fields.List(
        fields.Nested(TargetSchema), data_key="Target", validate=validate.Length(min=1, max=MAX_TARGETS)
    )
    timeout_s = _timeout()
    params = fields.Dict(
        keys=fields.String(validate=validate.Length(min=1, max=64)),
        values=fields.String(validate=[validate.Length(max=MAX_PARAM_VALUE_CHARS), _no_nul]),
        data_key="Params",
        validate=validate.Length(max=MAX_PARAMS),
        metadata={"description": "values of the job's parameters by Name (not secret: kept and shown in inspect)"},
    )


def load_job(payload: Any) -> dict[str, Any]:
    """Validate a job body into Job attributes (SecretArgs still in clear); raise InvalidInput naming each bad field."""
    return _load(JobSchema(), payload)


def load_job_edit(payload: Any) -> dict[str, Any]:
    """Validate a PUT body: as load_job, but optional fields it omits are left out (they keep stored values)."""
    return _load(JobSchema(partial=OPTIONAL_JOB_FIELDS), payload)


def load_start(payload: Any, job: Job) -> tuple[list[Target] | None, float | None, Rolling | None]:
    """Validate a start body: the targets (None = every running container), a Timeout and rolling overrides."""
    data = _load(StartSchema(), {} if payload is None else payload)
    targets: list[Target] | None = data.get("targets")
    if targets is not None:
        refuse_duplicate_targets(t.container_id for t in targets)
    rolling = merge_rolling(data["rolling"], job.rolling) if "rolling" in data else None
    return targets, data.get("timeout_s"), rolling


def load_start_params(payload: Any) -> dict[str, str]:
    """The parameter values a start body gives (checked against the job's declarations by the runner)."""
    data = _load(StartSchema(), {} if payload is None else payload)
    return dict(data.get("params") or {})


def refuse_duplicate_targets(container_ids: Iterable[str]) -> None:
    """One container listed twice (as given, or resolved from prefixes) is `duplicate_target`."""
    seen: set[str] = set()
    for container_id in container_ids:
        if container_id in seen:
            raise InvalidInput(f"Target: container {container_id} is listed twice", error_id="duplicate_target")
        seen.add(container_id)


class RetrySchema(Schema):
    """The body of POST .../executors/{ExecutorId}/retry."""

    class Meta:
        unknown = RAISE

    All = StrictBool(load_default=False)
    FollowSlots = StrictBool(load_default=True)


def load_retry(payload: Any) -> tuple[bool, bool]:
    """Validate a retry body: (every target, not only the failed ones; follow the Swarm task slots)."""
    data = _load(RetrySchema(), {} if payload is None else payload)
    return bool(data["All"]), bool(data["FollowSlots"])


class EmptySchema(Schema):
    """The body of POST .../executors/{ExecutorId}/stop and /resume: an empty object (or no body)."""

    class Meta:
        unknown = RAISE


def load_empty(payload: Any) -> None:
    """Validate a body that carries nothing: `{}` (or no body)."""
    _load(EmptySchema(), {} if payload is None else payload)


def dump_job(job: Job) -> dict[str, Any]:
    """A job as the seed shows it: PascalCase, SecretArgs as masks, plus the rolling settings."""
    return _JOB.dump(job)  # type: ignore[no-any-return]


def dump_jobs(jobs: list[Job]) -> list[dict[str, Any]]:
    """Jobs as the seed's list shows them: what JobSchema dumps (a test holds them equal), built directly.

    marshmallow takes ~0.1 ms of CPU a job; the seed's unpaged list of 10,000 jobs spent most of its time there.
    """
    return [_job_dict(job) for job in jobs]


def _job_dict(job: Job) -> dict[str, Any]:
    rolling, last = job.rolling, job.last_run
    return {
        "Parallelism": rolling.parallelism,
        "Delay": float(rolling.delay_s),
        "FailureAction": rolling.failure_action.value,
        "MaxFailureRatio": float(rolling.max_failure_ratio),
        "JobId": job.job_id,
        "AppName": job.app_name,
        "ServiceName": job.service_name,
        "Name": job.name,
        "Cmd": job.cmd,
        "Privileged": job.privileged,
        "User": job.user,
        "Env": list(job.env),
        "SecretArgs": [mask(secret.length) for secret in job.secret_args],
        "Executors": list(job.executors),
        "Timeout": None if job.timeout_s is None else float(job.timeout_s),
        "CreateTime": float(job.created_at),
        "UpdateTime": float(job.updated_at),
        "CreatedBy": job.created_by,
        "UpdatedBy": job.updated_by,
        "LastRun": None
        if last is None
        else {
            "ExecutorId": last.executor_id,
            "State": last.state,
            "EndTime": None if last.ended_at is None else float(last.ended_at),
        },
        "Params": [
            {"Name": p.name, "Default": p.default, "Required": p.required, "Pattern": p.pattern} for p in job.params
        ],
        "Retries": job.retries,
        "RetryDelay": float(job.retry_delay_s),
        "StatusHook": job.status_hook,
        "StatusHookEvents": list(job.status_hook_events),
    }


def dump_target(target: Target) -> dict[str, str]:
    """One target as the seed shows it."""
    return _TARGET.dump(target)  # type: ignore[no-any-return]


def dump_saved_job(job: Job, warnings: list[tuple[str, str]]) -> dict[str, Any]:
    """The job as POST and PUT answer it: with `Warnings` ({"id", "message"} each) when there are any."""
    body = dump_job(job)
    if warnings:
        body["Warnings"] = dump_warnings(warnings)
    return body


_JOB = JobSchema()
_TARGET = TargetSchema()
