"""What the client knows of each target: its node and task names, its status, and the label that prefixes its lines."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

FINAL = frozenset({"FINISHED", "CREATE_FAILED", "RUNNING_FAILED"})


@dataclass(frozen=True)
class Names:
    """Node hostnames and task names, from the services API (ContainerId -> (hostname, task), NodeId -> hostname)."""

    tasks: dict[str, tuple[str, str]] = field(default_factory=dict)
    hostnames: dict[str, str] = field(default_factory=dict)

    @classmethod
    def from_containers(cls, containers: list[dict[str, Any]]) -> Names:
        """Names from the answer of GET /api/services/{ServiceName}/containers."""
        tasks = {c["ContainerId"]: (c.get("NodeHostname", ""), c.get("TaskName", "")) for c in containers}
        hostnames = {c["NodeId"]: c.get("NodeHostname", "") for c in containers if c.get("NodeHostname")}
        return cls(tasks, hostnames)

    def label(self, container_id: str, node_id: str) -> tuple[str, str]:
        """(node, task) of a target; a container no longer listed keeps its node's hostname and its short id."""
        hostname, task = self.tasks.get(container_id, ("", ""))
        return hostname or self.hostnames.get(node_id) or node_id[:12] or "?", task or container_id[:12]


@dataclass
class Target:
    """One target of an execution as its `target` events tell it."""

    index: int
    container_id: str = ""
    node_id: str = ""
    node: str = ""
    task: str = ""
    status: str = ""
    exit_code: int | None = None
    end_reason: str | None = None
    start_time: float | None = None
    end_time: float | None = None

    @property
    def label(self) -> str:
        """The prefix of its lines, as `kubectl logs --prefix` does: node/task."""
        return f"{self.node}/{self.task}"

    @property
    def final(self) -> bool:
        """Has it ended (whatever the way)?"""
        return self.status in FINAL

    @property
    def succeeded(self) -> bool:
        """Did it finish with exit code 0?"""
        return self.status == "FINISHED" and self.exit_code == 0

    @property
    def duration_s(self) -> float | None:
        """Seconds from start to end, when both are known."""
        if self.start_time is None or self.end_time is None:
            return None
        return max(0.0, self.end_time - self.start_time)

    def update(self, data: dict[str, Any], names: Names) -> None:
        """Take the fields of a `target` event."""
        self.container_id = str(data.get("ContainerId") or self.container_id)
        self.node_id = str(data.get("NodeId") or self.node_id)
        self.node, self.task = names.label(self.container_id, self.node_id)
        self.status = str(data.get("Status") or self.status)
        for key, attribute in (
            ("ExitCode", "exit_code"),
            ("EndReason", "end_reason"),
            ("StartTime", "start_time"),
            ("EndTime", "end_time"),
        ):
            if data.get(key) is not None:
                setattr(self, attribute, data[key])
