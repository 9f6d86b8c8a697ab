"""GET /api/openapi.json: the OpenAPI 3 description of the API, generated from the marshmallow schemas."""

from __future__ import annotations

import json
import re
import weakref
from dataclasses import dataclass
from typing import Any

from aiohttp import web
from apispec import APISpec
from apispec.ext.marshmallow import MarshmallowPlugin
from marshmallow import Schema

from .. import __version__, schemas
from ..schemas import lists
from . import openapi_shapes as shapes

routes = web.RouteTableDef()

OPENAPI_VERSION = "3.0.3"
JSON = "application/json"

#: the built spec per application, serialised once (routes are frozen once the app runs)
_BUILT: weakref.WeakKeyDictionary[web.Application, bytes] = weakref.WeakKeyDictionary()

_ERRORS: dict[int, tuple[str, str]] = {
    400: (
        "BadRequest",
        "invalid request (`invalid_request`, `invalid_json`, `invalid_content_type`, ...), or a Host name not "
        "served without a token (`host_not_allowed`)",
    ),
    401: ("Unauthorized", "the API token is required (`unauthorized`)"),
    403: ("Forbidden", "a browser request from another site to a state-changing route (`cross_site_request`)"),
    404: ("NotFound", "no such job, execution or container (`job_id_not_found`, `executor_id_not_found`, ...)"),
    409: (
        "OwnedElsewhere",
        "the execution is run by another live replica of the service (`execution_owned_elsewhere`, naming it)",
    ),
    413: ("PayloadTooLarge", "the request body is over DCE_JOBS_MAX_BODY_BYTES (`payload_too_large`)"),
    502: ("EngineError", "a Docker engine refused or failed the call; the message carries its words"),
    503: ("Unavailable", "the store cannot be reached, or the server is shutting down"),
}

_PATH_PARAMS = {
    "job_id": "JobId of a job",
    "executor_id": "ExecutorId of an execution (a timestamp like 1496287694.460088)",
    "service_name": "name of a Swarm service",
    "schedule_id": "ScheduleId of a schedule of the job",
}


@dataclass(frozen=True)
class Op:
    """What one route takes and answers."""

    summary: str
    ok: tuple[int, str]  #: success status and the name of its response component
    errors: tuple[int, ...] = ()
    body: str | None = None  #: request schema component
    body_required: bool = False
    query: tuple[tuple[str, str], ...] = ()  #: (name, description)
    headers: tuple[tuple[str, str], ...] = ()  #: (name, description)
    public: bool = False  #: no bearer token needed
    params: type[Schema] | None = None  #: the schema of the query parameters of a list


_COMMON = (400, 401, 404, 503)
_WRITE = (400, 401, 403, 404, 413, 503)
_MAY_BE_EMPTY = frozenset({"StartInput", "EmptyInput", "RetryInput"})
_DESCRIPTION = (
    "Run commands in the task containers of a Docker Swarm service.\n\n"
    "Every POST and PUT must carry `Content-Type: application/json`, also without a body (400 "
    "`invalid_content_type` otherwise: this is what keeps other sites' pages from making a browser start or "
    "edit jobs); a DELETE may omit it. A browser request from another site (`Sec-Fetch-Site` other than "
    "same-origin, or an `Origin` that is not this host) to a state-changing route is 403 `cross_site_request`. "
    "Without an API token only loopback Host names (and DCE_JOBS_ALLOWED_HOSTS) are served: 400 `host_not_allowed`."
)

