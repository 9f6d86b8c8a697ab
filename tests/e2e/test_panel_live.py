"""The live execution view without an engine: the panel's SSE parser, and the view fed by a scripted event stream.

The page's fetch() of `/events` is answered by a stream the test writes to (every other request reaches the real
server, over an execution written into its store): appends per container, follow and scroll position, selection,
the latest line as the row preview, stderr marks, the bounded box, a resume with Last-Event-ID, the end of the
stream, the stream closed when the view is left, and inspect polled when the server has no stream (404). The same
on the real engine is in test_panel_live_lab.py.
"""

from __future__ import annotations

import json
import time
from typing import Any

import pytest

from dce_jobs.models import Status
from tests.e2e.panel import Panel, api, tid
from tests.e2e.seed import Seeded, add_execution

pytestmark = pytest.mark.browser

WIDTHS = [1024, 1400]
NODE = "guv4tovwx67oa4j9evjrcgg5v"


def cid(n: int) -> str:
    return f"{n:x}" * 64


# Each case: the chunks as they arrive (split anywhere) -> the events, and the parser's last id and retry.
PARSER_CASES: list[tuple[list[str], list[dict[str, str]], str, int | None]] = [
    (['event: output\ndata: {"a":1}\nid: 7\n\n'], [{"type": "output", "data": '{"a":1}', "id": "7"}], "7", None),
    # CRLF split between two chunks, a lone CR, comments (keep-alives), no space after the colon.
    (
        [": keep-alive\r", "\nevent:target\r\ndata:x\r\rdata: y\n", "\n"],
        [{"type": "target", "data": "x", "id": ""}, {"type": "message", "data": "y", "id": ""}],
        "",
        None,
    ),
    # Data over several lines, an id that persists to the next event, an event with no data is not dispatched.
    (
        ["id: 1\ndata: a\ndata:\ndata: b\n\n", "event: lonely\nid: 2\n\n", "data: c\n\n"],
        [{"type": "message", "data": "a\n\nb", "id": "1"}, {"type": "message", "data": "c", "id": "2"}],
        "2",
        None,
    ),
    # retry advice; an id holding NUL is ignored; a field without a colon; an unknown field.
    (
        ["retry: 1500\nretry: soon\nid: a\u0000b\ndata\nfoo: bar\n\n"],
        [{"type": "message", "data": "", "id": ""}],
        "",
        1500,
    ),
    # An event cut off by the end of the stream is not dispatched.
    (["data: whole\n\ndata: half"], [{"type": "message", "data": "whole", "id": ""}], "", None),
]


def test_sse_parser_in_the_browser(panel: Panel, panel_server: Any) -> None:
    """The panel's own parser module, loaded in the browser, reading chunks through readEvents() as from fetch()."""
    panel.open(panel_server().url)
    got = panel.driver.execute_async_script(
        """
        const [cases, done] = arguments;
        import('./static/js/sse.js').then(async (m) => {
          const out = [];
          for (const [chunks] of cases) {
            const enc = new TextEncoder();
            const body = new ReadableStream({
              start(c) { chunks.forEach((t) => c.enqueue(enc.encode(t))); c.close(); },
            });
            const parser = new m.SseParser();
            const events = [];
            await m.readEvents(body, parser, { onEvent: (e) => events.push(e) });
            out.push([events, parser.lastEventId, parser.retryMs]);
          }
          done(out);
        });
        """,
        [[c[0]] for c in PARSER_CASES],
    )
    assert got == [[events, last, retry] for _, events, last, retry in PARSER_CASES]


