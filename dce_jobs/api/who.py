"""Who makes a request: the user the DCE proxy names in a trusted header, `token`, or `anonymous`."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping

MAX_USER_CHARS = 128
TOKEN_USER = "token"  # noqa: S105 - the name of the token's user, not a token
ANONYMOUS = "anonymous"

_SURROGATE = re.compile("[\ud800-\udfff]")


def sanitize_user(raw: str) -> str:
    """A user name fit for the store, logs and the panel: no control, format or surrogate characters, bounded."""
    # aiohttp decodes header bytes as UTF-8 with surrogateescape: bytes that are not UTF-8 arrive as surrogates
    text = _SURROGATE.sub("", raw)
    kept = "".join(c for c in text if unicodedata.category(c) not in {"Cc", "Cf", "Zl", "Zp", "Cs", "Co", "Cn"})
    return " ".join(kept.split())[:MAX_USER_CHARS]


def identify(headers: Mapping[str, str], *, user_header: str, with_token: bool) -> str:
    """The caller: the proxy's header when one is configured and set, else `token` or `anonymous`.

    The header is trusted only because the DCE proxy in front of the plugin sets it (and drops a client's);
    it stays off unless DCE_JOBS_USER_HEADER names it.
    """
    if user_header:
        user = sanitize_user(headers.get(user_header, ""))
        if user:
            return user
    return TOKEN_USER if with_token else ANONYMOUS
