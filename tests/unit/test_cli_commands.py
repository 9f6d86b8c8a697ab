"""The client's commands against a small server speaking the API and the event stream's frozen format."""

from __future__ import annotations

import asyncio
import io
import json
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from dce_jobs.__main__ import _parser
from dce_jobs.cli import run_command
from dce_jobs.cli.console import Console
from tests.fakes.api import CONTAINERS, JOB, FakeApi, end, output, target

Cli = Callable[..., Awaitable[tuple[int, str, str]]]

RUN = [
    target(0, "RUNNING"),
    target(1, "RUNNING"),
    output(0, "hello from one\n"),
    output(1, "hello from "),
    output(1, "two\n", offset=11),
    target(0, "FINISHED", 0, "exited"),
    target(1, "FINISHED", 0, "exited"),
    end(),
]


class FakeConsole(Console):
    """A console over StringIO: the test presses Ctrl-C (`interrupt`) and answers the question (`answer`)."""

    def __init__(self, *, interactive: bool = False, answer: bool = False) -> None:
        super().__init__(out=io.StringIO(), err=io.StringIO())
        self._interactive = interactive
        self.answer = answer
        self.asked: list[str] = []
        self.interrupt: Callable[[], None] = lambda: None
        self.printed = asyncio.Event()  #: set at each line printed
        self.answered = asyncio.Event()  #: set once the question got its answer

    def print(self, text: str = "", *, err: bool = False, flush: bool = True) -> None:
        super().print(text, err=err, flush=flush)
        self.printed.set()

    @property
    def interactive(self) -> bool:
        return self._interactive

    def on_interrupt(self, callback: Callable[[], None]) -> Callable[[], None]:
        self.interrupt = callback
        return lambda: None

    async def ask(self, question: str) -> bool:
        self.asked.append(question)
        self.answered.set()
        return self.answer


@pytest.fixture
def api() -> FakeApi:
    return FakeApi(events=list(RUN))


@pytest.fixture
async def cli(aiohttp_server: Any, api: FakeApi) -> Cli:
    server = await aiohttp_server(api.app())

    async def call(*argv: str, console: FakeConsole | None = None) -> tuple[int, str, str]:
        console = console or FakeConsole()
        args = _parser().parse_args([*argv, "--url", str(server.make_url(""))])
        code = await run_command(args, console, backoff_s=0)
        return code, console.out.getvalue(), console.err.getvalue()  # type: ignore[attr-defined]

    return call


async def test_run_all_starts_on_every_container_and_prints_prefixed_lines_and_a_summary(
    cli: Cli, api: FakeApi
) -> None:
    code, out, err = await cli("run", "hello", "--all", "--parallelism", "1", "--timeout", "30")
    assert code == 0
    assert api.starts == [{"Parallelism": 1, "Timeout": 30.0}]
    assert out.splitlines() == ["[host1/shop_web.1] hello from one", "[host2/shop_web.2] hello from two"]
    lines = err.splitlines()
    assert lines[0] == "started execution 1496287694.460088 of job hello (job-1)"
    assert lines[1].split() == ["TARGET", "NODE", "STATUS", "EXIT", "DURATION", "END", "REASON"]
    assert lines[2].split() == ["shop_web.1", "host1", "FINISHED", "0", "2.5s", "exited"]
    assert lines[-1] == "succeeded: 2 of 2 succeeded"
    assert "\033" not in out + err


async def test_a_failed_target_makes_exit_code_1(cli: Cli, api: FakeApi) -> None:
    api.events = [target(0, "FINISHED", 0, "exited"), target(1, "RUNNING_FAILED", 126, "start_failed"), end("failed")]
    code, _, err = await cli("run", "hello", "--all")
    assert code == 1
    assert "RUNNING_FAILED  126" in err
    assert err.splitlines()[-1] == "failed: 1 of 2 succeeded, 1 failed"


async def test_containers_are_given_by_prefix_with_their_node(cli: Cli, api: FakeApi) -> None:
    code, _, _ = await cli("run", "hello", "--container", "c2000", CONTAINERS[2]["ContainerId"])
    assert code == 0
    assert api.starts == [
        {"Target": [{"ContainerId": c["ContainerId"], "NodeId": c["NodeId"]} for c in CONTAINERS[1:]]}
    ]


