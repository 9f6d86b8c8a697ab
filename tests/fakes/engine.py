"""A fake Docker engine (docker-py's APIClient surface that dce-jobs uses), passed in through NodePool's factory.

Processes are simulated by a small command language on the exec's argv, so the runner's lifecycle can be tested
in milliseconds without root or dockerd: `echo WORDS...`, `err WORDS...` (to stderr), `sleep SECONDS`,
`exit CODE`, `fail` (the runtime cannot start it: Pid 0, exit 127), `wait GATE` (until the test sets
`swarm.gate(GATE)`), joined with `;` as separate words (e.g.
["echo", "a", ";", "sleep", "5"]). Output goes through a real socket pair in Docker's multiplexed frame format.
"""

from __future__ import annotations

import itertools
import socket
import struct
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import docker.errors
import requests.exceptions

NODE_ID = "fakenode1"
SERVICE = "fake_web"  #: the service whose tasks are the fake containers
STACK_LABEL = "com.docker.stack.namespace"
_ids = itertools.count(1)


def _hex_id(prefix: str) -> str:
    return f"{prefix}{next(_ids):x}".ljust(64, "0")


@dataclass
class FakeExec:
    """One exec: its argv, environment and the simulated process."""

    exec_id: str
    container_id: str
    argv: list[str]
    env: list[str]
    running: bool = False
    exit_code: int | None = None
    pid: int = 0
    started_at: float = 0.0
    killed: threading.Event = field(default_factory=threading.Event)
    kill_code: int = 0


def service(name: str, *, app: str = "", image: str = "busybox:1.36", running: int = 1, desired: int | None = 1) -> Any:
    """A service as `GET /services?status=true` returns it (desired None: a global service)."""
    mode = {"Global": {}} if desired is None else {"Replicated": {"Replicas": desired}}
    labels = {STACK_LABEL: app} if app else {}
    status = {"RunningTasks": running, "DesiredTasks": running if desired is None else desired}
    return {
        "ID": f"{abs(hash(name)):025d}"[:25],
        "Spec": {
            "Name": name,
            "Labels": labels,
            "Mode": mode,
            "TaskTemplate": {"ContainerSpec": {"Image": f"{image}@sha256:{'0' * 64}"}},
        },
        "ServiceStatus": status,
    }


class FakeSwarm:
    """State shared by every client it builds (pass it as NodePool's `client_factory`): services, the task
    containers of SERVICE, execs, and counters the tests read.

    `unreachable = True` makes each call fail like an engine that is down; `hang` (a threading.Event) makes
    each call block until it is set, like a hung engine.
    """

    def __init__(self, *services: dict[str, Any], containers: int = 4) -> None:
        self.containers = [_hex_id("c") for _ in range(containers)]
        self.services = list(services) or [service(SERVICE, app="fake", running=containers, desired=containers)]
        self.execs: dict[str, FakeExec] = {}
        self.lock = threading.Lock()
        self.in_flight = 0  #: engine calls being served right now
        self.max_in_flight = 0
        self.running = 0  #: simulated processes running right now
        self.max_running = 0
        self.call_delay_s = 0.0  #: how long every engine call takes
        self.failing: set[str] = set()  #: containers whose processes exit 1 at once
        self.unreachable = False
        self.hang: threading.Event | None = None
        self.clients: list[FakeClient] = []
        self.gates: dict[str, threading.Event] = {}

    def gate(self, name: str) -> threading.Event:
        """The gate a `wait NAME` command waits for (set it to let those processes go on)."""
        with self.lock:
            return self.gates.setdefault(name, threading.Event())

    def __call__(self, **kwargs: Any) -> FakeClient:
        """NodePool's client_factory."""
        client = FakeClient(self, kwargs.get("base_url", ""))
        self.clients.append(client)
        return client

    factory = __call__

    def started(self) -> list[FakeExec]:
        """Execs whose process was started, in start order."""
        return sorted((e for e in self.execs.values() if e.started_at), key=lambda e: e.started_at)


