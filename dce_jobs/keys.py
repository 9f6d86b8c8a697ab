"""Typed keys for the state the app factory puts on the aiohttp application."""

from __future__ import annotations

from aiohttp import web

from .cipher import SecretBox
from .config import Config
from .followups import FollowUps
from .nodes import NodePool
from .retention import Sweeper
from .runner import Runner
from .scheduler import Scheduler
from .schemas.inspect_json import InspectJson
from .schemas.job_list import JobListJson
from .store import Store
from .timings import Timings

CONFIG = web.AppKey("config", Config)
STORE = web.AppKey("store", Store)
SECRET_BOX = web.AppKey("secret_box", SecretBox)
NODES = web.AppKey("nodes", NodePool)
RUNNER = web.AppKey("runner", Runner)
SCHEDULER = web.AppKey("scheduler", Scheduler)
STARTED_AT = web.AppKey("started_at", float)  #: time.time() when the app was built
#: request timings by (method, route template, status class)
API_TIMINGS = web.AppKey("api_timings", dict[tuple[str, str, str], Timings])
FOLLOW_UPS = web.AppKey("follow_ups", FollowUps)
JOB_LIST_JSON = web.AppKey("job_list_json", JobListJson)  #: the job list's encoded fields, kept between requests
#: the Target lists and ended Result entries of inspect, encoded, kept between requests
INSPECT_JSON = web.AppKey("inspect_json", InspectJson)
SWEEPER = web.AppKey("sweeper", Sweeper)
REQUEST_ID = web.RequestKey("request_id", str)
USER = web.RequestKey("user", str)
