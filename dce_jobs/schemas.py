"""Request and response shapes of the seed contract: the only user of marshmallow."""

from __future__ import annotations

import re
import shlex
from collections.abc import Iterable
from typing import Any

from marshmallow import RAISE, Schema, ValidationError, fields, validate

from .cipher import mask
from .errors import InvalidInput
from .models import ContainerResult, EndReason, Execution, FailureAction, Job, Rolling, Status, Summary, Target

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
MAX_DELAY_S = 3600.0
RESERVED_ENV = "DCE_JOBS_RUN"  #: the environment entry execs.py adds to every run

#: optional job fields: a PUT that omits one keeps the stored value
OPTIONAL_JOB_FIELDS = ("Privileged", "User", "Env", "SecretArgs", "Timeout")


class StrictBool(fields.Boolean):
    """A JSON true/false only: no "yes", 1 or "true" strings."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> bool:
        if not isinstance(value, bool):
            raise ValidationError("Not a JSON boolean (true or false).")
        return value


class StrictNumber(fields.Float):
    """A JSON number only: no "10" strings, no true/false."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ValidationError("Not a JSON number.")
        return super()._deserialize(value, attr, data, **kwargs)


def _not_blank(value: str) -> None:
    if not value.strip():
        raise ValidationError("Must not be empty.")


def _no_nul(value: str) -> None:
    # no argv word, environment entry or name can carry NUL: the engine would fail the exec later
    if "\x00" in value:
        raise ValidationError("Must not contain NUL (\\u0000).")


def _argv(value: str) -> None:
    try:
        argv = shlex.split(value)
    except ValueError as e:
        raise ValidationError(f"Cannot be split into arguments with shell rules: {e}.") from None
    if not argv:
        raise ValidationError("Must contain a command.")
    if not argv[0]:
        raise ValidationError("The command (its first word) must not be empty.")


def _env_key(value: str) -> None:
    if value.partition("=")[0] == RESERVED_ENV:
        raise ValidationError(f"{RESERVED_ENV} is reserved: it marks the processes of a run for stop.")


def _name(max_len: int) -> fields.String:
    return fields.String(required=True, validate=[validate.Length(min=1, max=max_len), _not_blank, _no_nul])


class RollingFields:
    """The rolling settings of a job or a start (Swarm's UpdateConfig words); absent = all at once."""

    Parallelism = fields.Integer(strict=True, validate=validate.Range(min=0, max=MAX_TARGETS))
    Delay = StrictNumber(validate=validate.Range(min=0, max=MAX_DELAY_S), allow_nan=False)
    FailureAction = fields.String(validate=validate.OneOf([a.value for a in FailureAction]))
    MaxFailureRatio = StrictNumber(validate=validate.Range(min=0, max=1), allow_nan=False)


def load_rolling(data: dict[str, Any], base: Rolling | None = None) -> Rolling | None:
    """Rolling settings from validated fields over `base`; None when none is given and there is no base."""
    given = {k: data[k] for k in ("Parallelism", "Delay", "FailureAction", "MaxFailureRatio") if k in data}
    if not given and base is None:
        return None
    base = base or Rolling()
    return Rolling(
        parallelism=given.get("Parallelism", base.parallelism),
        delay_s=given.get("Delay", base.delay_s),
        failure_action=FailureAction(given.get("FailureAction", base.failure_action)),
        max_failure_ratio=given.get("MaxFailureRatio", base.max_failure_ratio),
    )


def dump_rolling(rolling: Rolling) -> dict[str, Any]:
    """Rolling settings as the API shows them."""
    return {
        "Parallelism": rolling.parallelism,
        "Delay": rolling.delay_s,
        "FailureAction": rolling.failure_action.value,
        "MaxFailureRatio": rolling.max_failure_ratio,
    }


def _timeout() -> StrictNumber:
    return StrictNumber(
        load_default=None, allow_none=True, validate=validate.Range(min=0.1, max=MAX_TIMEOUT_S), allow_nan=False
    )