class FakeClient:
    """The subset of docker.APIClient dce-jobs calls."""

    def __init__(self, swarm: FakeSwarm, base_url: str = "") -> None:
        self._swarm = swarm
        self.base_url = base_url
        self.closed = False

    def _io(self) -> None:
        if self._swarm.hang is not None:
            self._swarm.hang.wait()
        if self._swarm.unreachable:
            raise requests.exceptions.ConnectionError(f"fake: cannot connect to {self.base_url}")

    def _enter(self) -> None:
        self._io()
        with self._swarm.lock:
            self._swarm.in_flight += 1
            self._swarm.max_in_flight = max(self._swarm.max_in_flight, self._swarm.in_flight)
        if self._swarm.call_delay_s:
            time.sleep(self._swarm.call_delay_s)

    def _leave(self) -> None:
        with self._swarm.lock:
            self._swarm.in_flight -= 1

    # -- swarm view ---------------------------------------------------------------------------------

    def info(self) -> dict[str, Any]:
        self._io()
        return {"Swarm": {"NodeID": NODE_ID}}

    def ping(self) -> bool:
        return True

    def close(self) -> None:
        self.closed = True

    def inspect_service(self, name: str) -> dict[str, Any]:
        self._io()
        if name != SERVICE:
            raise docker.errors.NotFound(f"service {name} not found")
        return {"ID": "svc"}

    def tasks(self, filters: dict[str, Any]) -> list[dict[str, Any]]:
        self.inspect_service(filters["service"])  # a real engine answers 404 for a service filter naming none
        return [
            {
                "ID": f"task{slot}",
                "NodeID": NODE_ID,
                "Slot": slot,
                "Status": {"State": "running", "ContainerStatus": {"ContainerID": cid}},
            }
            for slot, cid in enumerate(self._swarm.containers, start=1)
        ]

    def nodes(self) -> list[dict[str, Any]]:
        return [{"ID": NODE_ID, "Description": {"Hostname": "fake-node1"}}]

    def services(self, filters: dict[str, Any] | None = None, status: bool | None = None) -> list[dict[str, Any]]:
        self._io()
        prefix = (filters or {}).get("name", "")
        found = [s for s in self._swarm.services if s["Spec"]["Name"].startswith(prefix)]
        return [s if status else {k: v for k, v in s.items() if k != "ServiceStatus"} for s in found]

    def inspect_node(self, node_id: str) -> dict[str, Any]:
        return {"ID": node_id, "Description": {"Hostname": "fake-node1"}, "Status": {"Addr": "127.0.0.1"}}

    def inspect_container(self, container_id: str) -> dict[str, Any]:
        return {"State": {"Running": container_id in self._swarm.containers}}

    # -- execs --------------------------------------------------------------------------------------

    def exec_create(self, container_id: str, cmd: list[str], **kwargs: Any) -> dict[str, str]:
        self._enter()
        try:
            if container_id not in self._swarm.containers:
                raise docker.errors.NotFound(f"No such container: {container_id}")
            exec_id = _hex_id("e")
            env = list(kwargs.get("environment") or [])
            self._swarm.execs[exec_id] = FakeExec(exec_id, container_id, list(cmd), env)
            return {"Id": exec_id}
        finally:
            self._leave()

    def exec_inspect(self, exec_id: str) -> dict[str, Any]:
        self._enter()
        try:
            e = self._swarm.execs[exec_id]
            return {
                "ExitCode": e.exit_code,
                "Running": e.running,
                "Pid": e.pid,
                "ProcessConfig": {"entrypoint": e.argv[0], "arguments": e.argv[1:]},
                "ContainerID": e.container_id,
            }
        finally:
            self._leave()

    def exec_start(self, exec_id: str, tty: bool = False) -> bytes:
        """The stop script (`sh -c SCRIPT dce-jobs-kill SIGNAL MARKER`): signal the marked processes."""
        e = self._swarm.execs[exec_id]
        signal, marker = e.argv[-2], e.argv[-1]
        hit = [x for x in self._swarm.execs.values() if x.running and marker in x.env]
        for target in hit:
            target.kill_code = 143 if signal == "TERM" else 137
            target.killed.set()
        e.exit_code = 0
        return str(len(hit)).encode()

    def _url(self, template: str, *args: str) -> str:
        return template.format(*args)

    def _post_json(self, url: str, **_: Any) -> Any:
        self._enter()
        try:
            exec_id = url.split("/")[2]
            return self._start(self._swarm.execs[exec_id])
        finally:
            self._leave()

    def _get_raw_response_socket(self, response: Any) -> socket.socket:
        return response  # _post_json already answered with our end of the socket pair

    def _start(self, e: FakeExec) -> socket.socket:
        ours, theirs = socket.socketpair()
        e.running, e.pid, e.started_at = True, next(_ids), time.monotonic()
        with self._swarm.lock:
            self._swarm.running += 1
            self._swarm.max_running = max(self._swarm.max_running, self._swarm.running)
        threading.Thread(target=self._process, args=(e, theirs), daemon=True).start()
        return ours

    def _process(self, e: FakeExec, sock: socket.socket) -> None:
        code = 0
        try:
            if e.container_id in self._swarm.failing:
                _send(sock, 2, b"failing container\n")
                code = 1
            for command in [] if code else _commands(e.argv):
                name, args = command[0], command[1:]
                if name in ("echo", "err"):
                    _send(sock, 1 if name == "echo" else 2, (" ".join(args) + "\n").encode())
                elif name == "sleep" and e.killed.wait(float(args[0])):
                    code = e.kill_code
                    break
                elif name == "wait" and _wait_gate(self._swarm.gate(args[0]), e.killed):
                    code = e.kill_code
                    break
                elif name == "exit":
                    code = int(args[0])
                    break
                elif name == "fail":
                    _send(sock, 2, b"OCI runtime exec failed: executable file not found\n")
                    e.pid, code = 0, 127
                    break
        finally:
            e.exit_code, e.running = code, False
            with self._swarm.lock:
                self._swarm.running -= 1
            sock.close()


def _wait_gate(gate: threading.Event, killed: threading.Event) -> bool:
    """Wait until the gate opens (False) or the process is killed (True)."""
    while not gate.wait(0.02):
        if killed.is_set():
            return True
    return False


def _commands(argv: list[str]) -> list[list[str]]:
    commands: list[list[str]] = [[]]
    for word in argv:
        if word == ";":
            commands.append([])
        else:
            commands[-1].append(word)
    return [c for c in commands if c]


def _send(sock: socket.socket, stream: int, data: bytes) -> None:
    try:
        sock.sendall(struct.pack(">BxxxL", stream, len(data)) + data)
    except OSError:
        pass
