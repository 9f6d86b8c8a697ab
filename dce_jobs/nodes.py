"""NodeId -> Docker engine: the only place that builds docker clients, plus the Swarm view."""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections.abc import AsyncIterator, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from typing import Any, TypeVar
from urllib.parse import urlsplit

import docker
import docker.errors
import requests.exceptions
from docker import APIClient as Engine
from docker.tls import TLSConfig

from .config import Config
from .errors import ContainerUnavailable, EngineError, InvalidInput, NodeUnreachable
from .timings import Timings

__all__ = ["Engine", "EngineHandle", "NodePool", "ServiceInfo", "TaskContainer", "engine_errors", "ping_engine"]

log = logging.getLogger("dce_jobs.nodes")
T = TypeVar("T")
ClientFactory = Callable[..., Engine]

#: the label `docker stack deploy` puts on a stack's services; DCE calls a stack an app
STACK_LABEL = "com.docker.stack.namespace"


@dataclass(frozen=True)
class TaskContainer:
    """A running task container of a Swarm service."""

    container_id: str
    node_id: str
    hostname: str
    task_id: str
    task_name: str
    slot: int | None
    state: str


@dataclass(frozen=True)
class ServiceInfo:
    """A Swarm service as the job form offers it: its app (stack), replicas and image."""

    service_id: str
    name: str
    app: str  #: the stack namespace label ("" when the service is not part of a stack)
    image: str  #: without the @sha256 digest the engine pins
    running: int
    desired: int | None  #: None for a global service whose count the engine did not report


def _service_info(raw: dict[str, Any]) -> ServiceInfo:
    spec = raw.get("Spec") or {}
    image = str(((spec.get("TaskTemplate") or {}).get("ContainerSpec") or {}).get("Image", ""))
    status = raw.get("ServiceStatus") or {}
    desired = status.get("DesiredTasks")
    if desired is None:
        desired = ((spec.get("Mode") or {}).get("Replicated") or {}).get("Replicas")
    return ServiceInfo(
        service_id=str(raw.get("ID", "")),
        name=str(spec.get("Name", "")),
        app=str((spec.get("Labels") or {}).get(STACK_LABEL, "")),
        image=image.split("@", 1)[0],
        running=int(status.get("RunningTasks") or 0),
        desired=None if desired is None else int(desired),
    )


@contextmanager
def engine_errors(what: str) -> Iterator[None]:
    """Translate docker-py and requests exceptions into domain errors, at this one boundary."""
    try:
        yield
    except docker.errors.NotFound as e:
        raise ContainerUnavailable(f"{what}: {e.explanation or e}") from e
    except docker.errors.APIError as e:
        if e.status_code == 409:
            raise ContainerUnavailable(f"{what}: {e.explanation or e}") from e
        raise EngineError(f"{what}: {e.explanation or e}") from e
    except (requests.exceptions.ConnectionError, requests.exceptions.Timeout, ConnectionError, TimeoutError) as e:
        raise NodeUnreachable(f"{what}: engine unreachable ({type(e).__name__}: {_short(e)})") from e
    except docker.errors.DockerException as e:
        raise NodeUnreachable(f"{what}: {_short(e)}") from e


def _short(error: BaseException) -> str:
    text = str(error)
    return text if len(text) <= 300 else text[:297] + "..."


def _tls_from_env() -> TLSConfig | bool:
    if not os.environ.get("DOCKER_TLS_VERIFY"):
        return False
    cert_path = os.environ.get("DOCKER_CERT_PATH") or os.path.expanduser("~/.docker")
    return TLSConfig(
        client_cert=(os.path.join(cert_path, "cert.pem"), os.path.join(cert_path, "key.pem")),
        ca_cert=os.path.join(cert_path, "ca.pem"),
        verify=True,
    )


class EngineHandle:
    """One node's engine: every call runs in the call pool within the node's and the global slots, and docker
    errors are translated once, here (the slots bound engine work in flight, never a process's running time)."""

    def __init__(self, pool: NodePool, node_id: str, client: Engine) -> None:
        self.node_id = node_id
        self.client = client
        self._pool = pool

    async def call(self, fn: Callable[[Engine], T], *, what: str, slot: bool = True) -> T:
        """Run `fn(client)` in a thread; EngineError (or a subclass) naming `what` when the engine fails."""

        def translated() -> T:
            started = time.perf_counter()
            try:
                with engine_errors(what):
                    return fn(self.client)
            finally:
                self._pool.timings_of(self.node_id).observe(time.perf_counter() - started)

        if not slot:
            return await self._pool.run_blocking(translated)
        async with self._pool.slot(self.node_id):
            return await self._pool.run_blocking(translated)

    @property
    def stream_pool(self) -> ThreadPoolExecutor:
        """Threads for output streams asyncio cannot read itself (TLS engines)."""
        return self._pool.tls_streams


