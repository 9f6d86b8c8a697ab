"""Typed keys for the state the app factory puts on the aiohttp application."""

from __future__ import annotations

from aiohttp import web

from .cipher import SecretBox
from .config import Config
from .nodes import NodePool
from .runner import Runner
from .scheduler import Scheduler
from .store import Store

CONFIG = web.AppKey("config", Config)
STORE = web.AppKey("store", Store)
SECRET_BOX = web.AppKey("secret_box", SecretBox)
NODES = web.AppKey("nodes", NodePool)
RUNNER = web.AppKey("runner", Runner)
SCHEDULER = web.AppKey("scheduler", Scheduler)
REQUEST_ID = web.RequestKey("request_id", str)
