"""From what the user typed to what the API wants: a job by name or id, containers to targets, names to labels."""

from __future__ import annotations

from typing import Any

from .http import ApiClient, ApiError, path
from .targets import Names


class UsageError(Exception):
    """The command line asks for something that cannot be (exit code 2, like argparse's own errors)."""


async def list_jobs(api: ApiClient, app: str | None) -> list[dict[str, Any]]:
    """The jobs, of one app when given."""
    jobs: list[dict[str, Any]] = await api.call("GET", path("jobs"), query={"AppName": app} if app else None)
    return jobs


async def find_job(api: ApiClient, job: str, app: str | None) -> dict[str, Any]:
    """The job whose JobId or Name is `job` (in `app` when given); UsageError when none or several match."""
    jobs = await list_jobs(api, app)
    by_id = [j for j in jobs if j.get("JobId") == job]
    matches = by_id or [j for j in jobs if j.get("Name") == job]
    if not matches:
        where = f" in app {app!r}" if app else ""
        raise UsageError(f"no job with the id or name {job!r}{where} (see `dce-jobs jobs`)")
    if len(matches) > 1:
        apps = ", ".join(sorted(repr(j.get("AppName", "")) for j in matches))
        raise UsageError(f"the name {job!r} is a job in several apps ({apps}): say which with --app, or give its JobId")
    return matches[0]


async def containers(api: ApiClient, service: str) -> list[dict[str, Any]]:
    """The running task containers of a service (ContainerId, NodeId, NodeHostname, TaskName, ...)."""
    found: list[dict[str, Any]] = await api.call("GET", path("services", service, "containers"))
    return found


async def names_of(api: ApiClient, service: str) -> Names:
    """Node and task names for the prefixes; empty when the swarm cannot tell now (the ids are shown instead)."""
    try:
        return Names.from_containers(await containers(api, service))
    except ApiError:
        return Names()


def pick_targets(running: list[dict[str, Any]], wanted: list[str], service: str) -> list[dict[str, str]]:
    """Start-request targets for the containers named (full ids or unique prefixes) among the running ones."""
    targets: list[dict[str, str]] = []
    for given in wanted:
        found = [c for c in running if c["ContainerId"].startswith(given)]
        if len(found) != 1:
            why = "is not a running task container of" if not found else "names several containers of"
            raise UsageError(f"container {given!r} {why} service {service!r}")
        targets.append({"ContainerId": found[0]["ContainerId"], "NodeId": found[0]["NodeId"]})
    return targets
