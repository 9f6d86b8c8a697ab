"""Configuration: one frozen Config read once from DCE_JOBS_* variables and checked at start."""

from __future__ import annotations

import ipaddress
import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

from .errors import ConfigError

T = TypeVar("T")


@dataclass(frozen=True)
class Config:
    """Everything the service reads from its environment."""

    host: str = "127.0.0.1"
    port: int = 8080
    data_dir: Path = Path("./data")
    mongo_url: str = field(default="", repr=False)
    mongo_db: str = "dce_jobs"
    api_token: str = field(default="", repr=False)
    allow_anonymous: bool = False
    #: request header the DCE proxy sets to the signed-in user ("" = none trusted)
    user_header: str = ""
    allowed_hosts: tuple[str, ...] = ()  #: Host names served without a token, besides the loopback ones
    frame_ancestors: str = "'self'"  #: CSP frame-ancestors: who may embed the panel in a frame
    secret_keys: tuple[str, ...] = field(default=(), repr=False)
    docker_host: str = ""  #: engine of the manager / the node the service runs on ("" = docker's env)
    node_endpoints: tuple[tuple[str, str], ...] = ()  #: NodeId or hostname -> engine URL
    node_docker_port: int = 2375
    node_concurrency: int = 8
    global_concurrency: int = 64
    max_running: int = 2000  #: execs running at once in all; further targets wait in STARTING
    connect_timeout_s: float = 5.0
    docker_timeout_s: float = 30.0
    output_limit_bytes: int = 16 * 1024 * 1024
    output_chunk_bytes: int = 64 * 1024
    output_flush_s: float = 0.5
    output_buffer_bytes: int = 16 * 1024 * 1024  #: output of all targets queued for the store at most
    shutdown_grace_s: float = 10.0
    events_ping_s: float = 15.0  #: keep-alive comment interval of idle event streams
    default_timeout_s: float = 24 * 3600.0  #: for jobs without Timeout; 0 = none
    max_body_bytes: int = 1024 * 1024
    log_level: str = "INFO"
    missed_fire_s: float = 300.0  #: a fire missed while no replica ran still runs at start-up if younger than this
    scheduler_tick_s: float = 1.0  #: how often due schedules are looked for
    lease_renew_s: float = 10.0  #: how often a process renews its lease in the store (and adopts dead ones' runs)
    lease_expiry_s: float = 30.0  #: a lease not renewed for this long lets other processes adopt its runs
    hook_secret: str = field(default="", repr=False)  #: signs every hook body (HMAC-SHA256)
    hook_allowed_hosts: tuple[str, ...] = ()  #: the hosts a StatusHook may name (empty: any)
    hook_timeout_s: float = 10.0  #: one delivery attempt, connect to answer
    hook_backoff_s: float = 2.0  #: before the second attempt; doubled after each failure
    hook_max_backoff_s: float = 300.0
    hook_retry_window_s: float = 3600.0  #: no attempt starts later than this after the event
    follow_up_poll_s: float = 5.0  #: how often the store's pending follow-ups are looked at (besides wake-ups)
    retention_days: float = 0.0  #: executions older than this are swept (0 = kept for ever)
    keep_executions: int = 0  #: per job, only the newest N executions are kept (0 = all)
    sweep_interval_s: float = 3600.0

    @property
    def is_loopback(self) -> bool:
        """True when `host` only listens on the loopback interface."""
        if self.host == "localhost":
            return True
        try:
            return ipaddress.ip_address(self.host).is_loopback
        except ValueError:
            return False


def _parse_number(name: str, raw: str, cast: Callable[[str], T], *, minimum: T, maximum: T) -> T:
    try:
        value = cast(raw)
    except ValueError:
        kind = "an integer" if cast is int else "a number"
        raise ConfigError(f"{name}={raw!r} is not {kind}") from None
    if not minimum <= value <= maximum:  # type: ignore[operator]
        raise ConfigError(f"{name}={value} is out of range [{minimum}, {maximum}]")
    return value


def _parse_bool(name: str, raw: str) -> bool:
    lowered = raw.strip().lower()
    if lowered in {"1", "true", "yes", "on"}:
        return True
    if lowered in {"0", "false", "no", "off", ""}:
        return False
    raise ConfigError(f"{name}={raw!r} is not a boolean (use 1 or 0)")


