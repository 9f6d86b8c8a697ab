"""Browser fixtures: headless Chromium driven by selenium through Debian's chromedriver, and a panel server.

Needs `apt-get install chromium chromium-driver fonts-noto-cjk` and `pip install selenium`. Without them
the browser tests skip, unless DCE_JOBS_REQUIRE_BROWSER=1 makes that a failure (for CI).
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.panel import Panel

CHROMIUM = os.environ.get("DCE_JOBS_CHROMIUM", "/usr/bin/chromium")
CHROMEDRIVER = os.environ.get("DCE_JOBS_CHROMEDRIVER", "/usr/bin/chromedriver")
REPO = Path(__file__).resolve().parents[2]


def _missing() -> str:
    try:
        import selenium  # noqa: F401
    except ImportError:
        return "selenium is not installed (pip install selenium)"
    for path in (CHROMIUM, CHROMEDRIVER):
        if not os.access(path, os.X_OK):
            return f"{path} is missing (apt-get install chromium chromium-driver)"
    return ""


def output_dir() -> Path:
    """The run's output folder: DCE_JOBS_TEST_OUTPUT, else test-output/ in the repo."""
    return Path(os.environ.get("DCE_JOBS_TEST_OUTPUT") or REPO / "test-output")


@pytest.fixture
def driver(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """A fresh headless Chromium (own profile, so sessionStorage starts empty) that saves downloads to a folder."""
    missing = _missing()
    if missing:
        if os.environ.get("DCE_JOBS_REQUIRE_BROWSER") == "1":
            pytest.fail(missing)
        pytest.skip(missing)
    # selenium-manager must not download a browser or a driver: we bring both.
    os.environ["SE_OFFLINE"] = "1"
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    profile = tmp_path_factory.mktemp("chromium-profile")
    downloads = tmp_path_factory.mktemp("downloads")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in (
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--disable-background-networking",
        "--no-first-run",
        "--no-default-browser-check",
        "--disable-extensions",
        "--disable-sync",
        "--disable-component-update",
        "--lang=zh-CN",
        "--window-size=1366,1000",
        f"--user-data-dir={profile}",
    ):
        options.add_argument(arg)
    options.add_experimental_option(
        "prefs",
        {
            "download.default_directory": str(downloads),
            "download.prompt_for_download": False,
            "safebrowsing.enabled": False,
        },
    )
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})  # the console, for CSP violations
    log = tmp_path_factory.mktemp("chromedriver") / "chromedriver.log"
    browser = webdriver.Chrome(service=Service(CHROMEDRIVER, log_output=str(log)), options=options)
    browser.execute_cdp_cmd("Browser.setDownloadBehavior", {"behavior": "allow", "downloadPath": str(downloads)})
    browser.download_dir = downloads  # type: ignore[attr-defined]
    try:
        yield browser
    finally:
        browser.quit()


@pytest.fixture
def screenshots() -> Path:
    """Where the tests save screenshots of the main views."""
    folder = output_dir() / "screenshots"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_healthy(base_url: str, proc: subprocess.Popen[bytes] | None = None, timeout: float = 20.0) -> None:
    """Wait until GET /api/health answers 200."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"dce-jobs exited with {proc.returncode}")
        try:
            with urllib.request.urlopen(f"{base_url}/api/health", timeout=2) as resp:
                if resp.status == 200:
                    return
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.2)
    raise RuntimeError(f"dce-jobs at {base_url} did not become healthy in {timeout}s")


ServerMaker = Callable[..., "PanelServer"]


class PanelServer:
    """A `dce-jobs serve` subprocess on a free loopback port."""

    def __init__(self, data_dir: Path, env: dict[str, str]) -> None:
        self.data_dir = data_dir
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        data_dir.mkdir(parents=True, exist_ok=True)
        self.log_path = data_dir / "server.log"
        full_env = {
            **os.environ,
            "DCE_JOBS_HOST": "127.0.0.1",
            "DCE_JOBS_PORT": str(self.port),
            "DCE_JOBS_DATA_DIR": str(data_dir),
            **env,
        }
        self._log = open(self.log_path, "wb")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "dce_jobs", "serve"], cwd=REPO, env=full_env, stdout=self._log, stderr=self._log
        )
        try:
            wait_healthy(self.url, self.proc)
        except RuntimeError as e:
            self.stop()
            raise RuntimeError(f"{e}\n{self.log()}") from None

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._log.close()


@pytest.fixture
def panel_server(tmp_path: Path) -> Iterator[ServerMaker]:
    """Start servers with `make(**env)`; by default none can reach a Docker engine."""
    started: list[PanelServer] = []

    def make(**env: str) -> PanelServer:
        # A socket that does not exist, so a lab engine running on this machine is never used by accident.
        env = {"DCE_JOBS_DOCKER_HOST": "unix:///nonexistent/docker.sock", **env}
        server = PanelServer(tmp_path / f"server{len(started)}", env)
        started.append(server)
        return server

    yield make
    for server in started:
        server.stop()


@pytest.fixture
def panel(driver: Any, screenshots: Path) -> Panel:
    """The page object, not yet pointed at a server."""
    return Panel(driver, screenshots)


# -- the engine: a 1-node lab swarm of our own (names and net differ from the integration tests' lab) ------------

# The lab's identity (netns/link prefix, /24, folder), so a second e2e run on the same machine (e.g. next to CI's)
# can use a lab of its own. DCE_JOBS_E2E_LAB_DIR is the older name of the folder's variable.
E2E_LAB_PREFIX = os.environ.get("DCE_JOBS_TEST_E2E_LAB_PREFIX") or "dce"
E2E_LAB_NET = os.environ.get("DCE_JOBS_TEST_E2E_LAB_NET") or "10.216.0"
E2E_LAB_DIR = (
    os.environ.get("DCE_JOBS_TEST_E2E_LAB_DIR") or os.environ.get("DCE_JOBS_E2E_LAB_DIR") or "/tmp/dce-jobs-e2e-lab"
)
E2E_SERVICE = "e2e_web"
E2E_REPLICAS = 3


@pytest.fixture(scope="session")
def e2e_lab() -> Iterator[Any]:
    """A 1-node swarm running the service `e2e_web` with 3 busybox replicas; torn down at the end."""
    if os.geteuid() != 0:
        pytest.skip("the Docker lab needs root")
    if not shutil.which("dockerd"):
        pytest.skip("dockerd is missing (scripts/install-system-deps engine)")
    from tests.integration.lab import Lab

    lab = Lab.up(nodes=1, lab_dir=E2E_LAB_DIR, prefix=E2E_LAB_PREFIX, net=E2E_LAB_NET)
    try:
        lab.create_service(E2E_SERVICE, E2E_REPLICAS)
        yield lab
    finally:
        lab.down()


@pytest.fixture
def lab_server(e2e_lab: Any, panel_server: ServerMaker) -> PanelServer:
    """A panel server pointed at the lab's manager."""
    return panel_server(
        DCE_JOBS_DOCKER_HOST=e2e_lab.manager.unix_url,
        DCE_JOBS_CONNECT_TIMEOUT_S="2",
        DCE_JOBS_DOCKER_TIMEOUT_S="15",
    )