OPERATIONS: dict[tuple[str, str], Op] = {
    ("GET", "/api/jobs"): Op(
        "List jobs (SecretArgs as masks): filtered, sorted and paged as asked; without parameters (or AppName "
        "only) every job, oldest first, as seed 001 lists them; X-Total-Count is the number of all matches",
        (200, "JobList"),
        (400, 401, 503),
        params=lists.JobListParams,
    ),
    ("GET", "/api/jobs/{job_id}/executors"): Op(
        "One job's executions, newest first (50 a page unless Size says), each with its summary",
        (200, "ExecutionList"),
        _COMMON,
        params=lists.JobExecutionListParams,
    ),
    ("GET", "/api/executors"): Op(
        "Executions across jobs, newest first (50 a page unless Size says)",
        (200, "ExecutionList"),
        (400, 401, 503),
        params=lists.ExecutionListParams,
    ),
    ("GET", "/api/audit"): Op(
        "Who created, edited, deleted, started, stopped, retried or resumed what, newest first; "
        "an edit lists the names of the fields it changed, never their values",
        (200, "AuditList"),
        (400, 401, 503),
        params=lists.AuditListParams,
    ),
    ("POST", "/api/jobs"): Op(
        "Create a job (the only place SecretArgs travel in clear); Warnings when its service is missing",
        (200, "SavedJob"),
        (400, 401, 403, 413, 503),
        body="JobInput",
        body_required=True,
    ),
    ("GET", "/api/jobs/{job_id}"): Op("One job", (200, "Job"), _COMMON),
    ("PUT", "/api/jobs/{job_id}"): Op(
        "Edit a job; optional fields left out keep their stored values (SecretArgs absent keeps every secret); "
        "a SecretArgs entry equal to the stored mask at its position keeps the stored secret; Warnings as on create",
        (200, "SavedJob"),
        _WRITE,
        body="JobInput",
        body_required=True,
    ),
    ("DELETE", "/api/jobs/{job_id}"): Op(
        "Delete a job, its schedules, executions and output (Content-Type may be absent); 409 while another "
        "live replica runs one of its executions",
        (202, "Deleted"),
        (*_COMMON, 403, 409),
    ),
    ("GET", "/api/jobs/{job_id}/schedules"): Op(
        "The job's schedules with NextRunTime and LastFire", (200, "ScheduleList"), _COMMON
    ),
    ("POST", "/api/jobs/{job_id}/schedules"): Op(
        "Add a schedule: RunAt (epoch seconds, one-shot) or Cron (5 fields, in TimeZone)",
        (200, "Schedule"),
        _WRITE,
        body="ScheduleInput",
        body_required=True,
    ),
    ("GET", "/api/jobs/{job_id}/schedules/{schedule_id}"): Op("One schedule", (200, "Schedule"), _COMMON),
    ("PUT", "/api/jobs/{job_id}/schedules/{schedule_id}"): Op(
        "Edit a schedule; fields left out keep their stored values; due times count from the edit on",
        (200, "Schedule"),
        _WRITE,
        body="ScheduleInput",
        body_required=True,
    ),
    ("DELETE", "/api/jobs/{job_id}/schedules/{schedule_id}"): Op(
        "Delete a schedule and its fires (Content-Type may be absent)", (200, "ScheduleDeleted"), (*_COMMON, 403)
    ),
    ("POST", "/api/jobs/{job_id}/start"): Op(
        "Start the job on targets (absent = every running container); Executors[-1] is the new ExecutorId",
        (200, "Job"),
        (*_WRITE, 502),
        body="StartInput",
        body_required=True,
    ),
    ("POST", "/api/jobs/{job_id}/executors/{executor_id}/stop"): Op(
        "Terminate the running execs of an execution; returns its inspect body (409 when another live replica runs it)",
        (200, "Inspect"),
        (*_WRITE, 409),
        body="EmptyInput",
        body_required=True,
    ),
    ("POST", "/api/jobs/{job_id}/executors/{executor_id}/resume"): Op(
        "Let a paused rolling execution start its waiting targets again (a no-op otherwise); returns its inspect body",
        (200, "Inspect"),
        (*_WRITE, 409),
        body="EmptyInput",
        body_required=True,
    ),
    ("POST", "/api/jobs/{job_id}/executors/{executor_id}/retry"): Op(
        "Start again the targets that did not finish with exit code 0 (all with All: true)",
        (200, "Job"),
        (*_WRITE, 502),
        body="RetryInput",
        body_required=True,
    ),
    ("GET", "/api/jobs/{job_id}/inspect/{executor_id}"): Op(
        "Per-container status, exec-inspect fields and the last 64 KiB of output", (200, "Inspect"), _COMMON
    ),
    ("GET", "/api/jobs/{job_id}/log/{executor_id}"): Op(
        "The full stored output as a text/plain attachment (every container under a header without ContainerId)",
        (200, "Log"),
        _COMMON,
        query=(
            ("ContainerId", "one container: its full id or a prefix of 12+ characters"),
            ("Stream", "stdout or stderr: only that stream's bytes (default both, in arrival order)"),
            ("Follow", "1: stream the output as written until the container's status is final (needs ContainerId)"),
            ("Offset", "with ContainerId: the first byte to answer (206), of the Stream's bytes when given"),
            ("Length", "with ContainerId: how many bytes from Offset (206; at most 4 MiB are answered)"),
        ),
    ),
    ("GET", "/api/jobs/{job_id}/executors/{executor_id}/events"): Op(
        "Server-Sent Events of an execution: `target` (status changes), `output` (redacted text with its byte offset), "
        "`summary`, then `end`; each has an id, and `Last-Event-ID` resumes after it with no loss and no duplicate",
        (200, "Events"),
        _COMMON,
        headers=(("Last-Event-ID", "the id of the last event received: resume right after it"),),
    ),
    ("GET", "/api/services"): Op(
        "Services of the swarm with their app (stack namespace), image and replicas", (200, "ServiceList"), (401, 502)
    ),
    ("GET", "/api/settings"): Op(
        "Defaults that apply when a job or start request sets none (timeout, output limit, concurrency)",
        (200, "Settings"),
        (401,),
    ),
    ("GET", "/api/services/{service_name}/containers"): Op(
        "Running task containers of a service", (200, "ContainerList"), (400, 401, 502)
    ),
    ("GET", "/api/stats"): Op(
        "The service's own load: running executions and execs per node, recent engine and store call latency, "
        "threads, uptime, version",
        (200, "ServiceStats"),
        (400, 401),
    ),
    ("GET", "/api/stats/executions"): Op(
        "Executions of the last Days local days (by creation): daily counts by state, success rate, "
        "hour-of-day distribution, duration percentiles; aggregated by the store",
        (200, "ExecutionStats"),
        (400, 401, 503),
        query=(
            ("Days", "1 to 365 (default 30), today included"),
            ("JobId", "only this job's executions"),
            (
                "AppName",
                "only executions started in this app: the AppName the job had when the execution started "
                "(as GET /api/executors filters; a job moved to another app keeps its earlier runs in the old one)",
            ),
            ("TimeZone", "IANA name the days and hours are counted in (default UTC)"),
        ),
    ),
    ("GET", "/api/health"): Op("Store reachable, version", (200, "Health"), (400,), public=True),
    ("GET", "/api/openapi.json"): Op("This document", (200, "OpenApi"), (400,), public=True),
}


