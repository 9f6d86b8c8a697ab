"""Checking a start request's targets against the running task containers of the job's service."""

from __future__ import annotations

from .errors import InvalidInput
from .models import Target
from .nodes import TaskContainer


def resolve_targets(service_name: str, requested: list[Target] | None, tasks: list[TaskContainer]) -> list[Target]:
    """Full-id targets, each a running task container of the service on the given node; else InvalidInput."""
    if requested is None:
        if not tasks:
            raise InvalidInput(f"service {service_name} has no running containers", error_id="no_running_containers")
        return [Target(container_id=t.container_id, node_id=t.node_id, slot=t.slot) for t in tasks]
    resolved: list[Target] = []
    seen: set[str] = set()
    for target in requested:
        task = _match(service_name, target.container_id, tasks)
        if task.node_id != target.node_id:
            raise InvalidInput(
                f"container {target.container_id} runs on node {task.node_id}, not {target.node_id}",
                error_id="node_id_mismatch",
            )
        if task.container_id in seen:
            raise InvalidInput(f"Target: container {task.container_id} is listed twice", error_id="duplicate_target")
        seen.add(task.container_id)
        resolved.append(Target(container_id=task.container_id, node_id=task.node_id, slot=task.slot))
    return resolved


def resolve_container_ids(service_name: str, container_ids: list[str], tasks: list[TaskContainer]) -> list[Target]:
    """Targets for container ids (full or 12+ character prefixes), each a running task of the service anywhere."""
    found = [_match(service_name, container_id, tasks) for container_id in container_ids]
    requested = [Target(container_id=t.container_id, node_id=t.node_id) for t in found]
    return resolve_targets(service_name, requested, tasks)


def _match(service_name: str, container_id: str, tasks: list[TaskContainer]) -> TaskContainer:
    found = [t for t in tasks if t.container_id.startswith(container_id)]
    if not found:
        raise InvalidInput(
            f"container {container_id} is not a running task container of service {service_name}",
            error_id="target_not_in_service",
        )
    if len(found) > 1:
        raise InvalidInput(f"container id prefix {container_id} is ambiguous", error_id="container_id_ambiguous")
    return found[0]


def follow_slots(previous: list[Target], tasks: list[TaskContainer]) -> list[Target | None]:
    """Each previous target's current task: the running container of its slot (of its node for a global
    service), recording the container it replaced; None where no task runs there now."""
    by_slot = {t.slot: t for t in tasks if t.slot is not None}
    global_service = bool(tasks) and not by_slot
    by_node = {t.node_id: t for t in tasks} if global_service else {}
    followed: list[Target | None] = []
    for target in previous:
        if target.slot is not None:
            task = by_slot.get(target.slot)
        elif global_service:
            task = by_node.get(target.node_id)
        else:  # recorded before slots were kept: only its own container will do
            task = next((t for t in tasks if t.container_id == target.container_id), None)
        if task is None:
            followed.append(None)
            continue
        moved = task.container_id != target.container_id
        followed.append(
            Target(
                container_id=task.container_id,
                node_id=task.node_id,
                slot=task.slot,
                previous_container_id=target.container_id if moved else "",
            )
        )
    return followed
