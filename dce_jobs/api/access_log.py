"""One compact access line per request, at DEBUG: job events are what INFO is for."""

from __future__ import annotations

import logging

from aiohttp.abc import AbstractAccessLogger
from aiohttp.web import BaseRequest, StreamResponse


class DebugAccessLogger(AbstractAccessLogger):
    """`GET /api/jobs 200 3.1 ms` on the aiohttp.access logger, only when DEBUG is on."""

    def log(self, request: BaseRequest, response: StreamResponse, time: float) -> None:
        """Write the request's one line."""
        self.logger.debug("%s %s %d %.1f ms", request.method, request.path_qs, response.status, time * 1000)

    @property
    def enabled(self) -> bool:
        """Skip the work when DEBUG is off."""
        return self.logger.isEnabledFor(logging.DEBUG)
