"""Python handle on the real Docker Swarm lab of scripts/swarm-lab (for integration tests)."""

from __future__ import annotations

import json
import os
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

LAB_SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "swarm-lab" / "lab"
DEFAULT_LAB_DIR = "/tmp/dce-jobs-lab"
DEFAULT_IMAGE = "dce-jobs/busybox:test"
NODE_ACTIONS = frozenset({"stop", "kill", "start", "pause", "resume", "partition", "heal"})


class LabError(RuntimeError):
    """A `lab` command failed; the message carries its error output."""


@dataclass(frozen=True)
class LabNode:
    """One dockerd of the lab (a swarm node)."""

    index: int
    node_id: str
    hostname: str
    role: str
    addr: str
    unix_url: str
    tcp_url: str
    netns: str


def _run(
    lab_dir: str, *args: str, nodes: int | None = None, extra: dict[str, str] | None = None, timeout: float = 180
) -> str:
    """Run `lab ARGS...` for lab_dir and return its stdout; raise LabError on failure."""
    env = dict(os.environ, DCE_LAB_DIR=lab_dir, **(extra or {}))
    if nodes is not None:
        env["DCE_LAB_NODES"] = str(nodes)
    try:
        proc = subprocess.run(
            [str(LAB_SCRIPT), *args],
            env=env,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        raise LabError(f"lab {' '.join(args)}: no result after {timeout:.0f} s") from exc
    if proc.returncode != 0:
        tail = "\n".join(proc.stderr.strip().splitlines()[-15:])
        raise LabError(f"lab {' '.join(args)} failed (exit {proc.returncode}):\n{tail}")
    return proc.stdout


def _read_env(path: Path) -> dict[str, str]:
    """Parse a KEY=VALUE file."""
    env: dict[str, str] = {}
    for line in path.read_text().splitlines():
        key, sep, value = line.partition("=")
        if sep:
            env[key.strip()] = value.strip()
    return env


def _in_slot(lab_dir: str, prefix: str | None, net: str | None) -> tuple[str, str | None, str | None]:
    """Move a lab to slot DCE_JOBS_TEST_LAB_SLOT (1-9), so that two test runs on one machine never share a lab.

    The slot suffixes the folder and the netns prefix, and becomes the third octet of the lab's /24.
    """
    slot = os.environ.get("DCE_JOBS_TEST_LAB_SLOT", "")
    if not slot:
        return lab_dir, prefix, net
    if slot not in set("123456789"):
        raise LabError(f"DCE_JOBS_TEST_LAB_SLOT must be one digit 1-9, not {slot!r}")
    base = (prefix or "dcl")[:3]
    octets = (net or "10.214.0").split(".")
    return f"{lab_dir}-{slot}", f"{base}{slot}", ".".join([*octets[:2], slot])


class Lab:
    """Handle on a running lab (scripts/swarm-lab)."""

    def __init__(self, lab_dir: str) -> None:
        """Attach to the lab already running in lab_dir (reads nodes.json and lab.env)."""
        self.lab_dir = lab_dir
        base = Path(lab_dir)
        raw: list[dict[str, Any]] = json.loads((base / "nodes.json").read_text())
        env = _read_env(base / "lab.env")
        self.image: str = env.get("DCE_LAB_IMAGE", DEFAULT_IMAGE)
        self.nodes: list[LabNode] = sorted(
            (
                LabNode(
                    index=int(n["index"]),
                    node_id=n["NodeID"],
                    hostname=n["hostname"],
                    role=n["role"],
                    addr=n["addr"],
                    unix_url=n["unix"],
                    tcp_url=n["tcp"],
                    netns=n["netns"],
                )
                for n in raw
            ),
            key=lambda node: node.index,
        )
        self.manager: LabNode = next(n for n in self.nodes if n.role == "manager")

    @classmethod
    def up(
        cls, *, nodes: int = 3, lab_dir: str | None = None, prefix: str | None = None, net: str | None = None
    ) -> Lab:
        """Run `lab up` (tearing down leftovers) and return a handle; cleans up if it fails.

        `prefix` (netns/link names) and `net` (the lab's /24, e.g. "10.215.0") let several labs coexist.
        """
        lab_dir = lab_dir or os.environ.get("DCE_LAB_DIR") or DEFAULT_LAB_DIR
        lab_dir, prefix, net = _in_slot(lab_dir, prefix, net)
        extra = {k: v for k, v in (("DCE_LAB_PREFIX", prefix), ("DCE_LAB_NET", net)) if v}
        try:
            _run(lab_dir, "up", nodes=nodes, extra=extra)
        except LabError:
            try:
                _run(lab_dir, "down")
            except LabError:
                pass
            raise
        return cls(lab_dir)

    def down(self, *, timeout_s: float = 180) -> None:
        """Run `lab down`: nothing of the lab is left afterwards (hundreds of containers need a longer timeout_s)."""
        _run(self.lab_dir, "down", timeout=timeout_s)

    def __enter__(self) -> Lab:
        """Use the lab as a context manager (down on exit)."""
        return self

    def __exit__(self, *exc: object) -> None:
        """Tear the lab down."""
        self.down()

    def node(self, index: int) -> LabNode:
        """Node by its 1-based index (node1 = manager)."""
        for node in self.nodes:
            if node.index == index:
                return node
        raise KeyError(f"lab has no node{index} (nodes: {len(self.nodes)})")

    def node_action(self, index: int, action: str) -> None:
        """Fault injection: stop/kill/start/pause/resume/partition/heal node `index`."""
        if action not in NODE_ACTIONS:
            raise ValueError(f"unknown node action {action!r} (one of {sorted(NODE_ACTIONS)})")
        self.node(index)
        _run(self.lab_dir, "node", str(index), action)

    def create_service(self, name: str, replicas: int, *, node: int | None = None, app: str | None = None) -> None:
        """Create a busybox service and wait until all its replicas run (optionally on one node, in a stack app)."""
        args = ["service", "create", name, str(replicas)]
        if node is not None:
            args += ["--node", str(node)]
        if app is not None:
            args += ["--app", app]
        _run(self.lab_dir, *args)

    def remove_service(self, name: str) -> None:
        """Remove a service (waits, bounded, until reachable nodes dropped its containers)."""
        _run(self.lab_dir, "service", "rm", name)

    def tasks(self, service: str) -> list[dict[str, Any]]:
        """Running tasks of a service per the manager ([] if no such service): ContainerId, NodeId, Slot, TaskId."""
        import docker  # docker SDK 7.x; imported here so the module loads without it

        client = docker.DockerClient(base_url=self.manager.unix_url, timeout=10)
        try:
            raw = client.api.tasks(filters={"service": service, "desired-state": "running"})
        except docker.errors.NotFound:
            return []
        finally:
            client.close()
        out: list[dict[str, Any]] = []
        for task in raw:
            status = task.get("Status") or {}
            if status.get("State") != "running":
                continue
            out.append(
                {
                    "ContainerId": (status.get("ContainerStatus") or {}).get("ContainerID", ""),
                    "NodeId": task.get("NodeID", ""),
                    "Slot": task.get("Slot"),
                    "TaskId": task["ID"],
                }
            )
        return sorted(out, key=lambda t: (t["Slot"] or 0, t["TaskId"]))