# Answers the page's fetch() of an event stream with a stream the test writes to (window.__sse.conns[i]).
FAKE_STREAM = """
window.__sse = { conns: [] };
const realFetch = window.fetch.bind(window);
window.fetch = (input, init = {}) => {
  const url = String(input instanceof Request ? input.url : input);
  if (!url.includes('/events')) return realFetch(input, init);
  if (window.__sse.status) {  // as an older server without the route answers
    const body = JSON.stringify({ message: 'not found', id: 'not_found' });
    return Promise.resolve(new Response(body, { status: window.__sse.status }));
  }
  const enc = new TextEncoder();
  let ctl;
  const body = new ReadableStream({ start(c) { ctl = c; } });
  const conn = { url, headers: { ...(init.headers || {}) }, aborted: false, closed: false };
  conn.push = (text) => ctl.enqueue(enc.encode(text));
  conn.close = () => { conn.closed = true; ctl.close(); };
  if (init.signal) init.signal.addEventListener('abort', () => {
    conn.aborted = true;
    if (!conn.closed) try { ctl.error(new DOMException('aborted', 'AbortError')); } catch (e) {}
  });
  window.__sse.conns.push(conn);
  return Promise.resolve(new Response(body, { status: 200, headers: { 'Content-Type': 'text/event-stream' } }));
};
"""


class Stream:
    """Writes events to the page's current fake stream."""

    def __init__(self, panel: Panel) -> None:
        self.panel = panel
        self.next_id = 1
        self.offsets: dict[int, int] = {}

    def conns(self) -> int:
        return int(self.panel.driver.execute_script("return window.__sse.conns.length"))

    def conn(self, i: int = -1) -> dict[str, Any]:
        got: dict[str, Any] = self.panel.driver.execute_script(
            "const c = window.__sse.conns.at(arguments[0]); return {headers: c.headers, aborted: c.aborted};", i
        )
        return got

    def send(self, event: str, data: dict[str, Any], event_id: str | None = None) -> str:
        eid = event_id or str(self.next_id)
        self.next_id += 1
        text = f"event: {event}\nid: {eid}\ndata: {json.dumps(data, ensure_ascii=False)}\n\n"
        self.panel.driver.execute_script("window.__sse.conns.at(-1).push(arguments[0])", text)
        return eid

    def output(self, index: int, text: str, stream: str = "stdout", offset: int | None = None) -> str:
        at = self.offsets.get(index, 0) if offset is None else offset
        self.offsets[index] = max(self.offsets.get(index, 0), at + len(text.encode()))
        data = {"Index": index, "ContainerId": cid(index + 1), "Stream": stream, "Offset": at, "Text": text}
        return self.send("output", data)

    def close(self) -> None:
        self.panel.driver.execute_script("window.__sse.conns.at(-1).close()")


def _row(panel: Panel, container_id: str) -> Any:
    return next(r for r in panel.result_rows() if r.get_attribute("data-container-id") == container_id)


def _preview(panel: Panel, container_id: str) -> str:
    row = next((r for r in panel.result_rows() if r.get_attribute("data-container-id") == container_id), None)
    found = panel.find(tid("result-preview-line"), row) if row is not None else []
    return str(found[0].get_attribute("textContent")) if found else ""


def _lines(box: Any, panel: Panel) -> list[dict[str, str]]:
    got: list[dict[str, str]] = panel.driver.execute_script(
        "return [...arguments[0].querySelectorAll('.ln')].map((l) => ({text: l.textContent,"
        " stream: l.dataset.stream}));",
        box,
    )
    return got


