"""A fake Docker engine for NodePool's `client_factory`: the swarm calls the service view makes, in memory.

Only the docker-py APIClient methods dce-jobs calls on a manager to list and find services are answered, with
the engine's own shapes. `swarm.unreachable = True` makes each call fail like an engine that is down;
`swarm.hang` (a threading.Event) makes each call block until it is set, like a hung engine.
"""

from __future__ import annotations

import threading
from typing import Any

import requests.exceptions

STACK_LABEL = "com.docker.stack.namespace"


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
    """Pass as `NodePool(config, client_factory=swarm)`; every client it builds sees the same services."""

    def __init__(self, *services: dict[str, Any]) -> None:
        self.services = list(services)
        self.unreachable = False
        self.hang: threading.Event | None = None
        self.clients: list[FakeEngine] = []

    def __call__(self, **kwargs: Any) -> FakeEngine:
        client = FakeEngine(self, kwargs.get("base_url", ""))
        self.clients.append(client)
        return client


class FakeEngine:
    """One client of the fake swarm."""

    def __init__(self, swarm: FakeSwarm, base_url: str) -> None:
        self._swarm = swarm
        self.base_url = base_url
        self.closed = False

    def _io(self) -> None:
        if self._swarm.hang is not None:
            self._swarm.hang.wait()
        if self._swarm.unreachable:
            raise requests.exceptions.ConnectionError(f"fake: cannot connect to {self.base_url}")

    def services(self, filters: dict[str, Any] | None = None, status: bool | None = None) -> list[dict[str, Any]]:
        self._io()
        prefix = (filters or {}).get("name", "")
        found = [s for s in self._swarm.services if s["Spec"]["Name"].startswith(prefix)]
        return [s if status else {k: v for k, v in s.items() if k != "ServiceStatus"} for s in found]

    def close(self) -> None:
        self.closed = True