@routes.get("/api/openapi.json")
async def openapi_json(request: web.Request) -> web.Response:
    """The OpenAPI document of this app's routes (built on the first request, then served as is)."""
    body = _BUILT.get(request.app)
    if body is None:
        body = json.dumps(build_spec(api_routes(request.app)), ensure_ascii=False).encode()
        _BUILT[request.app] = body
    return web.Response(body=body, content_type=JSON)


def api_routes(app: web.Application) -> list[tuple[str, str]]:
    """(method, path template) of every /api route the app registers (HEAD twins of GETs left out)."""
    found = set()
    for route in app.router.routes():
        path = route.resource.canonical if route.resource is not None else ""
        if path.startswith("/api/") and route.method != "HEAD":
            found.add((route.method, path))
    return sorted(found, key=lambda r: (r[1], r[0]))


def build_spec(api: list[tuple[str, str]]) -> dict[str, Any]:
    """The OpenAPI 3 document for these routes; a route missing from OPERATIONS raises KeyError."""
    plugin = MarshmallowPlugin(schema_name_resolver=_schema_name)
    spec = APISpec(
        title="dce-jobs",
        version=__version__,
        openapi_version=OPENAPI_VERSION,
        plugins=[plugin],
        info={"description": _DESCRIPTION},
    )
    spec.components.security_scheme("bearer", {"type": "http", "scheme": "bearer"})
    _add_schemas(spec, plugin)
    _add_responses(spec)
    for method, path in api:
        operation = _operation(method, path, OPERATIONS[(method, path)])
        params = OPERATIONS[(method, path)].params
        if params is not None:
            assert plugin.converter is not None
            operation["parameters"] += plugin.converter.schema2parameters(params, location="query")
        spec.path(path=path, operations={method.lower(): operation})
    document = spec.to_dict()
    document["security"] = [{"bearer": []}]
    ecma: dict[str, Any] = _ecma_patterns(document)
    return ecma