@pytest.mark.parametrize("width", WIDTHS)
def test_live_view_over_a_scripted_stream(panel: Panel, panel_server: Any, width: int) -> None:
    server = panel_server()
    job = api(server, "POST", "/api/jobs", {"AppName": "shop", "ServiceName": "shop_web", "Name": "实时", "Cmd": "x"})
    executor = "1700000000.100000"
    started = time.time() - 5
    add_execution(
        server.data_dir,
        job["JobId"],
        executor,
        [Seeded(cid(n), NODE, Status.RUNNING, started_at=started) for n in (1, 2)],
    )
    panel.set_width(width)
    panel.open(server.url)
    panel.job_row("实时")
    panel.driver.execute_script(FAKE_STREAM)
    panel.driver.execute_script("location.hash = arguments[0]", f"#/jobs/{job['JobId']}/executions/{executor}")
    stream = Stream(panel)
    panel.wait(lambda: stream.conns() == 1, what="the view to open the event stream")
    assert stream.conn()["headers"].get("Accept") == "text/event-stream"
    assert "Last-Event-ID" not in stream.conn()["headers"]
    panel.wait(lambda: len(panel.result_rows()) == 2, what="two result rows")
    for i in range(2):
        stream.send(
            "target",
            {
                "Index": i,
                "ContainerId": cid(i + 1),
                "NodeId": NODE,
                "Status": "RUNNING",
                "ExitCode": None,
                "EndReason": None,
                "StartTime": started,
                "EndTime": None,
            },
        )
    panel.wait(lambda: panel.el("poll-state").get_attribute("data-source") == "events")

    # Output appends live, the row preview is the newest line; unfolded, the box follows the end.
    stream.output(0, "".join(f"line {n}\n" for n in range(1, 61)))
    panel.wait(lambda: _preview(panel, cid(1)) == "line 60", what="the newest line as the preview")
    panel.click("toggle-output", _row(panel, cid(1)))
    box = panel.output_box(cid(1))
    panel.wait(lambda: (s := panel.box_scroll(box))["height"] > s["client"] > 0, what="a box that scrolls")
    panel.wait(lambda: (s := panel.box_scroll(box))["top"] + s["client"] >= s["height"] - 2, what="following")
    stream.output(0, "partial ")
    stream.output(0, "line, then its end\n")
    panel.wait(lambda: _preview(panel, cid(1)) == "partial line, then its end")

    # stderr is its own line, marked by more than colour (a bar and a "!" that copying leaves out), in the
    # preview too.
    stream.output(0, "warning: disk almost full\n", "stderr")
    panel.wait(lambda: _preview(panel, cid(1)) == "warning: disk almost full")
    assert panel.find(tid("result-preview-stderr"), _row(panel, cid(1)))[0].text == "stderr"
    lines = _lines(box, panel)
    assert lines[-1] == {"text": "warning: disk almost full", "stream": "stderr"}
    assert lines[-2] == {"text": "partial line, then its end", "stream": "stdout"}
    marks = panel.driver.execute_script(
        "const [err, out] = [...arguments[0].querySelectorAll('.ln')].slice(-2).reverse();"
        "const s = (el, p) => getComputedStyle(el, p);"
        "return {errMark: s(err, '::before').content, outMark: s(out, '::before').content,"
        " errBar: s(err).boxShadow, outBar: s(out).boxShadow};",
        box,
    )
    assert "!" in marks["errMark"] and marks["outMark"] == "none", marks
    assert marks["errBar"] != "none" and marks["outBar"] == "none", marks
    panel.el("stderr-legend", _detail(panel, cid(1)))
    panel.shot(f"live-{width}-01-following")

    # Scrolled up: the position stays while lines arrive, follow turns off, a selection survives.
    panel.scroll_box_to(box, 0)
    panel.wait(lambda: not panel.el("output-follow").is_selected(), what="follow to turn off")
    first = panel.find(".ln", box)[0]
    assert panel.select_in(first, 0, 6) == "line 1"
    for n in range(61, 121):
        stream.output(0, f"line {n}\n")
    panel.wait(lambda: _preview(panel, cid(1)) == "line 120")
    assert panel.box_scroll(box)["top"] == 0
    assert panel.selection() == {"text": "line 1", "inBox": True}
    assert [ln["text"] for ln in _lines(box, panel)].count("line 61") == 1
    # Durations grow by the view's timer, without the row being drawn again.
    duration = panel.find(tid("result-duration"), _row(panel, cid(1)))[0]
    before = duration.text
    panel.wait(lambda: duration.text != before, what="the running duration to grow")
    assert panel.selection() == {"text": "line 1", "inBox": True}
    panel.shot(f"live-{width}-02-scrolled-up")

    # The follow toggle takes the reader to the end and keeps them there.
    panel.click("output-follow")
    panel.wait(lambda: (s := panel.box_scroll(box))["top"] + s["client"] >= s["height"] - 2, what="back at the end")
    stream.output(0, "line 121\n")
    panel.wait(lambda: _preview(panel, cid(1)) == "line 121")
    panel.wait(lambda: (s := panel.box_scroll(box))["top"] + s["client"] >= s["height"] - 2, what="still following")

    # A drop: the view comes back with Last-Event-ID; a chunk sent again is not shown twice.
    last_id = stream.output(0, "before the drop\n")
    stream.close()
    panel.wait(lambda: stream.conns() == 2, timeout=20, what="a reconnect")
    assert stream.conn()["headers"].get("Last-Event-ID") == last_id
    stream.output(0, "before the drop\n", offset=stream.offsets[0] - len(b"before the drop\n"))
    stream.output(0, "after the drop\n")
    panel.wait(lambda: _preview(panel, cid(1)) == "after the drop")
    texts = [ln["text"] for ln in _lines(box, panel)]
    assert texts.count("before the drop") == 1 and texts[-1] == "after the drop"

    # Huge output: the box keeps the newest part, says so, and offers the full log.
    chunk = "".join(f"row {n:06d} " + "y" * 90 + "\n" for n in range(1000))
    for _ in range(3):
        stream.output(1, chunk)
    stream.output(1, "the very last row\n")
    panel.wait(lambda: _preview(panel, cid(2)) == "the very last row")
    panel.click("toggle-output", _row(panel, cid(2)))
    big = panel.output_box(cid(2))
    size = panel.driver.execute_script("return arguments[0].textContent.length", big)
    assert 100_000 < size <= 164_000, size
    note = panel.el("output-trimmed", _detail(panel, cid(2)))
    assert "只显示最新的 128 KiB" in note.text
    panel.el("output-download", _detail(panel, cid(2)))

    # Targets end, then the execution: the rows turn final, the view stops following.
    for i, code in enumerate([0, 3]):
        stream.send(
            "target",
            {
                "Index": i,
                "ContainerId": cid(i + 1),
                "NodeId": NODE,
                "Status": "FINISHED",
                "ExitCode": code,
                "EndReason": "exited",
                "StartTime": started,
                "EndTime": time.time(),
            },
        )
    panel.wait(lambda: panel.result_labels() == {cid(1): "成功", cid(2): "失败"}, what="the final statuses")
    stream.send(
        "end", {"State": "failed", "Counts": {"waiting": 0, "running": 0, "succeeded": 1, "failed": 1, "stopped": 0}}
    )
    panel.wait(lambda: panel.el("poll-state").get_attribute("data-state") == "done", what="the end")
    panel.wait_text("execution-status", "部分失败")
    panel.shot(f"live-{width}-03-ended")


