"""A real `dce-jobs serve` subprocess on a free loopback port, its log captured to a file (tests and bench)."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]


FINAL = frozenset({"FINISHED", "CREATE_FAILED", "RUNNING_FAILED"})


class ServerError(RuntimeError):
    """The server did not come up, or did not stop."""


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Server:
    """Handle on one `python -m dce_jobs serve` process."""

    def __init__(
        self, *, data_dir: Path, log_path: Path, env: dict[str, str] | None = None, code_dir: Path = REPO
    ) -> None:
        """Start the server on a free port with DCE_JOBS_DATA_DIR=data_dir; stdout and stderr go to log_path.

        `code_dir` holds the dce_jobs package that serves (the bench serves a baseline commit's beside this one).
        """
        self.code_dir = code_dir
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = log_path
        self.data_dir = data_dir
        self.token = ""  #: sent by request() when no token is given (the bench sets it)
        self._env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("DCE_JOBS_")},
            "DCE_JOBS_DATA_DIR": str(data_dir),
            "DCE_JOBS_HOST": "127.0.0.1",
            "DCE_JOBS_PORT": str(self.port),
            **(env or {}),
        }
        self._log = log_path.open("ab")
        self._spawn()

    def _spawn(self) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "dce_jobs", "serve"],
            cwd=self.code_dir,
            env=self._env,
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )
        self.pid = self.process.pid

    def restart(self, *, timeout_s: float = 30) -> Server:
        """Start the (stopped or killed) server again on the same port and data, and wait until it answers."""
        assert self.process.poll() is not None, "the server still runs"
        if self._log.closed:
            self._log = self.log_path.open("ab")
        self._spawn()
        return self.wait_ready(timeout_s=timeout_s)

    def kill(self) -> None:
        """SIGKILL the server (a crash)."""
        self.process.kill()
        self.process.wait(timeout=10)

    def terminate(self, *, timeout_s: float = 60) -> float:
        """SIGTERM the server and wait for it to exit; return how long that took."""
        started = time.monotonic()
        self.process.send_signal(signal.SIGTERM)
        self.process.wait(timeout=timeout_s)
        return time.monotonic() - started

    def wait_ready(self, *, timeout_s: float = 30) -> Server:
        """Block until GET /api/health answers 200; raise ServerError (with the log) otherwise."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise ServerError(f"dce-jobs exited {self.process.returncode}:\n{self.log_text()[-3000:]}")
            try:
                with urllib.request.urlopen(f"{self.url}/api/health", timeout=2) as response:
                    if response.status == 200:
                        return self
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass
            time.sleep(0.1)
        self.stop()
        raise ServerError(f"dce-jobs not ready after {timeout_s:.0f} s:\n{self.log_text()[-3000:]}")

    def stop(self, *, timeout_s: float = 20) -> int:
        """SIGTERM the server, SIGKILL it if it lingers; return its exit code."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=timeout_s)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        self._log.close()
        return self.process.returncode

    def log_text(self) -> str:
        """Everything the server wrote to stdout and stderr so far."""
        self._log.flush()
        return self.log_path.read_text(errors="replace")

    def request(
        self, method: str, path: str, *, body: Any = None, raw: bytes | None = None, token: str | None = None
    ) -> tuple[int, bytes, dict[str, str]]:
        """One blocking HTTP request: (status, body bytes, headers); body is sent as JSON, with `token` or the
        server's own `self.token`."""
        token = self.token if token is None else token
        data = raw if raw is not None else (None if body is None else json.dumps(body).encode())
        request = urllib.request.Request(f"{self.url}{path}", data=data, method=method)
        if data is not None or method not in {"GET", "HEAD"}:  # state-changing routes need it, also without a body
            request.add_header("Content-Type", "application/json")
        if token:
            request.add_header("Authorization", f"Bearer {token}")
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                return response.status, response.read(), dict(response.headers)
        except urllib.error.HTTPError as e:
            return e.code, e.read(), dict(e.headers)

    def text(self, method: str, path: str, body: Any = None) -> str:
        """A request that must succeed (ServerError otherwise); returns the body as text."""
        status, data, _ = self.request(method, path, body=body)
        if status >= 400:
            raise ServerError(f"{method} {path}: {status} {data[:500]!r}")
        return data.decode()

    def json(self, method: str, path: str, body: Any = None) -> Any:
        """A JSON request that must succeed (ServerError otherwise); returns the decoded body."""
        return json.loads(self.text(method, path, body) or "null")

    # -- the API's own words, for tests and the bench alike ------------------------------------------

    def create_job(self, service: str, cmd: str, *, app: str = "it", name: str = "", **fields: Any) -> dict[str, Any]:
        """POST a job (a unique name unless given) and return it."""
        body = {"AppName": app, "ServiceName": service, "Name": name or f"job-{time.monotonic_ns()}", "Cmd": cmd}
        return self.json("POST", "/api/jobs", {**body, **fields})  # type: ignore[no-any-return]

    def start(self, job: dict[str, Any], targets: list[dict[str, str]] | None = None, **body: Any) -> str:
        """Start a job (on `targets`, else every running container); the new ExecutorId."""
        payload = {**body, **({"Target": targets} if targets is not None else {})}
        return self.json("POST", f"/api/jobs/{job['JobId']}/start", payload)["Executors"][-1]  # type: ignore[no-any-return]

    def inspect(self, job: dict[str, Any] | str, executor_id: str) -> dict[str, Any]:
        """The inspect body of one execution (`job` a job or its JobId)."""
        job_id = job if isinstance(job, str) else job["JobId"]
        return self.json("GET", f"/api/jobs/{job_id}/inspect/{executor_id}")  # type: ignore[no-any-return]

    def wait_final(
        self, job: dict[str, Any] | str, executor_id: str, *, timeout_s: float = 60, poll_s: float = 0.2
    ) -> dict[str, Any]:
        """Poll inspect until every Result is final; ServerError after timeout_s."""
        deadline = time.monotonic() + timeout_s
        while True:
            body = self.inspect(job, executor_id)
            if all(r["Status"] in FINAL for r in body["Result"]):
                return body
            if time.monotonic() > deadline:
                raise ServerError(f"execution {executor_id} not final after {timeout_s:g} s")
            time.sleep(poll_s)
