"""A client that aborts a log download is a normal end for a real `dce-jobs serve`: no 500, no traceback."""

from __future__ import annotations

import asyncio
import socket
import struct
import time
from pathlib import Path

from dce_jobs.models import ContainerResult, Execution, Job, Status, Target
from dce_jobs.store.sqlite import SqliteStore
from tests.server import Server

JOB_ID = "big-output-job"
EXECUTOR = "1496287694.460088"
CHUNK = b"x" * 65535 + b"\n"
CHUNKS = 512  # 32 MiB: far more than the socket buffers hold, so the server is still writing when we leave


async def _seed(data_dir: Path) -> None:
    store = SqliteStore(data_dir / "dce-jobs.sqlite3")
    await store.open()
    try:
        await store.create_job(Job(job_id=JOB_ID, app_name="a", service_name="web", name="big", cmd="yes"))
        target = Target(container_id="c" * 64, node_id="n" * 25)
        execution = Execution(job_id=JOB_ID, executor_id=EXECUTOR, created_at=float(EXECUTOR), targets=(target,))
        result = ContainerResult(
            job_id=JOB_ID,
            executor_id=EXECUTOR,
            index=0,
            container_id=target.container_id,
            node_id=target.node_id,
            status=Status.FINISHED,
            exec_id="e" * 64,
            exit_code=0,
            output_bytes=len(CHUNK) * CHUNKS,
        )
        await store.create_execution(execution, [result])
        for seq in range(CHUNKS):
            await store.append_output(result, seq, CHUNK)
    finally:
        await store.close()


def test_an_aborted_log_download_is_no_error(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    asyncio.run(_seed(data_dir))
    server = Server(data_dir=data_dir, log_path=tmp_path / "server.log", env={"DCE_JOBS_LOG_LEVEL": "DEBUG"})
    try:
        server.wait_ready()
        with socket.create_connection(("127.0.0.1", server.port), timeout=30) as sock:
            sock.sendall(f"GET /api/jobs/{JOB_ID}/log/{EXECUTOR} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode())
            received = b""
            while len(received) < 256 * 1024:
                received += sock.recv(65536)
            assert received.startswith(b"HTTP/1.1 200")
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))  # close with a reset
        deadline = time.monotonic() + 60  # a bound for a hung server, not a speed check
        while "the client went away" not in server.log_text() and "Traceback" not in server.log_text():
            assert time.monotonic() < deadline, server.log_text()[-2000:]
            time.sleep(0.1)
        assert server.request("GET", "/api/health")[0] == 200
    finally:
        server.stop()
    log = server.log_path.read_text(errors="replace")
    assert "Traceback" not in log and " failed" not in log and "internal error" not in log, log[-3000:]
    assert "the client went away" in log
