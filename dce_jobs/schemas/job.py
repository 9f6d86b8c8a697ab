"""A job, a start, a retry on the wire: bodies loaded into model attributes, jobs dumped in the seed's shape."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from typing import Any

from marshmallow import RAISE, Schema, fields, post_load, validate

from ..cipher import mask
from ..errors import InvalidInput
from ..models import FailureAction, Job, Rolling, Target
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
)


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
