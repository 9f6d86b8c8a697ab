"""Run-time parameters: `${NAME}` in the words of Cmd, values checked against the job's declarations."""

from __future__ import annotations

import re
import shlex
from collections.abc import Mapping, Sequence

from .errors import InvalidInput
from .models import Param

#: a reference to a parameter inside one word of Cmd; `$${NAME}` is an escaped, literal `${NAME}`
REFERENCE = re.compile(r"(\$?)\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
MAX_VALUE_CHARS = 4096


def referenced(cmd: str) -> set[str]:
    """The parameter names the words of `cmd` refer to."""
    return {m.group(2) for word in shlex.split(cmd) for m in REFERENCE.finditer(word) if not m.group(1)}


def check_cmd(cmd: str, params: Sequence[Param]) -> None:
    """Refuse a Cmd that refers to a parameter the job does not declare (a job without Params keeps Cmd literal)."""
    if not params:
        return
    undeclared = sorted(referenced(cmd) - {p.name for p in params})
    if undeclared:
        names = ", ".join(f"${{{n}}}" for n in undeclared)
        raise InvalidInput(f"Cmd: {names} not declared in Params", error_id="invalid_request")


def resolve(params: Sequence[Param], given: Mapping[str, str]) -> dict[str, str]:
    """The value of every declared parameter for one run; a bad or missing value is a 400 naming it."""
    declared = {p.name: p for p in params}
    unknown = sorted(set(given) - set(declared))
    if unknown:
        raise InvalidInput(f"Params.{unknown[0]}: not a parameter of this job", error_id="invalid_params")
    values: dict[str, str] = {}
    for param in params:
        if param.name in given:
            value = given[param.name]
        elif param.required:
            raise InvalidInput(f"Params.{param.name}: required", error_id="invalid_params")
        else:
            value = param.default or ""
        if param.pattern and not re.fullmatch(param.pattern, value):
            why = f"Params.{param.name}: {value[:80]!r} does not match the pattern {param.pattern!r}"
            raise InvalidInput(why, error_id="invalid_params")
        values[param.name] = value
    return values


def expand(argv: Sequence[str], values: Mapping[str, str]) -> list[str]:
    """Replace `${NAME}` inside each word: a value stays inside its word, never split nor read by a shell.

    Without values (a job that declares no Params) the words stay as they are; with them `$${NAME}` is `${NAME}`.
    """
    if not values:
        return list(argv)

    def value(m: re.Match[str]) -> str:
        if m.group(1):
            return m.group(0)[1:]  # escaped
        return values.get(m.group(2), m.group(0))

    return [REFERENCE.sub(value, word) for word in argv]
