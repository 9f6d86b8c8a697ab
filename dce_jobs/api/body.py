"""Reading JSON request bodies strictly, and the content type every state-changing request must carry."""

from __future__ import annotations

import json
from typing import Any

from aiohttp import hdrs, web

from ..errors import InvalidInput
from ..jobs import LONE_SURROGATE

JSON_TYPE = "application/json"


def require_json_type(request: web.Request, *, allow_absent: bool = False) -> None:
    """Refuse a state-changing request that does not say `Content-Type: application/json` (also without a body).

    A cross-site form or no-cors fetch can only send text/plain, form or multipart bodies (or none): refusing
    them is what keeps another site from making a visitor's browser start, stop or edit jobs.
    """
    given = request.headers.get(hdrs.CONTENT_TYPE)
    if given is None and allow_absent:
        return
    if request.content_type != JSON_TYPE:
        shown = "none" if given is None else repr(request.content_type)
        raise InvalidInput(
            f"Content-Type must be application/json (also without a body), not {shown}",
            error_id="invalid_content_type",
        )


async def read_json(request: web.Request, *, optional: bool = False) -> Any:
    """The request's JSON body; a wrong content type, malformed JSON or text that is not Unicode is a 400."""
    require_json_type(request)
    raw = await request.read()
    if not raw.strip():
        if optional:
            return None
        raise InvalidInput("a JSON body is required", error_id="invalid_json")
    try:
        data = json.loads(raw, parse_constant=_no_constant)
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise InvalidInput(f"the body is not valid JSON: {e}", error_id="invalid_json") from None
    except ValueError:  # what else json.loads raises: an integer past sys.get_int_max_str_digits()
        raise InvalidInput("the body holds a number with too many digits", error_id="invalid_json") from None
    except RecursionError:
        raise InvalidInput("the body is nested too deeply", error_id="invalid_json") from None
    refuse_lone_surrogates(data)
    return data


def _no_constant(name: str) -> Any:
    raise InvalidInput(f"the body is not valid JSON: {name} is not a JSON value", error_id="invalid_json")


def refuse_lone_surrogates(data: Any) -> None:
    """Raise InvalidInput naming the first field (`Env.1`) whose string or key holds a lone surrogate."""
    pending: list[tuple[Any, str]] = [(data, "")]
    while pending:  # a loop, not recursion: json.loads already accepts nesting close to the recursion limit
        node, where = pending.pop()
        if isinstance(node, str) and LONE_SURROGATE.search(node):
            raise InvalidInput(f"{where or 'body'}: Must be Unicode text (it holds a lone surrogate \\ud800-\\udfff).")
        if isinstance(node, dict):
            for key, value in reversed(node.items()):
                if LONE_SURROGATE.search(key):
                    raise InvalidInput(f"{where or 'body'}: A key holds a lone surrogate (\\ud800-\\udfff).")
                pending.append((value, f"{where}.{key}" if where else key))
        elif isinstance(node, list):
            pending.extend((value, f"{where}.{i}" if where else str(i)) for i, value in reversed(list(enumerate(node))))
