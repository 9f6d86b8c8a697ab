"""The command-line client as a user runs it (`python -m dce_jobs ...`), against a real server and swarm."""

from __future__ import annotations

import os
import pty
import select
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.server import REPO, Server

from .lab import Lab

pytestmark = pytest.mark.swarm

SERVICE = "djt-cli"


@pytest.fixture(scope="module")
def cli_server(lab: Lab, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """A 3-replica service spread over the lab's nodes and a real `dce-jobs serve` with a token, for this module."""
    lab.create_service(SERVICE, 3)
    folder = tmp_path_factory.mktemp("cli")
    server = Server(
        data_dir=folder / "data",
        log_path=folder / "server.log",
        env={"DCE_JOBS_DOCKER_HOST": lab.manager.unix_url, "DCE_JOBS_API_TOKEN": "cli-token"},
    )
    server.token = "cli-token"
    try:
        server.wait_ready()
        yield server
    finally:
        server.stop()
        lab.remove_service(SERVICE)


def client_env(server: Server) -> dict[str, str]:
    """The environment of a client run: this checkout's code, the server's address and token, no colour."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("DCE_JOBS_")}
    return {**env, "PYTHONPATH": str(REPO), "DCE_JOBS_URL": server.url, "DCE_JOBS_API_TOKEN": server.token}


def cli(server: Server, *argv: str) -> subprocess.CompletedProcess[str]:
    """Run `python -m dce_jobs ARGV` to its end (stdin not a terminal, output piped)."""
    return subprocess.run(
        [sys.executable, "-m", "dce_jobs", *argv],
        cwd=REPO,
        env=client_env(server),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def containers(server: Server) -> list[dict[str, Any]]:
    """The service's running task containers, with their node hostname and task name."""
    found: list[dict[str, Any]] = server.json("GET", f"/api/services/{SERVICE}/containers")
    return found


@pytest.fixture(scope="module")
def hostnames(cli_server: Server) -> dict[str, str]:
    """ContainerId -> the container's own hostname (the lab names them after node and slot), from one run."""
    job = cli_server.create_job(SERVICE, "hostname")
    body = cli_server.wait_final(job, cli_server.start(job))
    return {r["ContainerId"]: r["Output"].strip() for r in body["Result"]}


def test_run_all_prints_each_line_prefixed_with_node_and_task_and_exits_0(cli_server: Server) -> None:
    job = cli_server.create_job(SERVICE, "sh -c 'echo one; sleep 0.3; printf two; sleep 0.3; echo \" halves\"'")
    result = cli(cli_server, "run", job["Name"], "--all", "--app", "it")
    assert result.returncode == 0, result.stderr
    tasks = containers(cli_server)
    assert len({t["NodeHostname"] for t in tasks}) == 3  # one task per node: three prefixes of their own
    expected = sorted(f"[{t['NodeHostname']}/{t['TaskName']}] {line}" for t in tasks for line in ("one", "two halves"))
    assert sorted(result.stdout.splitlines()) == expected
    rows = [line.split() for line in result.stderr.splitlines()]
    assert sorted(row[:4] for row in rows if row[0].startswith(SERVICE)) == sorted(
        [t["TaskName"], t["NodeHostname"], "FINISHED", "0"] for t in tasks
    )
    assert result.stderr.splitlines()[-1] == "succeeded: 3 of 3 succeeded"
    assert "\033" not in result.stdout + result.stderr


def test_one_failing_target_makes_exit_code_1(cli_server: Server, hostnames: dict[str, str]) -> None:
    failing = containers(cli_server)[0]
    job = cli_server.create_job(SERVICE, f"sh -c 'test $(hostname) != {hostnames[failing['ContainerId']]}'")
    result = cli(cli_server, "run", job["JobId"], "--all")
    assert result.returncode == 1, result.stderr
    rows = {row[0]: row for row in (line.split() for line in result.stderr.splitlines())}
    assert rows[failing["TaskName"]][2:4] == ["FINISHED", "1"]
    assert result.stderr.splitlines()[-1] == "failed: 2 of 3 succeeded, 1 failed"


def test_usage_and_api_errors_exit_2(cli_server: Server) -> None:
    job = cli_server.create_job(SERVICE, "true")
    missing = cli(cli_server, "run", job["Name"])  # neither --all nor --container
    assert missing.returncode == 2 and "one of the arguments --all --container is required" in missing.stderr
    unknown = cli(cli_server, "run", "no-such-job", "--all")
    assert unknown.returncode == 2 and "no job with the id or name 'no-such-job'" in unknown.stderr
    refused = cli(cli_server, "run", job["JobId"], "--all", "--timeout", "-1")
    assert refused.returncode == 2 and "(invalid_request)" in refused.stderr, refused.stderr
    assert cli_server.json("GET", f"/api/jobs/{job['JobId']}")["Executors"] == []


def test_logs_of_a_finished_run(cli_server: Server, hostnames: dict[str, str]) -> None:
    job = cli_server.create_job(SERVICE, "sh -c 'echo out-$(hostname); echo err-$(hostname) >&2'")
    executor_id = cli_server.start(job)
    cli_server.wait_final(job, executor_id)
    first = containers(cli_server)[0]
    one = cli(cli_server, "logs", job["Name"], executor_id, "--container", first["ContainerId"])
    short, host = first["ContainerId"][:12], hostnames[first["ContainerId"]]
    assert one.returncode == 0, one.stderr
    assert sorted(one.stdout.splitlines()) == [f"err-{host}", f"out-{host}"]
    stderr_only = cli(cli_server, "logs", job["Name"], executor_id, "--container", short, "--stream", "stderr")
    assert stderr_only.stdout == f"err-{host}\n"
    replayed = cli(cli_server, "logs", job["Name"], executor_id, "--follow", "--stream", "stdout")
    assert replayed.returncode == 0, replayed.stderr
    assert f"[{first['NodeHostname']}/{first['TaskName']}] out-{host}" in replayed.stdout.splitlines()
    assert len(replayed.stdout.splitlines()) == 3 and "err-" not in replayed.stdout + replayed.stderr


def test_ctrl_c_in_a_pipe_leaves_the_run_alone_and_exits_130(cli_server: Server, tmp_path: Path) -> None:
    job = cli_server.create_job(SERVICE, "sh -c 'echo started; sleep 30'")
    process = subprocess.Popen(
        [sys.executable, "-m", "dce_jobs", "run", job["JobId"], "--all"],
        cwd=REPO,
        env=client_env(cli_server),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=(tmp_path / "stderr").open("w"),
        text=True,
    )
    try:
        assert process.stdout is not None
        assert "started" in process.stdout.readline()  # following live
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=30) == 130
    finally:
        process.kill()
    assert "left execution" in (tmp_path / "stderr").read_text()
    executor_id = cli_server.json("GET", f"/api/jobs/{job['JobId']}")["Executors"][-1]
    assert cli_server.inspect(job, executor_id)["State"] == "running"
    cli_server.json("POST", f"/api/jobs/{job['JobId']}/executors/{executor_id}/stop", {})