class NodePool:
    """Docker engines by Swarm NodeId, verified and cached; blocking calls run in bounded threads."""

    def __init__(self, config: Config, *, client_factory: ClientFactory | None = None) -> None:
        self._config = config
        self._factory: ClientFactory = client_factory or Engine
        # slotted calls (at most global_concurrency at once) plus a few unslotted ones (pings, the Swarm view)
        self._calls = ThreadPoolExecutor(max_workers=config.global_concurrency + 4, thread_name_prefix="docker-call")
        #: readers of TLS output streams, which asyncio cannot take over from docker-py (one per running target)
        self.tls_streams = ThreadPoolExecutor(max_workers=config.global_concurrency, thread_name_prefix="docker-tls")
        self._global_slots = asyncio.Semaphore(config.global_concurrency)
        self._node_slots: dict[str, asyncio.Semaphore] = {}
        self._manager: Engine | None = None
        self._manager_node_id: str | None = None
        self._engines: dict[str, EngineHandle] = {}
        self._locks: dict[str, asyncio.Lock] = {}
        self._endpoints = dict(config.node_endpoints)
        #: engine call durations per NodeId (in the engine's thread, slot waits left out)
        self.timings: dict[str, Timings] = {}

    def timings_of(self, node_id: str) -> Timings:
        """The call durations of one node (created on its first call)."""
        found = self.timings.get(node_id)
        if found is None:
            found = self.timings.setdefault(node_id, Timings())
        return found

    def threads(self) -> dict[str, int]:
        """Threads started and calls queued in the engine call pool."""
        return {"call_threads": len(self._calls._threads), "call_queue": self._calls._work_queue.qsize()}

    async def run_blocking(self, fn: Callable[[], T]) -> T:
        """Run a short blocking docker-py call in the bounded call pool."""
        return await asyncio.get_running_loop().run_in_executor(self._calls, fn)

    @asynccontextmanager
    async def slot(self, node_id: str) -> AsyncIterator[None]:
        """Hold one of the node's engine-call slots and one of the global ones."""
        node = self._node_slots.setdefault(node_id, asyncio.Semaphore(self._config.node_concurrency))
        async with self._global_slots, node:
            yield

    def close(self) -> None:
        """Close every client and stop the thread pools."""
        clients = [self._manager, *(h.client for h in self._engines.values())]
        for engine in {id(e): e for e in clients if e is not None}.values():
            engine.close()
        self._engines.clear()
        self._calls.shutdown(wait=False, cancel_futures=True)
        self.tls_streams.shutdown(wait=False, cancel_futures=True)

    def _build(self, base_url: str | None) -> Engine:
        """A client for one engine; connect attempts are bounded by connect_timeout_s on TCP."""
        config = self._config
        if base_url is None:
            base_url = config.docker_host or os.environ.get("DOCKER_HOST") or "unix:///var/run/docker.sock"
        timeout: Any = config.docker_timeout_s
        tls: TLSConfig | bool = False
        if urlsplit(base_url).scheme in {"tcp", "http", "https"}:
            timeout = (config.connect_timeout_s, config.docker_timeout_s)
            tls = _tls_from_env()
        client = self._factory(base_url=base_url, version="1.41", timeout=timeout, tls=tls)
        if urlsplit(base_url).scheme == "unix":
            # requests looks for a .netrc file and scans the environment for proxies on every call (about 0.24 ms
            # of CPU, 3 to 4 calls a target), none of which applies to a socket file; an engine over TCP keeps them
            client.trust_env = False
        return client

    async def manager(self) -> Engine:
        """The client of the engine the service was pointed at (a Swarm manager)."""
        if self._manager is None:
            self._manager = self._build(None)
        return self._manager

    async def _on_manager(self, fn: Callable[[Engine], T], *, what: str) -> T:
        manager = await self.manager()
        return await EngineHandle(self, "", manager).call(fn, what=what, slot=False)

    async def running_tasks(self, service_name: str) -> list[TaskContainer]:
        """Running task containers of a service (desired state running: a dead node's stale tasks are left out)."""

        def fetch_tasks(manager: Engine) -> list[dict[str, Any]]:
            try:  # the engine answers 404 for a service filter naming no service (by name, id or id prefix)
                tasks: list[dict[str, Any]] = manager.tasks(
                    filters={"service": service_name, "desired-state": "running"}
                )
            except docker.errors.NotFound:
                raise InvalidInput(f"service {service_name} does not exist", error_id="service_not_found") from None
            return tasks

        def fetch_hostnames(manager: Engine) -> dict[str, str]:
            return {n["ID"]: n["Description"]["Hostname"] for n in manager.nodes()}

        # the two calls at once: a start waits for the slower one only, not for both in turn
        tasks, hostnames = await asyncio.gather(
            self._on_manager(fetch_tasks, what="list tasks on the manager"),
            self._on_manager(fetch_hostnames, what="list nodes on the manager"),
        )
        found = []
        for task in tasks:
            status = task.get("Status", {})
            container_id = status.get("ContainerStatus", {}).get("ContainerID")
            if status.get("State") != "running" or not container_id:
                continue
            found.append(
                TaskContainer(
                    container_id=container_id,
                    node_id=task["NodeID"],
                    hostname=hostnames.get(task["NodeID"], ""),
                    task_id=task["ID"],
                    task_name=f"{service_name}.{task.get('Slot') or task['NodeID']}",
                    slot=task.get("Slot"),
                    state=status.get("State", ""),
                )
            )
        return sorted(found, key=lambda t: (t.slot or 0, t.container_id))

    async def services(self) -> list[ServiceInfo]:
        """Every service of the swarm with its app, image and running/desired task counts, by app then name."""
        raw = await self._on_manager(lambda m: m.services(status=True), what="list services on the manager")
        return sorted(map(_service_info, raw), key=lambda s: (s.app, s.name))

    async def find_service(self, name: str) -> ServiceInfo | None:
        """The service of this name, or None when the swarm has none (engine failures raise EngineError)."""
        raw = await self._on_manager(
            lambda m: m.services(filters={"name": name}, status=True), what=f"look up service {name}"
        )
        # the engine's name filter matches prefixes: keep the exact name only
        found = [info for info in map(_service_info, raw) if info.name == name]
        return found[0] if found else None

    async def engine_for(self, node_id: str) -> EngineHandle:
        """The verified engine of one node (cached); NodeUnreachable when it cannot be reached or is another node."""
        if node_id in self._engines:
            return self._engines[node_id]
        async with self._locks.setdefault(node_id, asyncio.Lock()):
            if node_id not in self._engines:
                self._engines[node_id] = EngineHandle(self, node_id, await self._connect(node_id))
        return self._engines[node_id]

    def forget(self, node_id: str) -> None:
        """Drop a cached engine so the next use resolves and verifies it again."""
        handle = self._engines.pop(node_id, None)
        if handle is not None and handle.client is not self._manager:
            handle.client.close()

    async def _connect(self, node_id: str) -> Engine:
        manager = await self.manager()
        if node_id in self._endpoints:
            engine = self._build(self._endpoints[node_id])
        else:
            node = await self.run_blocking(lambda: self._inspect_node(manager, node_id))
            hostname = node["Description"]["Hostname"]
            if hostname in self._endpoints:
                engine = self._build(self._endpoints[hostname])
            elif await self._local_node_id(manager) == node_id:
                engine = manager
            else:
                address = node["Status"].get("Addr", "")
                if not address or address == "0.0.0.0":  # noqa: S104  (a node that advertises no address)
                    raise NodeUnreachable(f"node {node_id} has no address in the Swarm; set DCE_JOBS_NODE_ENDPOINTS")
                engine = self._build(f"tcp://{address}:{self._config.node_docker_port}")
        actual = await self.run_blocking(lambda: self._node_id_of(engine, f"engine of node {node_id}"))
        if actual != node_id:
            if engine is not manager:
                engine.close()
            raise NodeUnreachable(f"the engine reached for node {node_id} belongs to node {actual or 'none'}; refusing")
        return engine

    async def _local_node_id(self, manager: Engine) -> str:
        if self._manager_node_id is None:
            self._manager_node_id = await self.run_blocking(lambda: self._node_id_of(manager, "manager engine"))
        return self._manager_node_id

    @staticmethod
    def _inspect_node(manager: Engine, node_id: str) -> dict[str, Any]:
        with engine_errors(f"node {node_id}"):
            try:
                return manager.inspect_node(node_id)  # type: ignore[no-any-return]
            except docker.errors.NotFound:
                raise NodeUnreachable(f"node {node_id} is not in the Swarm") from None

    @staticmethod
    def _node_id_of(engine: Engine, what: str) -> str:
        with engine_errors(what):
            return str(engine.info().get("Swarm", {}).get("NodeID", ""))


async def ping_engine(nodes: NodePool, node_id: str, *, timeout_s: float) -> None:
    """Raise NodeUnreachable unless the node's engine answers within timeout_s (a hung engine counts)."""

    async def ping() -> None:
        engine = await nodes.engine_for(node_id)  # may reconnect and verify: inside the same time bound
        # unslotted: a node busy with many calls is not a lost node
        await engine.call(lambda client: client.ping(), what=f"ping node {node_id}", slot=False)

    try:
        await asyncio.wait_for(ping(), timeout=timeout_s)
    except TimeoutError:
        raise NodeUnreachable(f"the engine of node {node_id} did not answer within {timeout_s:g} s") from None