async def test_usage_errors_give_2_and_start_nothing(cli: Cli, api: FakeApi) -> None:
    code, _, err = await cli("run", "hello", "--container", "ffff")
    assert (code, err) == (2, "dce-jobs run: container 'ffff' is not a running task container of service 'shop_web'\n")
    code, _, err = await cli("run", "nope", "--all")
    assert code == 2 and "no job with the id or name 'nope'" in err
    api.jobs.append(dict(JOB, JobId="job-2", AppName="other"))
    code, _, err = await cli("run", "hello", "--all")
    assert code == 2 and "say which with --app" in err
    assert api.starts == []
    code, _, _ = await cli("run", "hello", "--all", "--app", "shop")
    assert code == 0 and len(api.starts) == 1
    with pytest.raises(SystemExit) as exited:
        _parser().parse_args(["run", "hello"])  # neither --all nor --container
    assert exited.value.code == 2


async def test_an_api_error_prints_its_message_and_gives_2(cli: Cli, api: FakeApi) -> None:
    api.start_error = (400, {"message": "service shop_web has no running containers", "id": "no_running_containers"})
    code, out, err = await cli("run", "hello", "--all")
    assert (code, out) == (2, "")
    assert err == "dce-jobs run: service shop_web has no running containers (no_running_containers)\n"


async def test_the_token_is_sent(cli: Cli, api: FakeApi, monkeypatch: pytest.MonkeyPatch) -> None:
    api.token = "s3cret"
    code, _, err = await cli("jobs")
    assert code == 2 and "a valid token is required (unauthorized)" in err
    assert (await cli("jobs", "--token", "s3cret"))[0] == 0
    monkeypatch.setenv("DCE_JOBS_API_TOKEN", "s3cret")
    assert (await cli("run", "hello", "--all"))[0] == 0


async def test_a_dropped_stream_resumes_from_the_last_event_id_with_nothing_lost_or_doubled(
    cli: Cli, api: FakeApi
) -> None:
    api.break_after = [3, 1]  # the first connection ends after 3 events, the second after 1
    code, out, _ = await cli("run", "hello", "--all")
    assert code == 0
    assert api.last_event_ids == [None, "2", "3"]
    assert out.splitlines() == ["[host1/shop_web.1] hello from one", "[host2/shop_web.2] hello from two"]


async def test_a_cut_connection_resumes_too(cli: Cli, api: FakeApi) -> None:
    api.break_after, api.abort = [4], True
    code, out, _ = await cli("run", "hello", "--all")
    assert code == 0
    assert api.last_event_ids == [None, "3"]
    assert out.splitlines() == ["[host1/shop_web.1] hello from one", "[host2/shop_web.2] hello from two"]


async def test_an_unavailable_server_is_tried_again(cli: Cli, api: FakeApi) -> None:
    api.unavailable, api.break_after = 2, [2]  # two 503 answers, then a stream that breaks, then it resumes
    code, out, _ = await cli("run", "hello", "--all")
    assert code == 0
    assert api.last_event_ids == [None, None, None, "1"]
    assert out.splitlines() == ["[host1/shop_web.1] hello from one", "[host2/shop_web.2] hello from two"]


async def test_a_stream_that_never_comes_back_gives_2(cli: Cli, api: FakeApi) -> None:
    api.break_after = [2] + [0] * 10
    code, out, err = await cli("run", "hello", "--all")
    assert code == 2
    assert "event stream lost" in err and "dce-jobs logs job-1 1496287694.460088 --follow" in err
    assert len(api.last_event_ids) == 6  # the first connection and 5 reconnects


async def test_json_prints_the_events_as_json_lines(cli: Cli) -> None:
    code, out, err = await cli("run", "hello", "--all", "--json")
    assert code == 0
    events = [json.loads(line) for line in out.splitlines()]
    assert [e["event"] for e in events] == [name for name, _ in RUN]
    assert events[3]["data"]["Text"] == "hello from "
    assert "TARGET" not in err


async def test_group_prints_identical_outputs_once(cli: Cli, api: FakeApi) -> None:
    api.events = [output(0, "same\n"), output(1, "same\n"), *RUN[5:]]
    code, out, _ = await cli("run", "hello", "--all", "--group")
    assert code == 0
    assert out.splitlines() == [
        "----------------",
        "host1/shop_web.1, host2/shop_web.2 (2)",
        "----------------",
        "same",
    ]


async def _interrupt_mid_run(cli: Cli, api: FakeApi, console: FakeConsole) -> tuple[int, str, str]:
    """Ctrl-C once the first line is out and the stream holds the rest: until answered, or until the end."""
    api.gate_at = 3
    running = asyncio.ensure_future(cli("run", "hello", "--all", console=console))
    while "hello from one" not in console.out.getvalue():  # type: ignore[attr-defined]
        console.printed.clear()
        await console.printed.wait()
    console.interrupt()
    await asyncio.wait([running, asyncio.ensure_future(console.answered.wait())], return_when=asyncio.FIRST_COMPLETED)
    api.gate.set()
    return await running


