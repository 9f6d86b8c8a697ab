"""Typed keys for the state the app factory puts on the aiohttp application."""

from __future__ import annotations

from typing import TYPE_CHECKING

from aiohttp import web

from .cipher import SecretBox
from .config import Config
from .store import Store

if TYPE_CHECKING:
    pass

CONFIG = web.AppKey("config", Config)
STORE = web.AppKey("store", Store)
SECRET_BOX = web.AppKey("secret_box", SecretBox)
NODES = web.AppKey("nodes", "NodePool")
RUNNER = web.AppKey("runner", "Runner")
REQUEST_ID = web.RequestKey("request_id", str)
