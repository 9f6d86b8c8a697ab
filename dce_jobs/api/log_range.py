"""A log download's byte range: an HTTP `Range: bytes=a-b` / `bytes=a-` / `bytes=-n`, or Offset and Length."""

from __future__ import annotations

import re
from collections.abc import Mapping

from ..errors import InvalidInput
from ..store.ranges import ByteRange

_RANGE = re.compile(r"^bytes=(?:(\d{1,18})-(\d{0,18})|-(\d{1,18}))\Z")
_INT = re.compile(r"^\d{1,18}\Z")


def wanted(header: str | None, query: Mapping[str, str]) -> ByteRange | None:
    """The range a request asks for (None: the whole log); InvalidInput when malformed or both forms are given."""
    offset, length = query.get("Offset"), query.get("Length")
    if header is not None and (offset is not None or length is not None):
        raise InvalidInput("give either a Range header or Offset/Length, not both", error_id="invalid_range")
    if header is not None:
        return _from_header(header)
    if offset is None and length is None:
        return None
    first = _number("Offset", offset) if offset is not None else 0
    if length is None:
        return ByteRange(first=first)
    size = _number("Length", length)
    if size == 0:
        raise InvalidInput("Length: must be at least 1", error_id="invalid_range")
    return ByteRange(first=first, last=first + size - 1)


def _from_header(header: str) -> ByteRange:
    text = header.strip().replace(" ", "")
    if "," in text:
        raise InvalidInput("Range: one range only", error_id="invalid_range")
    match = _RANGE.match(text)
    if match is None:
        raise InvalidInput(
            f"Range: bytes=first-last, bytes=first- or bytes=-count, not {header[:60]!r}", error_id="invalid_range"
        )
    first, last, suffix = match.groups()
    if suffix is not None:
        return ByteRange(suffix=int(suffix))
    if last and int(last) < int(first):
        raise InvalidInput(f"Range: the last byte comes before the first in {header[:60]!r}", error_id="invalid_range")
    return ByteRange(first=int(first), last=int(last) if last else None)


def _number(name: str, value: str) -> int:
    if not _INT.match(value):
        raise InvalidInput(f"{name}: a whole number of bytes, not {value[:40]!r}", error_id="invalid_range")
    return int(value)
