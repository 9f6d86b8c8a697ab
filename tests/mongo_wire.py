"""A throwaway MongoDB wire-protocol server for tests: nx-27017 (built on SQLite) on a free loopback port.

It speaks the real protocol to PyMongo's AsyncMongoClient, so the Mongo store is tested over the wire in
every run without a MongoDB installation. It is not MongoDB: a standalone server (no replica set), and it
cannot replace an existing document that holds binary data (the store avoids that operation).
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from importlib.metadata import version
from pathlib import Path
from typing import Any

from pymongo import MongoClient
from pymongo.errors import PyMongoError

NX_VERSION = version("nx-27017")
_START_TIMEOUT_S = 60.0
_PING_TIMEOUT_MS = 500
_STOP_TIMEOUT_S = 10.0
_PORT_TRIES = 3


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _answers_ping(url: str) -> bool:
    client: MongoClient[dict[str, Any]]
    with MongoClient(url, serverSelectionTimeoutMS=_PING_TIMEOUT_MS, connectTimeoutMS=_PING_TIMEOUT_MS) as client:
        try:
            client.admin.command("ping")
        except PyMongoError:
            return False
    return True


def _stop(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(_STOP_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def _start(data_dir: Path, port: int) -> subprocess.Popen[bytes]:
    # pid and log files inside data_dir: the defaults are shared paths under /tmp
    command = [
        sys.executable, "-m", "nx_27017.nx_27017",
        "--host", "127.0.0.1", "-p", str(port), "--data-dir", str(data_dir),
        "--pid-file", str(data_dir / "nx.pid"), "--log-file", str(data_dir / "nx.log"),
    ]  # fmt: skip
    with open(data_dir / "stdout.log", "ab") as out:
        return subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, cwd=data_dir)


def _started(data_dir: Path) -> tuple[subprocess.Popen[bytes], str]:
    """A running server and its URL; a port taken between picking and binding gets another try."""
    for _ in range(_PORT_TRIES):
        port = _free_port()
        url = f"mongodb://127.0.0.1:{port}/"
        process = _start(data_dir, port)
        deadline = time.monotonic() + _START_TIMEOUT_S
        while process.poll() is None and time.monotonic() < deadline:
            if _answers_ping(url):
                return process, url
        _stop(process)
    log = (data_dir / "stdout.log").read_text(errors="replace")[-2000:]
    raise RuntimeError(f"nx-27017 did not answer a ping within {_START_TIMEOUT_S} s:\n{log}")


@contextmanager
def nx27017(data_dir: Path) -> Iterator[str]:
    """Run nx-27017 with its files in `data_dir` (created, removed after); yield its mongodb:// URL."""
    data_dir.mkdir(parents=True, exist_ok=True)
    process, url = _started(data_dir)
    try:
        yield url
    finally:
        _stop(process)
        shutil.rmtree(data_dir, ignore_errors=True)