async def test_ctrl_c_without_a_terminal_stops_nothing_and_exits_130(cli: Cli, api: FakeApi) -> None:
    console = FakeConsole(interactive=False)
    code, _, err = await _interrupt_mid_run(cli, api, console)
    assert code == 130
    assert api.stops == [] and console.asked == []
    assert "left execution 1496287694.460088 running" in err


async def test_ctrl_c_on_a_terminal_asks_then_stops_and_follows_to_the_end(cli: Cli, api: FakeApi) -> None:
    api.events[5:] = [target(0, "RUNNING_FAILED", 143, "stopped"), target(1, "RUNNING_FAILED", 143, "stopped")]
    api.events.append(end("stopped"))
    console = FakeConsole(interactive=True, answer=True)
    code, out, err = await _interrupt_mid_run(cli, api, console)
    assert code == 1
    assert len(console.asked) == 1 and api.stops == ["1496287694.460088"]
    assert "hello from two" in out and "stopped: 0 of 2 succeeded, 2 failed" in err


async def test_ctrl_c_on_a_terminal_answered_no_goes_on_following(cli: Cli, api: FakeApi) -> None:
    console = FakeConsole(interactive=True, answer=False)
    code, out, _ = await _interrupt_mid_run(cli, api, console)
    assert code == 0 and api.stops == []
    assert out.splitlines()[-1] == "[host2/shop_web.2] hello from two"


async def test_a_second_ctrl_c_while_asking_leaves_without_stopping(cli: Cli, api: FakeApi) -> None:
    console = FakeConsole(interactive=True)

    async def ask(question: str) -> bool:
        console.interrupt()  # pressed again instead of answering
        await asyncio.Event().wait()
        return True

    console.ask = ask  # type: ignore[method-assign]
    code, _, err = await _interrupt_mid_run(cli, api, console)
    assert code == 130 and api.stops == []
    assert "left execution" in err


async def test_ctrl_c_while_the_start_is_in_flight_is_about_the_execution(cli: Cli, api: FakeApi) -> None:
    console = FakeConsole(interactive=False)
    api.on_start = lambda: console.interrupt()
    api.gate_at = 0
    code, _, err = await cli("run", "hello", "--all", console=console)
    api.gate.set()
    assert code == 130 and api.stops == []
    assert "left execution 1496287694.460088 running" in err


async def test_jobs_lists_a_table_or_json_lines(cli: Cli, api: FakeApi) -> None:
    code, out, _ = await cli("jobs")
    assert code == 0
    assert [line.split() for line in out.splitlines()] == [
        ["JOB", "ID", "APP", "SERVICE", "NAME", "RUNS", "CMD"],
        ["job-1", "shop", "shop_web", "hello", "0", "hostname"],
    ]
    code, out, _ = await cli("jobs", "--json", "--app", "nope")
    assert (code, out) == (0, "")
    code, out, _ = await cli("jobs", "--json")
    assert json.loads(out)["JobId"] == "job-1"


async def test_logs_downloads_or_follows_one_container(cli: Cli, api: FakeApi) -> None:
    code, out, _ = await cli("logs", "hello", "1496287694.460088")
    assert (code, out) == (0, "line one\nline two\n")
    code, out, _ = await cli(
        "logs", "job-1", "1496287694.460088", "--container", "c1", "--follow", "--stream", "stderr"
    )
    assert (code, out) == (0, "line one\nline two\n")
    assert api.log_queries == [{}, {"ContainerId": "c1", "Stream": "stderr", "Follow": "1"}]


async def test_logs_follow_of_every_container_prints_prefixed_lines_of_one_stream(cli: Cli, api: FakeApi) -> None:
    api.events.insert(2, output(1, "oops\n", stream="stderr"))
    code, out, err = await cli("logs", "hello", "1496287694.460088", "--follow", "--stream", "stderr")
    assert code == 0
    assert out == "" and err.splitlines()[0] == "[host2/shop_web.2] oops"


async def test_a_server_without_the_event_stream_is_named_as_such(cli: Cli, api: FakeApi) -> None:
    api.no_events = True
    code, _, err = await cli("run", "hello", "--all")
    assert code == 2
    assert err.splitlines()[-1] == "dce-jobs run: this server has no event stream: it is older than this client"
