"""The composition root: create_app() builds the service and owns its resources."""

from __future__ import annotations

import logging
import os
import tempfile
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path

from aiohttp import web

from .api import events, executions, health, history, jobs, metrics, openapi, schedules, services, settings, stats
from .api.headers import add_security_headers
from .api.middlewares import auth_middleware, edge_middleware, errors_middleware
from .cipher import SecretBox, load_keys
from .config import Config
from .errors import ConfigError
from .followups import FollowUps
from .hooks import HookSender
from .keys import (
    API_TIMINGS,
    CONFIG,
    FOLLOW_UPS,
    INSPECT_JSON,
    JOB_LIST_JSON,
    NODES,
    RUNNER,
    SCHEDULER,
    SECRET_BOX,
    STARTED_AT,
    STORE,
    SWEEPER,
)
from .leases import Owner
from .nodes import NodePool
from .retention import Sweeper
from .runner import Runner
from .scheduler import Scheduler
from .schemas.inspect_json import InspectJson
from .schemas.job_list import JobListJson
from .store import Store

log = logging.getLogger("dce_jobs.app")

FRONTEND_DIR = Path(__file__).resolve().parent / "frontend"
PLUGIN_JSON = Path(__file__).resolve().parent / "plugin.json"


def open_store(config: Config) -> Store:
    """The configured store: MongoDB when DCE_JOBS_MONGO_URL is set, else SQLite in the data dir."""
    if config.mongo_url:
        from .store.mongo import MongoStore

        return MongoStore(config.mongo_url, db_name=config.mongo_db)
    from .store.sqlite import SqliteStore

    return SqliteStore(config.data_dir / "dce-jobs.sqlite3")


def prepare_data_dir(config: Config) -> None:
    """Make the data dir private (0700) and check it is writable, when the key file or SQLite lives there."""
    if config.secret_keys and config.mongo_url:
        return  # nothing is written there
    path = config.data_dir
    try:
        path.mkdir(mode=0o700, parents=True, exist_ok=True)
        if path.stat().st_mode & 0o077 and path.stat().st_uid == os.getuid():
            path.chmod(0o700)
        fd, probe = tempfile.mkstemp(dir=path, prefix=".write-check-")
        os.close(fd)
        os.unlink(probe)
    except OSError as e:
        raise ConfigError(f"DCE_JOBS_DATA_DIR {path}: cannot write there ({e.strerror or e})") from None


def create_app(
    config: Config,
    *,
    store: Store | None = None,
    nodes: NodePool | None = None,
    clock: Callable[[], float] = time.time,
    owner: Owner | None = None,
) -> web.Application:
    """Build the aiohttp application; resources open on startup and close on cleanup.

    `clock` (epoch seconds) drives the schedules and the leases: tests pass one they can move, and an
    `owner` on the store they pass (this process among replicas).
    """
    prepare_data_dir(config)
    app = web.Application(
        middlewares=[metrics.timing_middleware, errors_middleware, edge_middleware, auth_middleware],
        client_max_size=config.max_body_bytes,
    )
    app.on_response_prepare.append(add_security_headers)
    app[CONFIG] = config
    app[STARTED_AT] = time.time()
    app[API_TIMINGS] = {}
    app[JOB_LIST_JSON] = JobListJson()
    app[INSPECT_JSON] = InspectJson()
    app[SECRET_BOX] = SecretBox(load_keys(config.secret_keys, config.data_dir))
    app[STORE] = store if store is not None else open_store(config)
    app[NODES] = nodes if nodes is not None else NodePool(config)
    owner = owner or Owner(store=app[STORE], renew_s=config.lease_renew_s, expiry_s=config.lease_expiry_s, clock=clock)
    app[RUNNER] = Runner(config=config, store=app[STORE], nodes=app[NODES], box=app[SECRET_BOX], owner=owner)
    app[SCHEDULER] = Scheduler(config=config, store=app[STORE], runner=app[RUNNER], clock=clock)
    app[FOLLOW_UPS] = FollowUps(config=config, store=app[STORE], runner=app[RUNNER], sender=HookSender(config))
    app[SWEEPER] = Sweeper(config=config, store=app[STORE], runner=app[RUNNER])
    app.cleanup_ctx.append(_resources)
    events.track_streams(app)
    for table in (
        health.routes,
        jobs.routes,
        executions.routes,
        events.routes,
        schedules.routes,
        history.routes,
        services.routes,
        settings.routes,
        stats.routes,
        openapi.routes,
        metrics.routes,
    ):
        app.add_routes(table)
    if FRONTEND_DIR.is_dir():
        app.router.add_get("/", _index)
        app.router.add_static("/static/", FRONTEND_DIR, name="static")
    if PLUGIN_JSON.is_file():
        app.router.add_get("/plugin.json", _plugin_json)
    return app


async def _resources(app: web.Application) -> AsyncIterator[None]:
    await app[STORE].open()
    app[RUNNER].recover()
    app[SCHEDULER].start()
    app[FOLLOW_UPS].start()
    app[SWEEPER].start()
    yield
    await app[SCHEDULER].close()
    await app[SWEEPER].close()
    await app[RUNNER].close(grace_s=app[CONFIG].shutdown_grace_s)
    await app[FOLLOW_UPS].close()  # after the runner: the last runs' ends are recorded first
    app[NODES].close()
    await app[STORE].close()


async def _index(request: web.Request) -> web.FileResponse:
    return web.FileResponse(FRONTEND_DIR / "index.html")


async def _plugin_json(request: web.Request) -> web.FileResponse:
    return web.FileResponse(PLUGIN_JSON, headers={"Content-Type": "application/json"})
