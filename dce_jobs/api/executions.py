"""Routes of one job's executions: start, inspect, log download."""

from __future__ import annotations

import logging
from urllib.parse import quote

from aiohttp import web

from .. import jobs, schemas
from ..errors import InvalidInput, NotFound
from ..keys import INSPECT_JSON, RUNNER, STORE, USER
from ..models import STREAM_NAMES, ContainerResult, Job, summarize
from ..store.ranges import ByteRange
from . import log_range
from .body import read_json
from .events import follow_log, follow_wanted
from .respond import json_response, text_bytes

log = logging.getLogger("dce_jobs.api")
routes = web.RouteTableDef()

INSPECT_TAIL_BYTES = 64 * 1024


@routes.post("/api/jobs/{job_id}/start")
async def start(request: web.Request) -> web.Response:
    """Start the job on the given targets (all running containers when Target is absent)."""
    store = request.app[STORE]
    job = await store.get_job(request.match_info["job_id"])
    payload = await read_json(request, optional=True)
    targets, timeout_s, rolling = schemas.load_start(payload, job)
    params = schemas.load_start_params(payload)
    jobs.check_runnable(job)
    execution = await request.app[RUNNER].start(
        job, targets, timeout_s=timeout_s, rolling=rolling, params=params, started_by=request[USER]
    )
    log.info(
        "job %s started execution %s on %d targets (timeout %s)",
        job.job_id,
        execution.executor_id,
        len(execution.targets),
        "none" if execution.timeout_s is None else f"{execution.timeout_s:g} s",
    )
    return json_response(schemas.dump_job(job.replace(executors=(*job.executors, execution.executor_id))))


@routes.post("/api/jobs/{job_id}/executors/{executor_id}/stop")
async def stop(request: web.Request) -> web.Response:
    """Terminate the running execs of an execution (a no-op when it has finished); returns its inspect body."""
    store = request.app[STORE]
    job = await store.get_job(request.match_info["job_id"])
    schemas.load_empty(await read_json(request, optional=True))
    executor_id = request.match_info["executor_id"]
    await store.get_execution(job.job_id, executor_id)
    # the entry first: a store that cannot take it refuses the stop before anything is stopped
    await store.add_audit(jobs.audit_entry("stop", request[USER], job, executor_id=executor_id))
    await request.app[RUNNER].stop(job.job_id, executor_id)
    log.info("job %s execution %s stopped on request", job.job_id, request.match_info["executor_id"])
    return await _inspect_body(request, job.job_id, request.match_info["executor_id"])


@routes.post("/api/jobs/{job_id}/executors/{executor_id}/resume")
async def resume(request: web.Request) -> web.Response:
    """Let a paused rolling execution start its waiting targets again; returns its inspect body."""
    store = request.app[STORE]
    job = await store.get_job(request.match_info["job_id"])
    schemas.load_empty(await read_json(request, optional=True))
    executor_id = request.match_info["executor_id"]
    await store.get_execution(job.job_id, executor_id)
    await store.add_audit(jobs.audit_entry("resume", request[USER], job, executor_id=executor_id))
    await request.app[RUNNER].resume(job.job_id, executor_id)
    return await _inspect_body(request, job.job_id, request.match_info["executor_id"])


@routes.post("/api/jobs/{job_id}/executors/{executor_id}/retry")
async def retry(request: web.Request) -> web.Response:
    """Start again the targets that did not finish with exit code 0 (all with {"All": true})."""
    store = request.app[STORE]
    job = await store.get_job(request.match_info["job_id"])
    everything, follow_slots = schemas.load_retry(await read_json(request, optional=True))
    jobs.check_runnable(job)
    execution = await request.app[RUNNER].retry(
        job,
        request.match_info["executor_id"],
        everything=everything,
        follow_slots=follow_slots,
        started_by=request[USER],
    )
    log.info(
        "job %s retried execution %s as %s on %d targets",
        job.job_id,
        request.match_info["executor_id"],
        execution.executor_id,
        len(execution.targets),
    )
    return json_response(schemas.dump_job(job.replace(executors=(*job.executors, execution.executor_id))))


@routes.get("/api/jobs/{job_id}/inspect/{executor_id}")
async def inspect(request: web.Request) -> web.Response:
    """The seed's inspect body: Target and per-container Result with the tail of each output."""
    job = await request.app[STORE].get_job(request.match_info["job_id"])
    return await _inspect_body(request, job.job_id, request.match_info["executor_id"])


async def _inspect_body(request: web.Request, job_id: str, executor_id: str) -> web.Response:
    store = request.app[STORE]
    encoder = request.app[INSPECT_JSON]
    execution = await store.get_execution(job_id, executor_id)
    # read before the results: a run pauses only once the failure behind it is stored, so the results read
    # next show it (read after, a pause could come with results from before it)
    paused = request.app[RUNNER].is_paused(job_id, executor_id)
    results = await store.list_results(job_id, executor_id)
    targets = [execution.targets[r.index] if r.index < len(execution.targets) else None for r in results]
    kept = encoder.kept(results, targets)
    with_output = [
        r.index for r in results if r.status.value in {"RUNNING", "RUNNING_FAILED", "FINISHED"} and r.index not in kept
    ]
    tails = await store.tail_outputs(job_id, executor_id, with_output, max_bytes=INSPECT_TAIL_BYTES)
    views = []
    for result, target in zip(results, targets, strict=True):
        output, cut = None, False
        if result.index in tails:
            data, cut = tails[result.index]
            output = _from_line_start(data, cut).decode("utf-8", errors="replace")
        views.append(schemas.ResultView(result, target, output, cut))
    summary = summarize(results, paused=paused)
    deliveries = tuple(t for t in await store.list_follow_ups(job_id, executor_id) if t.kind == "hook")
    text = encoder.encode(schemas.InspectView(execution, summary, views, deliveries), kept)
    return web.Response(body=text_bytes(text), content_type="application/json", charset="utf-8")