def _parse_endpoints(name: str, raw: str) -> tuple[tuple[str, str], ...]:
    pairs: list[tuple[str, str]] = []
    for item in filter(None, (part.strip() for part in raw.split(","))):
        node, sep, url = item.partition("=")
        if not sep or not node.strip() or "://" not in url:
            raise ConfigError(f"{name}: {item!r} is not NODE=scheme://address")
        pairs.append((node.strip(), url.strip()))
    return tuple(pairs)


_HOST_RE = re.compile(r"^(?:[a-z0-9]([a-z0-9-]*[a-z0-9])?)(?:\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*\Z|^\[[0-9a-f:.]+\]\Z")
_SCHEME_SOURCE_RE = re.compile(r"^[a-z][a-z0-9+.-]*:\Z")
_HOST_SOURCE_RE = re.compile(
    r"^(?:[a-z][a-z0-9+.-]*://)?(?:\*|(?:\*\.)?[a-z0-9-]+(?:\.[a-z0-9-]+)*|\[[0-9a-f:.]+\])(?::(?:[0-9]{1,5}|\*))?"
    r"(?:/[^\s;,']*)?\Z"
)


def _parse_hosts(name: str, raw: str) -> tuple[str, ...]:
    hosts = []
    for item in filter(None, (part.strip().lower().rstrip(".") for part in raw.split(","))):
        if ":" in item and not item.startswith("["):
            try:
                item = f"[{ipaddress.IPv6Address(item)}]"  # as a Host header writes it
            except ValueError:
                pass
        if not _HOST_RE.match(item):
            raise ConfigError(f"{name}: {item!r} is not a host name or IP address (no scheme, port or path)")
        hosts.append(item)
    return tuple(hosts)


def _parse_frame_ancestors(name: str, raw: str) -> str:
    sources = raw.split()
    if not sources:
        raise ConfigError(f"{name} is empty (use 'none' to forbid every frame)")
    for source in sources:
        lowered = source.lower()
        if lowered in {"'self'", "'none'"} or _SCHEME_SOURCE_RE.match(lowered) or _HOST_SOURCE_RE.match(lowered):
            continue
        raise ConfigError(f"{name}: {source!r} is not a CSP source ('self', 'none', https:, https://host[:port])")
    if "'none'" in (s.lower() for s in sources) and len(sources) > 1:
        raise ConfigError(f"{name}: 'none' cannot be combined with other sources")
    return " ".join(sources)


def _parse_keys(name: str, raw: str) -> tuple[str, ...]:
    keys = tuple(k.strip() for k in raw.split(",") if k.strip())
    if raw.strip() and not keys:
        raise ConfigError(f"{name} holds no key")
    return keys