def test_leaving_the_view_closes_the_stream_and_without_the_route_inspect_is_polled(
    panel: Panel, panel_server: Any
) -> None:
    server = panel_server()
    job = api(server, "POST", "/api/jobs", {"AppName": "shop", "ServiceName": "shop_web", "Name": "离开", "Cmd": "x"})
    executor = "1700000000.100000"
    add_execution(server.data_dir, job["JobId"], executor, [Seeded(cid(1), NODE, Status.RUNNING, output="so far\n")])
    panel.open(server.url)
    panel.job_row("离开")
    panel.driver.execute_script(FAKE_STREAM)
    panel.driver.execute_script("location.hash = arguments[0]", f"#/jobs/{job['JobId']}/executions/{executor}")
    stream = Stream(panel)
    panel.wait(lambda: stream.conns() == 1, what="the event stream")
    panel.driver.execute_script("location.hash = '#/'")
    panel.wait(lambda: stream.conn()["aborted"], what="the stream to be closed")

    # A server without the route answers 404: the view polls inspect instead.
    panel.driver.execute_script("window.__sse.status = 404")
    panel.driver.execute_script("location.hash = arguments[0]", f"#/jobs/{job['JobId']}/executions/{executor}")
    panel.wait(lambda: panel.el("poll-state").get_attribute("data-source") == "inspect", what="polling")
    panel.wait(lambda: _preview(panel, cid(1)) == "so far")
    panel.click("toggle-output", _row(panel, cid(1)))
    panel.wait(lambda: "so far" in panel.output_box(cid(1)).text)


def _detail(panel: Panel, container_id: str) -> Any:
    return next(r for r in panel.find(tid("result-detail")) if r.get_attribute("data-container-id") == container_id)
