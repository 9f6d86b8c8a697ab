"""The marshmallow pieces every wire shape uses: strict fields, validators, limits, loading with clear errors."""

from __future__ import annotations

import re
import shlex
from typing import Any

from marshmallow import Schema, ValidationError, fields, validate

from ..cipher import mask
from ..errors import InvalidInput

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
