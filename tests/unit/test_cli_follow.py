"""The client's reading of an event stream, without a server: SSE framing, whole lines, prefixes, --group, colour."""

from __future__ import annotations

import asyncio
import io
import json
import os

from dce_jobs.cli.console import Console, wants_colour
from dce_jobs.cli.follow import Follower
from dce_jobs.cli.sse import Event, EventParser
from dce_jobs.cli.targets import Names
from tests.fakes.api import CONTAINERS, end, output, target

NAMES = Names.from_containers(CONTAINERS)


def console(*, colour: bool = False) -> Console:
    return Console(out=io.StringIO(), err=io.StringIO(), colour=colour)


def feed(follower: Follower, *events: tuple[str, dict]) -> None:
    for number, (name, data) in enumerate(events):
        follower.handle(Event(name, json.dumps(data), str(number)))


def out(c: Console) -> list[str]:
    return c.out.getvalue().splitlines()  # type: ignore[attr-defined]


def err(c: Console) -> list[str]:
    return c.err.getvalue().splitlines()  # type: ignore[attr-defined]


def test_sse_parser_joins_events_split_anywhere() -> None:
    raw = (
        b': keep-alive\r\n\r\nid: 7\r\nevent: output\r\ndata: {"Text": "h\xc3\xa9"}\r\n\r\n'
        b"event: end\ndata: a\ndata: b\n\n"
    )
    for cut in range(1, len(raw)):
        parser = EventParser()
        events = parser.feed(raw[:cut]) + parser.feed(raw[cut:])
        assert events == [Event("output", '{"Text": "hé"}', "7"), Event("end", "a\nb", None)], cut


def test_a_line_split_over_two_events_is_printed_once_whole_with_its_prefix() -> None:
    c = console()
    follower = Follower(c, NAMES)
    feed(follower, target(0, "RUNNING"), output(0, "hel"), output(0, "lo\nwor", offset=3), output(0, "ld\n", offset=9))
    assert out(c) == ["[host1/shop_web.1] hello", "[host1/shop_web.1] world"]


def test_partial_lines_are_kept_apart_per_target_and_stream() -> None:
    c = console()
    follower = Follower(c, NAMES)
    feed(
        follower,
        target(0, "RUNNING"),
        target(1, "RUNNING"),
        output(0, "out-a"),
        output(0, "err-a", stream="stderr", offset=5),
        output(1, "out-b"),
        output(0, "1\n", offset=10),
        output(1, "2\n", offset=5),
        output(0, "1\n", stream="stderr", offset=12),
        output(1, "tail without newline", stream="stderr", offset=7),
        end(),
    )
    assert out(c) == ["[host1/shop_web.1] out-a1", "[host2/shop_web.2] out-b2"]
    # a target's stderr goes to stderr; the last line without a newline comes at the end
    assert err(c)[:2] == ["[host1/shop_web.1] err-a1", "[host2/shop_web.2] tail without newline"]


def test_a_resent_output_event_is_not_printed_twice() -> None:
    c = console()
    follower = Follower(c, NAMES)
    feed(follower, output(0, "one\n"), output(0, "one\n"), output(0, "two\n", offset=4), end())
    assert out(c) == ["[host1/shop_web.1] one", "[host1/shop_web.1] two"]


def test_a_container_no_longer_listed_keeps_its_node_name_and_short_id() -> None:
    names = Names.from_containers(CONTAINERS[1:])  # the first task is gone, its node still hosts another
    names = Names(names.tasks, {**names.hostnames, "node1id": "host1"})
    c = console()
    feed(Follower(c, names), target(0, "RUNNING"), output(0, "x\n"))
    assert out(c) == ["[host1/c10000000000] x"]
    unknown = console()
    feed(Follower(unknown, Names()), target(0, "RUNNING"), output(0, "x\n"))
    assert out(unknown) == ["[node1id/c10000000000] x"]


