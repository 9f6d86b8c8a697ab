"""GET /metrics: Prometheus text format (the only user of prometheus-client), and the API's own timings."""

from __future__ import annotations

import time
from collections.abc import Iterator

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import Collector, CollectorRegistry

from ..keys import API_TIMINGS, NODES, RUNNER, STORE
from ..timings import Timings
from .middlewares import Handler

routes = web.RouteTableDef()


@web.middleware
async def timing_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Time each request by its route template (never the raw path), method and status class."""
    started = time.perf_counter()
    status = 500
    try:
        response = await handler(request)
        status = response.status
        return response
    except web.HTTPException as e:
        status = e.status
        raise
    finally:
        resource = request.match_info.route.resource
        route = resource.canonical if resource is not None else "unmatched"
        key = (request.method, route, f"{status // 100}xx")
        timings = request.app[API_TIMINGS]
        found = timings.get(key) or timings.setdefault(key, Timings())
        found.observe(time.perf_counter() - started)


@routes.get("/metrics")
async def metrics(request: web.Request) -> web.Response:
    """Run, target and API counters, latency histograms and running gauges in Prometheus' text format."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_Snapshot(request.app))
    return web.Response(body=generate_latest(registry), headers={"Content-Type": CONTENT_TYPE_LATEST})


def _histogram(name: str, doc: str, labels: list[str], series: dict[tuple[str, ...], Timings]) -> Metric:
    family = HistogramMetricFamily(name, doc, labels=labels)
    for values, timings in sorted(series.items()):
        buckets, _, sum_s = timings.histogram()
        family.add_metric(list(values), [(_bound(b), n) for b, n in buckets], sum_s)
    return family


def _bound(bound_s: float) -> str:
    return "+Inf" if bound_s == float("inf") else repr(bound_s)


class _Snapshot(Collector):
    """The app's counters and timings as they are at the scrape."""

    def __init__(self, app: web.Application) -> None:
        self._app = app

    def collect(self) -> Iterator[Metric]:
        runner, nodes = self._app[RUNNER], self._app[NODES]
        api: dict[tuple[str, ...], Timings] = dict(self._app[API_TIMINGS].items())
        started = CounterMetricFamily("dce_jobs_executions_started", "executions started (recovered ones included)")
        started.add_metric([], runner.counts["started", ""])
        yield started
        ended = CounterMetricFamily("dce_jobs_executions_ended", "executions ended, by state", labels=["state"])
        targets = CounterMetricFamily(
            "dce_jobs_targets_ended", "targets ended, by status and end reason", labels=["status", "end_reason"]
        )
        for (kind, what), n in sorted(runner.counts.items()):
            if kind == "ended":
                ended.add_metric([what], n)
            elif kind == "target":
                status, _, reason = what.partition(" ")
                targets.add_metric([status, reason], n)
        yield ended
        yield targets
        yield _histogram(
            "dce_jobs_api_request_seconds",
            "API requests by method, route template and status class",
            ["method", "route", "status"],
            api,
        )
        yield _histogram(
            "dce_jobs_engine_call_seconds",
            "Docker engine calls, by node",
            ["node"],
            {(n,): t for n, t in nodes.timings.items()},
        )
        yield _histogram("dce_jobs_store_call_seconds", "store calls", [], {(): self._app[STORE].timings})
        running = GaugeMetricFamily("dce_jobs_running_executions", "executions running now")
        running.add_metric([], runner.running_executions)
        yield running
        execs = GaugeMetricFamily("dce_jobs_running_execs", "execs created or running now, by node", labels=["node"])
        for node, n in sorted(runner.running_targets().items()):
            execs.add_metric([node], n)
        yield execs