def _from_line_start(data: bytes, cut: bool) -> bytes:
    """A cut tail without its partial first line (kept when the tail holds no line break at all)."""
    if not cut:
        return data
    newline = data.find(b"\n")
    return data[newline + 1 :] if 0 <= newline < len(data) - 1 else data


@routes.get("/api/jobs/{job_id}/log/{executor_id}")
async def download_log(request: web.Request) -> web.StreamResponse:
    """Stream one container's full output (or every container's, each under a header) as a file; Follow=1 follows."""
    store = request.app[STORE]
    job = await store.get_job(request.match_info["job_id"])
    execution = await store.get_execution(job.job_id, request.match_info["executor_id"])
    results = await store.list_results(job.job_id, execution.executor_id)
    container_id = request.query.get("ContainerId", "").strip()
    stream = _stream(request.query.get("Stream", ""))
    follow = follow_wanted(request)
    if follow and not container_id:
        raise InvalidInput("Follow: needs a ContainerId (one container's output is followed)")
    wanted = log_range.wanted(request.headers.get("Range"), request.query)
    if wanted is not None and follow:
        raise InvalidInput("Follow and a byte range cannot be combined", error_id="invalid_range")
    if wanted is not None:
        if not container_id:
            raise InvalidInput("a byte range needs one container: add ContainerId", error_id="range_needs_container")
        return await _log_range(request, job, execution.executor_id, _find(results, container_id), wanted, stream)
    if container_id:
        results = [_find(results, container_id)]
    response = web.StreamResponse(
        headers={
            "Content-Type": "text/plain; charset=utf-8",
            "Content-Disposition": _disposition(job, execution.executor_id, container_id and results[0].container_id),
        }
    )
    await response.prepare(request)
    try:
        if follow:
            await follow_log(request, response, execution, results[0].index, stream)
            await response.write_eof()
            return response
        for result in results:
            if not container_id:
                await response.write(_log_header(result).encode())
            async for chunk in store.iter_output(job.job_id, execution.executor_id, result.index, stream=stream):
                await response.write(chunk)
            if not container_id:
                await response.write(b"\n")
        await response.write_eof()
    except ConnectionResetError:  # the client closed the download: a normal end, not a failure
        log.debug("log download %s/%s: the client went away", job.job_id, execution.executor_id)
    return response


async def _log_range(
    request: web.Request, job: Job, executor_id: str, result: ContainerResult, wanted: ByteRange, stream: int | None
) -> web.Response:
    """206 with one byte range of one container's output (of the selected stream's bytes when Stream is given)."""
    part = await request.app[STORE].read_output_range(
        job.job_id, executor_id, result.index, wanted=wanted, stream=stream
    )
    return web.Response(
        status=206,
        body=part.data,
        headers={
            "Content-Type": "text/plain; charset=utf-8",
            "Content-Range": f"bytes {part.start}-{part.start + len(part.data) - 1}/{part.total}",
            "Content-Disposition": _disposition(job, executor_id, result.container_id),
        },
    )


def _stream(name: str) -> int | None:
    """The output stream a log download asks for: stdout, stderr, or both in arrival order (None)."""
    if not name:
        return None
    if name not in STREAM_NAMES:
        raise InvalidInput(f"Stream: must be stdout or stderr, not {name[:40]!r}")
    return STREAM_NAMES[name]


#: the panel's words for each status, so the whole-log file reads in DCE's language too
_STATUS_ZH = {
    "STARTING": "准备中",
    "CREATED": "已创建",
    "RUNNING": "运行中",
    "CREATE_FAILED": "创建失败",
    "RUNNING_FAILED": "运行失败",
    "FINISHED": "已结束",
}


def _log_header(result: ContainerResult) -> str:
    """`===== container <id> on node <node>: FINISHED, exit code 0 · 已结束，退出码 0 =====` (English, then Chinese)."""
    status = result.status.value
    english = f"container {result.container_id} on node {result.node_id}: {status}"
    chinese = _STATUS_ZH.get(status, status)
    if result.exit_code is not None:
        english += f", exit code {result.exit_code}"
        chinese += f"，退出码 {result.exit_code}"
    return f"===== {english} · {chinese} =====\n"


def _find(results: list[ContainerResult], container_id: str) -> ContainerResult:
    matches = (
        [r for r in results if r.container_id.startswith(container_id)]
        if len(container_id) >= 12
        else [r for r in results if r.container_id == container_id]
    )
    if len(matches) != 1:
        raise NotFound(container_id, error_id="container_id_not_found")
    return matches[0]


def _disposition(job: Job, executor_id: str, container_id: str) -> str:
    parts = [job.name, executor_id] + ([container_id[:12]] if container_id else ["all"])
    name = "_".join(parts) + ".log"
    ascii_name = "".join(c if c.isascii() and (c.isalnum() or c in "._-") else "_" for c in name)
    return f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(name, errors='replace')}"