def from_env(env: Mapping[str, str] | None = None, **overrides: object) -> Config:
    """Read and validate the DCE_JOBS_* variables; raise ConfigError naming the bad one."""
    env = os.environ if env is None else env
    values: dict[str, object] = {}

    def take(key: str, attr: str, parse: Callable[[str, str], object]) -> None:
        name = f"DCE_JOBS_{key}"
        if name in env:
            values[attr] = parse(name, env[name])

    def ints(lo: int, hi: int) -> Callable[[str, str], int]:
        return lambda n, r: _parse_number(n, r, int, minimum=lo, maximum=hi)

    def floats(lo: float, hi: float) -> Callable[[str, str], float]:
        return lambda n, r: _parse_number(n, r, float, minimum=lo, maximum=hi)

    take("HOST", "host", lambda n, r: r.strip() or "127.0.0.1")
    take("PORT", "port", ints(0, 65535))
    take("DATA_DIR", "data_dir", lambda n, r: Path(r))
    take("MONGO_URL", "mongo_url", lambda n, r: r.strip())
    take("MONGO_DB", "mongo_db", lambda n, r: r.strip() or "dce_jobs")
    take("API_TOKEN", "api_token", lambda n, r: r.strip())
    take("ALLOW_ANONYMOUS", "allow_anonymous", _parse_bool)
    take("USER_HEADER", "user_header", _parse_header_name)
    take("ALLOWED_HOSTS", "allowed_hosts", _parse_hosts)
    take("FRAME_ANCESTORS", "frame_ancestors", _parse_frame_ancestors)
    take("SECRET_KEY", "secret_keys", _parse_keys)
    take("DOCKER_HOST", "docker_host", lambda n, r: r.strip())
    take("NODE_ENDPOINTS", "node_endpoints", _parse_endpoints)
    take("NODE_DOCKER_PORT", "node_docker_port", ints(1, 65535))
    take("NODE_CONCURRENCY", "node_concurrency", ints(1, 256))
    take("GLOBAL_CONCURRENCY", "global_concurrency", ints(1, 1024))
    take("MAX_RUNNING", "max_running", ints(1, 100_000))
    take("CONNECT_TIMEOUT_S", "connect_timeout_s", floats(0.1, 300))
    take("DOCKER_TIMEOUT_S", "docker_timeout_s", floats(1, 3600))
    take("OUTPUT_LIMIT_BYTES", "output_limit_bytes", ints(1024, 1 << 34))
    take("OUTPUT_BUFFER_BYTES", "output_buffer_bytes", ints(64 * 1024, 1 << 32))
    take("SHUTDOWN_GRACE_S", "shutdown_grace_s", floats(0, 3600))
    take("EVENTS_PING_S", "events_ping_s", floats(0.01, 3600))
    take("DEFAULT_TIMEOUT_S", "default_timeout_s", floats(0, 30 * 24 * 3600))
    take("MAX_BODY_BYTES", "max_body_bytes", ints(1024, 1 << 30))
    take("LOG_LEVEL", "log_level", _parse_log_level)
    take("MISSED_FIRE_S", "missed_fire_s", floats(0, 30 * 24 * 3600))
    take("SCHEDULER_TICK_S", "scheduler_tick_s", floats(0.05, 60))
    take("LEASE_RENEW_S", "lease_renew_s", floats(0.1, 3600))
    take("LEASE_EXPIRY_S", "lease_expiry_s", floats(0.3, 24 * 3600))
    take("HOOK_SECRET", "hook_secret", lambda n, r: r.strip())
    take("HOOK_ALLOWED_HOSTS", "hook_allowed_hosts", _parse_hosts)
    take("HOOK_TIMEOUT_S", "hook_timeout_s", floats(0.1, 300))
    take("HOOK_BACKOFF_S", "hook_backoff_s", floats(0.01, 3600))
    take("HOOK_MAX_BACKOFF_S", "hook_max_backoff_s", floats(0.01, 24 * 3600))
    take("HOOK_RETRY_WINDOW_S", "hook_retry_window_s", floats(0, 7 * 24 * 3600))
    take("FOLLOW_UP_POLL_S", "follow_up_poll_s", floats(0.01, 3600))
    take("RETENTION_DAYS", "retention_days", floats(0, 100 * 365))
    take("KEEP_EXECUTIONS", "keep_executions", ints(0, 1_000_000))
    take("SWEEP_INTERVAL_S", "sweep_interval_s", floats(0.01, 7 * 24 * 3600))
    values.update({k: v for k, v in overrides.items() if v is not None})
    config = Config(**values)  # type: ignore[arg-type]
    if config.lease_expiry_s < 2 * config.lease_renew_s:
        raise ConfigError(
            f"DCE_JOBS_LEASE_EXPIRY_S={config.lease_expiry_s:g} must be at least twice "
            f"DCE_JOBS_LEASE_RENEW_S={config.lease_renew_s:g}, or a live process would lose its runs to another"
        )
    return config


def _parse_log_level(name: str, raw: str) -> str:
    level = raw.strip().upper()
    if level not in {"DEBUG", "INFO", "WARNING", "ERROR"}:
        raise ConfigError(f"{name}={raw!r} is not one of DEBUG, INFO, WARNING, ERROR")
    return level


_HEADER_NAME_RE = re.compile(r"^[A-Za-z0-9!#$%&'*+.^_`|~-]{1,64}\Z")


def _parse_header_name(name: str, raw: str) -> str:
    header = raw.strip()
    if header and not _HEADER_NAME_RE.match(header):
        raise ConfigError(f"{name}={raw!r} is not an HTTP header name")
    return header