def read_until(fd: int, wanted: str, *, timeout_s: float = 60) -> str:
    """What a terminal shows until `wanted` appears in it (all of it so far)."""
    seen = b""
    deadline = time.monotonic() + timeout_s
    while wanted.encode() not in seen:
        left = deadline - time.monotonic()
        assert left > 0, f"{wanted!r} never came: {seen.decode(errors='replace')[-500:]!r}"
        if select.select([fd], [], [], left)[0]:
            try:
                chunk = os.read(fd, 4096)
            except OSError:  # the child closed the terminal
                chunk = b""
            assert chunk, f"{wanted!r} never came: {seen.decode(errors='replace')[-500:]!r}"
            seen += chunk
    return seen.decode(errors="replace")


def test_ctrl_c_on_a_terminal_asks_then_stops_the_run_in_colour(cli_server: Server) -> None:
    job = cli_server.create_job(SERVICE, "sh -c 'echo started; sleep 30'")
    master, slave = pty.openpty()
    process = subprocess.Popen(
        [sys.executable, "-m", "dce_jobs", "run", job["JobId"], "--all"],
        cwd=REPO,
        env={**client_env(cli_server), "TERM": "xterm"},
        stdin=slave,
        stdout=slave,
        stderr=slave,
    )
    os.close(slave)
    try:
        shown = read_until(master, " started\r\n")  # a line of the run (not the note "started execution")
        assert "\033[" in shown  # a terminal gets colour
        process.send_signal(signal.SIGINT)
        read_until(master, "stop this execution? (no: keep following) [y/N]")
        os.write(master, b"y\n")
        shown = read_until(master, "0 of 3 succeeded")
        assert process.wait(timeout=60) == 1
    finally:
        process.kill()
        os.close(master)
    assert "stopping execution" in shown and "stopped" in shown
    executor_id = cli_server.json("GET", f"/api/jobs/{job['JobId']}")["Executors"][-1]
    results = cli_server.inspect(job, executor_id)["Result"]
    assert {(r["Status"], r["EndReason"]) for r in results} == {("RUNNING_FAILED", "stopped")}
