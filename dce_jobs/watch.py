"""Watching the nodes that stream output: a lost engine (killed, cut off, hung) fails its targets."""

from __future__ import annotations

import asyncio
import logging
import time
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager

from .errors import DceJobsError
from .nodes import NodePool, ping_engine
from .stream import OutputStream

log = logging.getLogger("dce_jobs.watch")


class NodeWatch:
    """One pinger per node with running targets; after lost_s without an answer their streams are aborted."""

    def __init__(self, nodes: NodePool, *, interval_s: float, lost_s: float, ping_timeout_s: float) -> None:
        self._nodes = nodes
        self.interval_s = interval_s
        self.lost_s = lost_s
        self._ping_timeout_s = ping_timeout_s
        self._streams: dict[str, set[OutputStream]] = defaultdict(set)
        self._pingers: dict[str, asyncio.Task[None]] = {}

    @contextmanager
    def watching(self, node_id: str, stream: OutputStream) -> Iterator[None]:
        """Watch the node of `stream` while the block runs."""
        self._streams[node_id].add(stream)
        if node_id not in self._pingers or self._pingers[node_id].done():
            self._pingers[node_id] = asyncio.create_task(self._ping(node_id), name=f"watch {node_id}")
        try:
            yield
        finally:
            self._streams[node_id].discard(stream)

    async def _ping(self, node_id: str) -> None:
        lost_since: float | None = None
        while self._streams[node_id]:
            await asyncio.sleep(self.interval_s)
            try:
                await ping_engine(self._nodes, node_id, timeout_s=self._ping_timeout_s)
                lost_since = None
            except DceJobsError as e:
                lost_since = lost_since or time.monotonic()
                if time.monotonic() - lost_since >= self.lost_s:
                    self._fail(node_id, e.message)

    def _fail(self, node_id: str, why: str) -> None:
        streams = list(self._streams[node_id])
        log.warning("node %s lost: %s; failing its %d running targets", node_id, why, len(streams))
        for stream in streams:
            stream.abort(f"node {node_id} unreachable for {self.lost_s:g} s: {why}", node_lost=True)
        self._nodes.forget(node_id)

    async def close(self) -> None:
        """Stop every pinger."""
        for task in self._pingers.values():
            task.cancel()
        await asyncio.gather(*self._pingers.values(), return_exceptions=True)