def _ecma_patterns(node: Any) -> Any:
    """Python's end anchor \\Z as ECMA-262's $ (which, without the m flag, matches only at the very end)."""
    if isinstance(node, dict):
        return {
            k: v.replace("\\Z", "$") if k == "pattern" and isinstance(v, str) else _ecma_patterns(v)
            for k, v in node.items()
        }
    if isinstance(node, list):
        return [_ecma_patterns(v) for v in node]
    return node


def _schema_name(schema: Any) -> str:
    name = schema.__name__ if isinstance(schema, type) else type(schema).__name__
    return name.removesuffix("Schema")


def _add_schemas(spec: APISpec, plugin: MarshmallowPlugin) -> None:
    spec.components.schema("JobInput", schema=schemas.JobSchema)
    spec.components.schema("StartInput", schema=schemas.StartSchema)
    spec.components.schema("RetryInput", schema=schemas.RetrySchema)
    spec.components.schema("EmptyInput", schema=schemas.EmptySchema)
    spec.components.schema("Error", schema=schemas.ErrorSchema)
    spec.components.schema("ScheduleInput", schema=schemas.ScheduleSchema)
    spec.components.schema("Schedule", shapes.schedule_schema(plugin))
    spec.components.schema("Job", shapes.job_schema(plugin))
    spec.components.schema("SavedJob", shapes.saved_job_schema(plugin))
    spec.components.schema("Service", schema=schemas.ServiceSchema)
    spec.components.schema("Settings", schema=schemas.SettingsSchema)
    spec.components.schema("Result", schema=schemas.ResultSchema)
    spec.components.schema("Inspect", schema=schemas.InspectSchema)
    spec.components.schema("Container", schema=schemas.ContainerSchema)
    spec.components.schema("Health", schema=schemas.HealthSchema)
    spec.components.schema("ServiceStats", schema=schemas.ServiceStatsSchema)
    spec.components.schema("ExecutionStats", schema=schemas.ExecutionStatsSchema)
    spec.components.schema("ExecutionEntry", schema=lists.ExecutionEntrySchema)
    spec.components.schema("AuditEntry", schema=lists.AuditEntrySchema)


def _add_responses(spec: APISpec) -> None:
    for name, description in _ERRORS.values():
        spec.components.response(name, _json_response(description, "Error"))
    spec.components.response("Job", _json_response("the job", "Job"))
    spec.components.response("JobList", _counted(_json_list("the jobs", "Job")))
    spec.components.response("ExecutionList", _counted(_json_list("the executions", "ExecutionEntry")))
    spec.components.response("AuditList", _counted(_json_list("the audit entries", "AuditEntry")))
    spec.components.response("SavedJob", _json_response("the saved job, with Warnings when there are any", "SavedJob"))
    spec.components.response("ServiceList", _json_list("the services, by app then name", "Service"))
    spec.components.response("Settings", _json_response("the effective defaults", "Settings"))
    spec.components.response("Inspect", _json_response("the execution", "Inspect"))
    spec.components.response("ContainerList", _json_list("running task containers", "Container"))
    spec.components.response("Health", _json_response("store and version", "Health"))
    spec.components.response("ServiceStats", _json_response("the service's load", "ServiceStats"))
    spec.components.response("ExecutionStats", _json_response("execution statistics", "ExecutionStats"))
    deleted = shapes.object_schema({"JobId": {"type": "string"}})
    spec.components.response("Deleted", {"description": "deleted", "content": {JSON: {"schema": deleted}}})
    spec.components.response("Schedule", _json_response("the schedule", "Schedule"))
    spec.components.response("ScheduleList", _json_list("the job's schedules, oldest first", "Schedule"))
    gone = shapes.object_schema({"ScheduleId": {"type": "string"}})
    spec.components.response("ScheduleDeleted", {"description": "deleted", "content": {JSON: {"schema": gone}}})
    log = {"description": "the stored output", "content": {"text/plain": {"schema": {"type": "string"}}}}
    log["headers"] = {"Content-Disposition": {"schema": {"type": "string"}, "description": "attachment; filename"}}
    spec.components.response("Log", log)
    events = {"description": "the event stream", "content": {"text/event-stream": {"schema": shapes.sse_event()}}}
    spec.components.response("Events", events)
    part = {"description": "one byte range of one container's output", "content": log["content"]}
    part["headers"] = {"Content-Range": {"schema": {"type": "string"}, "description": "bytes first-last/total"}}
    spec.components.response("LogRange", part)
    unsatisfiable = _json_response("the range starts past the end (Content-Range: bytes */total)", "Error")
    unsatisfiable["headers"] = {"Content-Range": {"schema": {"type": "string"}, "description": "bytes */total"}}
    spec.components.response("RangeNotSatisfiable", unsatisfiable)
    spec.components.response("OpenApi", {"description": "OpenAPI 3 document", "content": {JSON: {"schema": {}}}})


