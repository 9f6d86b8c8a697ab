"""Start-up of `dce-jobs serve`: every check happens before listening, and a failure is one line naming the path."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

from dce_jobs.cipher import generate_key
from dce_jobs.store.sqlite import SqliteStore

REPO = Path(__file__).resolve().parents[2]


def serve(env: dict[str, str], *, port: int = 0, timeout_s: float = 30) -> subprocess.CompletedProcess[str]:
    """Run `python -m dce_jobs serve` expecting it to stop by itself; return what it printed."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("DCE_JOBS_")}
    return subprocess.run(
        [sys.executable, "-m", "dce_jobs", "serve", "--port", str(port)],
        cwd=REPO,
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=timeout_s,
        check=False,
    )


def test_an_unusable_data_dir_without_a_key_is_one_line_naming_it(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    data_dir = blocker / "data"  # cannot be created, even by root
    done = serve({"DCE_JOBS_DATA_DIR": str(data_dir)})
    assert done.returncode == 2
    lines = (done.stdout + done.stderr).strip().splitlines()
    assert len(lines) == 1, lines
    assert lines[0].startswith("dce-jobs: ") and str(data_dir) in lines[0]


def test_with_a_key_the_error_still_comes_before_listening(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    data_dir = blocker / "data"
    done = serve({"DCE_JOBS_DATA_DIR": str(data_dir), "DCE_JOBS_SECRET_KEY": generate_key()})
    assert done.returncode == 2
    lines = (done.stdout + done.stderr).strip().splitlines()
    assert len(lines) == 1 and str(data_dir) in lines[0], lines
    assert "listening" not in done.stdout + done.stderr


def test_a_port_in_use_is_one_line(tmp_path: Path) -> None:
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = serve({"DCE_JOBS_DATA_DIR": str(tmp_path / "data")}, port=port)
    lines = (done.stdout + done.stderr).strip().splitlines()
    assert done.returncode == 2
    assert lines[-1].startswith("dce-jobs: cannot listen on 127.0.0.1:") and "listening" not in "".join(lines)


async def test_the_data_dir_and_the_database_are_private(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    store = SqliteStore(data_dir / "dce-jobs.sqlite3")
    await store.open()
    try:
        await store.ping()
        files = [p for p in data_dir.iterdir()]
        assert stat.S_IMODE(data_dir.stat().st_mode) == 0o700
        assert files and all(stat.S_IMODE(p.stat().st_mode) == 0o600 for p in files), [
            (p.name, oct(p.stat().st_mode)) for p in files
        ]
    finally:
        await store.close()


async def test_an_older_world_readable_database_is_tightened(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    path = data_dir / "dce-jobs.sqlite3"
    path.touch(mode=0o644)
    path.chmod(0o644)
    store = SqliteStore(path)
    await store.open()
    await store.close()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