def test_group_prints_identical_outputs_once_with_their_targets_then_the_summary() -> None:
    c = console()
    follower = Follower(c, NAMES, group=True)
    feed(
        follower,
        output(0, "same\n"),
        output(1, "sa"),
        output(1, "me\n", offset=2),
        output(2, "other\n"),
        target(0, "FINISHED", 0, "exited"),
        target(1, "FINISHED", 0, "exited"),
        target(2, "FINISHED", 3, "exited"),
        end("failed"),
    )
    assert follower.finish() == 1
    assert out(c) == [
        "----------------",
        "host1/shop_web.1, host2/shop_web.2 (2)",
        "----------------",
        "same",
        "----------------",
        "host3/shop_web.3 (1)",
        "----------------",
        "other",
    ]
    table = err(c)
    assert table[0].split() == ["TARGET", "NODE", "STATUS", "EXIT", "DURATION", "END", "REASON"]
    assert table[3].split() == ["shop_web.3", "host3", "FINISHED", "3", "2.5s", "exited"]
    assert table[-1] == "failed: 2 of 3 succeeded, 1 failed"


def test_exit_code_is_0_only_when_every_target_finished_with_0() -> None:
    ok = Follower(console(), NAMES)
    feed(ok, target(0, "FINISHED", 0, "exited"), target(1, "FINISHED", 0, "exited"), end())
    assert ok.finish() == 0
    stopped = Follower(console(), NAMES)
    feed(stopped, target(0, "FINISHED", 0, "exited"), target(1, "RUNNING_FAILED", 143, "stopped"), end("stopped"))
    assert stopped.finish() == 1
    assert Follower(console(), NAMES).finish() == 1  # nothing known: not a success


def test_json_prints_each_event_as_one_line_and_no_table() -> None:
    c = console()
    follower = Follower(c, NAMES, as_json=True)
    feed(follower, target(0, "RUNNING"), output(0, "a\nb"), target(0, "FINISHED", 0, "exited"), end())
    assert follower.finish() == 0
    lines = [json.loads(line) for line in out(c)]
    assert [line["event"] for line in lines] == ["target", "output", "target", "end"]
    assert lines[1] == {"event": "output", "id": "1", "data": output(0, "a\nb")[1]}
    assert err(c) == []


def test_colour_only_when_asked_for_and_never_in_a_pipe() -> None:
    plain = console()
    feed(Follower(plain, NAMES), output(0, "x\n"), output(0, "e\n", stream="stderr", offset=2), end())
    assert "\033" not in plain.out.getvalue() + plain.err.getvalue()  # type: ignore[attr-defined]
    coloured = console(colour=True)
    feed(Follower(coloured, NAMES), output(0, "x\n"), end())
    assert out(coloured) == ["\033[36m[host1/shop_web.1]\033[0m x"]


class Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_colour_follows_the_terminal_and_no_color() -> None:
    assert wants_colour(Tty(), {}) is True
    assert wants_colour(Tty(), {"NO_COLOR": "1"}) is False
    assert wants_colour(io.StringIO(), {}) is False
    assert Console(out=io.StringIO(), err=io.StringIO()).colour is False


def test_the_last_line_without_newline_comes_when_its_target_ends() -> None:
    c = console()
    follower = Follower(c, NAMES)
    feed(follower, target(0, "RUNNING"), target(1, "RUNNING"), output(0, "done"), output(1, "still"))
    assert out(c) == []
    feed(follower, target(0, "FINISHED", 0, "exited"))
    assert out(c) == ["[host1/shop_web.1] done"]


async def test_ask_reads_an_answer_from_stdin_without_blocking_the_loop() -> None:
    read_fd, write_fd = os.pipe()
    with os.fdopen(read_fd) as stdin:
        c = Console(out=io.StringIO(), err=io.StringIO(), stdin=stdin)
        asking = asyncio.ensure_future(c.ask("stop?"))
        await asyncio.sleep(0)
        assert not asking.done()
        os.write(write_fd, b"y\n")
        os.close(write_fd)
        assert await asking is True
    assert c.err.getvalue() == "stop? [y/N] "  # type: ignore[attr-defined]
