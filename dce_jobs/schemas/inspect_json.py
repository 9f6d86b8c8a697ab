"""Inspect's JSON text, byte for byte what `json.dumps(dump_inspect(view), ensure_ascii=False)` gives, with the
Target list of an execution and the Result entry of an ended target encoded once.

A panel or a script following a run asks for inspect every second or so, and every call of a 200-target execution
dumped and encoded 200 entries that no longer change once their target has ended. An ended entry is kept by the
record's values it was made from (all of them but the engine's exec-inspect fields, which are recorded with the
final status and never change after it), and then its output tail need not be read again either.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from ..models import FINAL_STATUSES, ContainerResult, Execution, Target
from .inspect import _INSPECT_HEAD, _TARGET_PLAN, InspectView, ResultView, _dump_plain, _dump_result_fast


def _dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)


def _entry_key(result: ContainerResult, target: Target | None) -> tuple[Any, ...]:
    """Everything an ended entry is made from, but its output (fixed once ended, sized by output_bytes)."""
    return (
        result.job_id,
        result.executor_id,
        result.index,
        result.container_id,
        result.node_id,
        result.status,
        result.exec_id,
        result.error,
        result.exit_code,
        result.output_bytes,
        result.output_truncated,
        result.started_at,
        result.finished_at,
        result.updated_at,
        result.end_reason,
        target,
    )


class InspectJson:
    """Encoded Target lists and ended Result entries of the executions inspected lately; at most `max_items` and
    `max_chars` of JSON, then it starts again."""

    def __init__(self, *, max_items: int = 65_536, max_chars: int = 64 * 2**20) -> None:
        self._texts: dict[tuple[Any, ...], str] = {}
        self._max_items = max_items
        self._max_chars = max_chars
        self._chars = 0

    def kept(self, results: list[ContainerResult], targets: list[Target | None]) -> dict[int, str]:
        """The encoded entries of the ended targets among `results` (by index): inspect need not read their output.

        Taken before the output of the others is read, so that what another request does to the memo meanwhile
        (starting it again when full) cannot leave an entry without its Output.
        """
        kept = {}
        for result, target in zip(results, targets, strict=True):
            if result.status in FINAL_STATUSES:
                text = self._texts.get(_entry_key(result, target))
                if text is not None:
                    kept[result.index] = text
        return kept

    def encode(self, view: InspectView, kept: Mapping[int, str]) -> str:
        """The inspect body; the entries of `kept` are used as they are (their ResultView's Output is not looked
        at)."""
        head = _dumps(_INSPECT_HEAD.dump(view))
        results = ", ".join(kept.get(r.result.index) or self._result(r) for r in view.results)
        return f'{head[:-1]}, "Target": {self._targets(view.execution)}, "Result": [{results}]}}'

    def _targets(self, execution: Execution) -> str:
        # the targets of an execution are fixed when it is created
        key = ("targets", execution.job_id, execution.executor_id, execution.created_at, len(execution.targets))
        text = self._texts.get(key)
        if text is None:
            text = _dumps([_dump_plain(_TARGET_PLAN, t) for t in execution.targets])
            self._keep(key, text)
        return text

    def _result(self, view: ResultView) -> str:
        if view.result.status not in FINAL_STATUSES:
            return _dumps(_dump_result_fast(view))
        key = _entry_key(view.result, view.target)
        text = self._texts.get(key)
        if text is None:
            text = _dumps(_dump_result_fast(view))
            self._keep(key, text)
        return text

    def _keep(self, key: tuple[Any, ...], text: str) -> None:
        if len(self._texts) >= self._max_items or self._chars + len(text) > self._max_chars:
            self._texts.clear()
            self._chars = 0
        self._texts[key] = text
        self._chars += len(text)
