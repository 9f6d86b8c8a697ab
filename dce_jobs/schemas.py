"""Request and response shapes of the seed contract: the only user of marshmallow."""

from __future__ import annotations

import dataclasses
import re
import shlex
from collections.abc import Iterable
from typing import Any

from marshmallow import INCLUDE, RAISE, Schema, ValidationError, fields, post_dump, post_load, validate

from .cipher import mask
from .errors import InvalidInput
from .models import (
    COUNT_KEYS,
    ContainerResult,
    EndReason,
    Execution,
    ExecutionState,
    FailureAction,
    Job,
    Rolling,
    Status,
    Summary,
    Target,
)

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


def _name(max_len: int, data_key: str) -> fields.String:
    return fields.String(
        data_key=data_key, required=True, validate=[validate.Length(min=1, max=max_len), _not_blank, _no_nul]
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


class MaskedSecrets(fields.List):  # type: ignore[type-arg]
    """SecretArgs: clear strings coming in (the only place they travel), one `*` per character going out."""

    def _serialize(self, value: Any, attr: str | None, obj: Any, **kwargs: Any) -> list[str] | None:
        return None if value is None else [mask(secret.length) for secret in value]


def _timeout() -> StrictNumber:
    return StrictNumber(
        data_key="Timeout",
        load_default=None,
        allow_none=True,
        validate=validate.Range(min=0.1, max=MAX_TIMEOUT_S),
        allow_nan=False,
    )


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


def dump_target(target: Target) -> dict[str, str]:
    """One target as the seed shows it."""
    return _TARGET.dump(target)  # type: ignore[no-any-return]


@dataclasses.dataclass(frozen=True)
class ResultView:
    """What one Result entry of inspect shows: the record, its target, and the tail of its output."""

    result: ContainerResult
    target: Target | None
    output: str | None = None  #: None before the target ran: no Output keys then
    output_tail: bool = False

    @property
    def end_reason(self) -> str | None:
        """The end reason; a final record from before end reasons were kept gets one from its status."""
        if self.result.end_reason is not None:
            return self.result.end_reason.value
        legacy = _LEGACY_END_REASONS.get(self.result.status)
        return None if legacy is None else legacy.value


_LEGACY_END_REASONS = {
    Status.FINISHED: EndReason.EXITED,
    Status.CREATE_FAILED: EndReason.CREATE_FAILED,
    Status.RUNNING_FAILED: EndReason.ENGINE_ERROR,
}


def _inspected(name: str, field: type[fields.Field[Any]], **options: Any) -> fields.Field[Any]:
    """An exec-inspect field of the engine's record, shown once the target finished."""
    return field(data_key=name, attribute=f"result.inspect.{name}", **options)


class ResultSchema(Schema):
    """One Result entry of inspect: the seed's keys, exec-inspect fields once known, and Output."""

    class Meta:
        unknown = INCLUDE  # a newer engine's further exec-inspect fields are passed on

    node_id = fields.String(data_key="NodeId", attribute="result.node_id", required=True)
    container_id = fields.String(data_key="ContainerId", attribute="result.container_id", required=True)
    exec_id = fields.String(
        data_key="ID", attribute="result.exec_id", required=True, metadata={"description": "exec id ('' until created)"}
    )
    status = fields.Enum(Status, by_value=True, data_key="Status", attribute="result.status", required=True)
    error = fields.String(
        data_key="E",
        attribute="result.error",
        required=True,
        metadata={"description": "why the target failed ('' when it did not)"},
    )
    slot = fields.Integer(
        data_key="Slot",
        attribute="target.slot",
        allow_none=True,
        required=True,
        metadata={"description": "Swarm task slot (null: global service)"},
    )
    previous_container_id = fields.String(
        data_key="PreviousContainerId",
        attribute="target.previous_container_id",
        metadata={"description": "a retry that followed the slot to a new task: the container it replaced"},
    )
    exit_code = fields.Integer(data_key="ExitCode", attribute="result.exit_code", allow_none=True)
    pid = _inspected("Pid", fields.Integer)
    running = _inspected("Running", fields.Boolean)
    process_config = _inspected(
        "ProcessConfig", fields.Dict, metadata={"description": "the engine's, with secret arguments masked"}
    )
    open_stdin = _inspected("OpenStdin", fields.Boolean)
    open_stdout = _inspected("OpenStdout", fields.Boolean)
    open_stderr = _inspected("OpenStderr", fields.Boolean)
    can_remove = _inspected("CanRemove", fields.Boolean)
    detach_keys = _inspected("DetachKeys", fields.String)
    container = _inspected("ContainerID", fields.String)
    started_at = fields.Float(
        data_key="StartTime",
        attribute="result.started_at",
        allow_none=True,
        required=True,
        metadata={"description": "when the process started (epoch s)"},
    )
    finished_at = fields.Float(
        data_key="EndTime",
        attribute="result.finished_at",
        allow_none=True,
        required=True,
        metadata={"description": "when the target ended (epoch s)"},
    )
    end_reason = fields.String(
        data_key="EndReason",
        allow_none=True,
        required=True,
        validate=validate.OneOf([r.value for r in EndReason]),
        metadata={"description": "why the target ended, a fixed vocabulary (E is the human message); null until then"},
    )
    output = fields.String(data_key="Output", metadata={"description": "the last 64 KiB of the stored output"})
    output_truncated = fields.Boolean(
        data_key="OutputTruncated",
        attribute="result.output_truncated",
        metadata={"description": "the stored output hit DCE_JOBS_OUTPUT_LIMIT_BYTES"},
    )
    output_tail = fields.Boolean(
        data_key="OutputTail", metadata={"description": "Output is only the tail of the stored output"}
    )

    @post_dump(pass_original=True)
    def _only_what_is_known(self, entry: dict[str, Any], view: ResultView, **kwargs: Any) -> dict[str, Any]:
        if view.output is None:
            for key in ("Output", "OutputTruncated", "OutputTail"):
                entry.pop(key, None)
        if entry.get("ExitCode") is None:
            entry.pop("ExitCode", None)
        if not entry.get("PreviousContainerId"):
            entry.pop("PreviousContainerId", None)
        extra = {k: v for k, v in (view.result.inspect or {}).items() if k not in entry and k != "ExitCode"}
        return {**entry, **extra}


def dump_result(view: ResultView) -> dict[str, Any]:
    """One Result entry of inspect."""
    return _RESULT.dump(view)  # type: ignore[no-any-return]


@dataclasses.dataclass(frozen=True)
class InspectView:
    """What inspect shows of one execution."""

    execution: Execution
    summary: Summary
    results: list[ResultView]


class InspectSchema(Schema):
    """The seed's inspect body, with the execution's summary, rolling settings and RetryOf added."""

    job_id = fields.String(data_key="JobId", attribute="execution.job_id", required=True)
    executor_id = fields.String(data_key="ExecutorId", attribute="execution.executor_id", required=True)
    created_at = fields.Float(
        data_key="CreateTime",
        attribute="execution.created_at",
        required=True,
        metadata={"description": "seconds since the epoch"},
    )
    timeout_s = fields.Float(
        data_key="Timeout",
        attribute="execution.timeout_s",
        allow_none=True,
        required=True,
        metadata={"description": "seconds a target may run (null: none)"},
    )
    retry_of = fields.Function(
        lambda view: view.execution.retry_of or None,
        data_key="RetryOf",
        allow_none=True,
        required=True,
        metadata={"description": "the ExecutorId this execution retries", "type": "string", "nullable": True},
    )
    state = fields.Enum(ExecutionState, by_value=True, data_key="State", attribute="summary.state", required=True)
    ended_at = fields.Float(
        data_key="EndTime",
        attribute="summary.ended_at",
        allow_none=True,
        required=True,
        metadata={"description": "when the last target ended (epoch s)"},
    )
    counts = fields.Dict(
        keys=fields.String(validate=validate.OneOf(COUNT_KEYS)),
        values=fields.Integer(),
        data_key="Counts",
        attribute="summary.counts",
        required=True,
    )
    parallelism = fields.Integer(data_key="Parallelism", attribute="execution.rolling.parallelism", required=True)
    delay_s = fields.Float(data_key="Delay", attribute="execution.rolling.delay_s", required=True)
    failure_action = fields.Enum(
        FailureAction,
        by_value=True,
        data_key="FailureAction",
        attribute="execution.rolling.failure_action",
        required=True,
    )
    max_failure_ratio = fields.Float(
        data_key="MaxFailureRatio", attribute="execution.rolling.max_failure_ratio", required=True
    )
    targets = fields.List(fields.Nested(TargetSchema), data_key="Target", attribute="execution.targets", required=True)
    results = fields.List(fields.Nested(ResultSchema), data_key="Result", required=True)


def dump_inspect(view: InspectView) -> dict[str, Any]:
    """The inspect body of one execution."""
    return _INSPECT.dump(view)  # type: ignore[no-any-return]


_JOB = JobSchema()
_TARGET = TargetSchema()
_RESULT = ResultSchema()
_INSPECT = InspectSchema()