class JobSchema(Schema, RollingFields):
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
    Cmd = fields.String(required=True, validate=[validate.Length(min=1, max=8192), _no_nul, _argv])
    Privileged = StrictBool(load_default=False)
    User = fields.String(
        load_default="",
        validate=[
            _no_nul,
            validate.Regexp(r"^\Z|" + _USER_RE.pattern, error="Must look like name, name:group or uid[:gid]."),
        ],
    )
    Env = fields.List(
        fields.String(
            validate=[
                validate.Length(max=4096),
                _no_nul,
                validate.Regexp(_ENV_RE, error="Must be KEY=VALUE with a valid KEY."),
                _env_key,
            ]
        ),
        load_default=list,
        validate=validate.Length(max=MAX_ENV),
    )
    SecretArgs = fields.List(
        fields.String(validate=[validate.Length(max=4096), _no_nul]),
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


class StartSchema(Schema, RollingFields):
    """The body of POST /api/jobs/{JobId}/start."""

    class Meta:
        unknown = RAISE

    Target = fields.List(fields.Nested(TargetSchema), validate=validate.Length(min=1, max=MAX_TARGETS))
    Timeout = _timeout()


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


def load_job_edit(payload: Any) -> dict[str, Any]:
    """Validate a PUT body: as load_job, but optional fields it omits are left out (they keep stored values)."""
    data = load_job(payload)
    return {k: v for k, v in data.items() if k not in OPTIONAL_JOB_FIELDS or k in payload}


def load_start(payload: Any, job: Job) -> tuple[list[Target] | None, float | None, Rolling | None]:
    """Validate a start body: the targets (None = every running container), a Timeout and rolling overrides."""
    data = _load(StartSchema(), {} if payload is None else payload)
    targets = None
    if "Target" in data:
        targets = [Target(container_id=t["ContainerId"], node_id=t["NodeId"]) for t in data["Target"]]
        refuse_duplicate_targets(t.container_id for t in targets)
    has_rolling = any(k in data for k in ("Parallelism", "Delay", "FailureAction", "MaxFailureRatio"))
    return targets, data.get("Timeout"), load_rolling(data, job.rolling) if has_rolling else None


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
        **dump_rolling(job.rolling),
    }


def dump_target(target: Target) -> dict[str, str]:
    """One target as the seed shows it."""
    return {"ContainerId": target.container_id, "NodeId": target.node_id}


def dump_result(
    result: ContainerResult, target: Target | None, *, output: str | None, output_cut: bool
) -> dict[str, Any]:
    """One Result entry of inspect: the seed's keys, exec-inspect fields once known, and Output."""
    entry: dict[str, Any] = {
        "NodeId": result.node_id,
        "ContainerId": result.container_id,
        "ID": result.exec_id,
        "Status": result.status.value,
        "E": result.error,
        "Slot": None if target is None else target.slot,
    }
    if target is not None and target.previous_container_id:
        entry["PreviousContainerId"] = target.previous_container_id
    if result.inspect:
        entry.update(result.inspect)
    if result.exit_code is not None:
        entry["ExitCode"] = result.exit_code
    entry["StartTime"] = result.started_at
    entry["EndTime"] = result.finished_at
    entry["EndReason"] = _end_reason(result)
    if output is not None:
        entry["Output"] = output
        entry["OutputTruncated"] = result.output_truncated
        entry["OutputTail"] = output_cut
    return entry


_LEGACY_END_REASONS = {
    Status.FINISHED: EndReason.EXITED,
    Status.CREATE_FAILED: EndReason.CREATE_FAILED,
    Status.RUNNING_FAILED: EndReason.ENGINE_ERROR,
}


def _end_reason(result: ContainerResult) -> str | None:
    """The result's end reason; a final record from before end reasons were kept gets one from its status."""
    if result.end_reason is not None:
        return result.end_reason.value
    legacy = _LEGACY_END_REASONS.get(result.status)
    return None if legacy is None else legacy.value


def dump_execution(execution: Execution, entries: list[dict[str, Any]], summary: Summary) -> dict[str, Any]:
    """The inspect body of the seed, with the execution's summary and rolling settings added."""
    return {
        "JobId": execution.job_id,
        "ExecutorId": execution.executor_id,
        "CreateTime": execution.created_at,
        "Timeout": execution.timeout_s,
        "RetryOf": execution.retry_of or None,
        "State": summary.state.value,
        "EndTime": summary.ended_at,
        "Counts": summary.counts,
        **dump_rolling(execution.rolling),
        "Target": [dump_target(t) for t in execution.targets],
        "Result": entries,
    }