def _json_response(description: str, schema: str) -> dict[str, Any]:
    return {"description": description, "content": {JSON: {"schema": {"$ref": f"#/components/schemas/{schema}"}}}}


def _json_list(description: str, schema: str) -> dict[str, Any]:
    items = {"type": "array", "items": {"$ref": f"#/components/schemas/{schema}"}}
    return {"description": description, "content": {JSON: {"schema": items}}}


def _counted(response: dict[str, Any]) -> dict[str, Any]:
    total = {"schema": {"type": "integer"}, "description": "how many entries match in all (every page)"}
    return {**response, "headers": {"X-Total-Count": total}}


def _operation(method: str, path: str, op: Op) -> dict[str, Any]:
    status, response = op.ok
    operation: dict[str, Any] = {
        "operationId": _operation_id(method, path),
        "summary": op.summary,
        "tags": [path.split("/")[2]],
        "parameters": _parameters(path, op),
        "responses": {str(status): response, **{str(code): _ERRORS[code][0] for code in sorted(op.errors)}},
    }
    if path == "/api/health":
        operation["responses"]["503"] = {**_json_response("the store cannot be reached", "Health")}
    if path.startswith("/api/jobs/{job_id}/log/"):
        operation["parameters"].append(_RANGE_HEADER)
        operation["responses"]["206"] = "LogRange"
        operation["responses"]["416"] = "RangeNotSatisfiable"
    if op.public:
        operation["security"] = []
    if op.body is not None:
        content = {JSON: {"schema": {"$ref": f"#/components/schemas/{op.body}"}}}
        operation["requestBody"] = {"required": op.body_required, "content": content}
        if op.body in _MAY_BE_EMPTY:
            operation["requestBody"]["description"] = (
                "`{}` or an empty body (still with Content-Type: application/json)"
            )
    return operation


_RANGE_HEADER = {
    "name": "Range",
    "in": "header",
    "schema": {"type": "string"},
    "description": "with ContainerId, one range: bytes=first-last, bytes=first- or bytes=-count (206; at most 4 MiB)",
}


def _operation_id(method: str, path: str) -> str:
    words = [w.strip("{}") for w in path.split("/")[2:] if w]
    return "_".join([method.lower(), *(re.sub(r"[^A-Za-z0-9]", "_", w) for w in words)])


def _parameters(path: str, op: Op) -> list[dict[str, Any]]:
    params: list[dict[str, Any]] = [
        {"name": name, "in": "path", "required": True, "schema": {"type": "string"}, "description": _PATH_PARAMS[name]}
        for name in re.findall(r"{(\w+)}", path)
    ]
    params += [{"name": name, "in": "query", "schema": {"type": "string"}, "description": d} for name, d in op.query]
    params += [{"name": name, "in": "header", "schema": {"type": "string"}, "description": d} for name, d in op.headers]
    return params
