"""`dce-jobs rotate-secrets`: re-encrypt every stored secret with the newest key."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from dce_jobs.cipher import SecretBox, generate_key
from dce_jobs.errors import SecretUndecryptable
from dce_jobs.store.sqlite import SqliteStore

from .conftest import job_body


async def test_rotation_moves_every_secret_to_the_newest_key(make_client: Any, tmp_path: Path) -> None:
    old, new = generate_key(), generate_key()
    client = await make_client({"DCE_JOBS_SECRET_KEY": old})
    for name in ("a", "b"):
        assert (await client.post("/api/jobs", json=job_body(Name=name, SecretArgs=[f"secret-{name}"]))).status == 200
    assert (await client.post("/api/jobs", json=job_body(Name="none", SecretArgs=[]))).status == 200
    await client.close()

    env = {**os.environ, "DCE_JOBS_DATA_DIR": str(tmp_path / "data"), "DCE_JOBS_SECRET_KEY": f"{new},{old}"}
    proc = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "dce_jobs", "rotate-secrets"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    assert "re-encrypted the secrets of 2 jobs" in proc.stdout

    store = SqliteStore(tmp_path / "data" / "dce-jobs.sqlite3")
    await store.open()
    jobs = {j.name: j for j in await store.list_jobs()}
    await store.close()
    only_new = SecretBox([new])
    assert [only_new.open(s) for s in jobs["a"].secret_args] == ["secret-a"]
    assert [only_new.open(s) for s in jobs["b"].secret_args] == ["secret-b"]
    try:
        SecretBox([old]).open(jobs["a"].secret_args[0])
        raise AssertionError("the old key still decrypts")
    except SecretUndecryptable:
        pass


def test_rotation_with_a_wrong_key_says_so(tmp_path: Path) -> None:
    env = {**os.environ, "DCE_JOBS_DATA_DIR": str(tmp_path / "data"), "DCE_JOBS_SECRET_KEY": "not-a-key"}
    proc = subprocess.run(
        [sys.executable, "-m", "dce_jobs", "rotate-secrets"], env=env, capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 2
    assert proc.stderr.strip() == "dce-jobs: DCE_JOBS_SECRET_KEY: key #1 is not a Fernet key (32 url-safe base64 bytes)"
