"""Tables and grouped output, plain when piped and coloured on a terminal."""

from __future__ import annotations

from collections.abc import Sequence

from .console import BOLD, RED, Console
from .targets import Target

RULE = "-" * 16


def table(console: Console, headers: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    """Columns padded to their widest cell (the last one not padded), the header bold on a terminal."""
    widths = [max(len(str(row[i])) for row in [headers, *rows]) for i in range(len(headers))]

    def line(cells: Sequence[str]) -> str:
        padded = [str(cell).ljust(width) for cell, width in zip(cells[:-1], widths, strict=False)]
        return "  ".join([*padded, str(cells[-1])]).rstrip()

    return [console.paint(line(headers), BOLD), *(line(row) for row in rows)]


def duration(seconds: float | None) -> str:
    """1.2s, 3m04s, 2h05m; `-` when unknown."""
    if seconds is None:
        return "-"
    if seconds < 60:
        return f"{seconds:.1f}s"
    minutes, secs = divmod(int(seconds), 60)
    if minutes < 60:
        return f"{minutes}m{secs:02d}s"
    return f"{minutes // 60}h{minutes % 60:02d}m"


def summary_table(console: Console, targets: Sequence[Target], state: str) -> list[str]:
    """The table printed when a run ends: one row per target, then the execution's State and counts."""
    rows = [
        [
            t.task,
            t.node,
            t.status or "?",
            "-" if t.exit_code is None else str(t.exit_code),
            duration(t.duration_s),
            t.end_reason or "-",
        ]
        for t in targets
    ]
    lines = table(console, ["TARGET", "NODE", "STATUS", "EXIT", "DURATION", "END REASON"], rows)
    failed = sum(not t.succeeded for t in targets)
    verdict = f"{len(targets) - failed} of {len(targets)} succeeded" + (f", {failed} failed" if failed else "")
    closing = f"{state}: {verdict}" if state else verdict
    return [*lines, console.paint(closing, RED if failed else BOLD)]


def group_blocks(console: Console, targets: Sequence[Target], lines: dict[int, list[tuple[str, str]]]) -> list[str]:
    """dshbak -c: targets with the very same output (lines and streams) printed once, under the list of them."""
    groups: dict[tuple[tuple[str, str], ...], list[Target]] = {}
    for target in targets:
        groups.setdefault(tuple(lines.get(target.index, [])), []).append(target)
    out: list[str] = []
    for output, members in groups.items():
        out += [RULE, console.paint(", ".join(t.label for t in members) + f" ({len(members)})", BOLD), RULE]
        out += [console.paint(text, RED) if stream == "stderr" else text for stream, text in output]
        if not output:
            out.append("(no output)")
    return out
