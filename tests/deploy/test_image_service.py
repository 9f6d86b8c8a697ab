"""The plugin as it is deployed: the image built offline on a lab manager, run as a Swarm service by the README's block.

The lab's nodes have no route out, so the build there proves it needs no network. The service runs as the
README's deploy section says (only the socket path differs on the lab); the tests then go through its
published port, and the last one upgrades it the README's way and checks what survives on the volume.
Figures (image size, time to healthy, the update) go to test-output/deploy.json.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

import dce_jobs
from tests.integration.lab import Lab

REPO = Path(__file__).resolve().parents[2]
LAB_DIR = os.environ.get("DCE_JOBS_DEPLOY_LAB_DIR", "/tmp/dce-jobs-deploy-lab")
IMAGE = f"dce-jobs:{dce_jobs.__version__}"
UPGRADE_IMAGE = "dce-jobs:next"
SERVICE = "dce-jobs"
VOLUME = "dce-jobs-data"
WEB = "ddp-web"
PORT = 8080
FINAL = {"FINISHED", "CREATE_FAILED", "RUNNING_FAILED"}
PLUGIN_LABELS = {
    "io.daocloud.dce.plugin.name",
    "io.daocloud.dce.plugin.description",
    "io.daocloud.dce.plugin.categories",
    "io.daocloud.dce.plugin.vendor",
    "io.daocloud.dce.plugin.required-dce-version",
    "io.daocloud.dce.plugin.nano-cpus-limit",
    "io.daocloud.dce.plugin.memory-bytes-limit",
}

pytestmark = [pytest.mark.engine, pytest.mark.swarm, pytest.mark.timeout(900)]


def readme_deploy_block() -> str:
    """The shell block of the README that the deploy section says this test runs."""
    text = (REPO / "README.md").read_text()
    marker = "<!-- tests/deploy/test_image_service.py runs the next block -->"
    assert marker in text, "the README's deploy section lost its tested block"
    match = re.search(r"```sh\n(.*?)```", text[text.index(marker) :], re.S)
    assert match, "no ```sh block after the marker"
    return match.group(1)


def _parse_time(stamp: str) -> datetime:
    """An engine timestamp (RFC 3339, nanoseconds)."""
    return datetime.fromisoformat(stamp)


@dataclass
class Deployment:
    """The lab, the service dce-jobs on its manager, and how to reach it."""

    lab: Lab
    token: str
    figures: dict[str, Any] = field(default_factory=dict)

    @property
    def url(self) -> str:
        """The published port on the manager's lab address."""
        return f"http://{self.lab.manager.addr}:{PORT}"

    @property
    def socket_path(self) -> str:
        """The manager's engine socket (the lab's /var/run/docker.sock)."""
        return self.lab.manager.unix_url.removeprefix("unix://")

    def docker(self, *args: str, node: int = 1, timeout_s: float = 120) -> str:
        """Run the docker CLI against a lab node's engine; return stdout, fail the test on an error."""
        proc = subprocess.run(
            ["docker", "-H", self.lab.node(node).unix_url, *args],
            capture_output=True,
            text=True,
            timeout=timeout_s,
            stdin=subprocess.DEVNULL,
            check=False,
        )
        assert proc.returncode == 0, f"docker {' '.join(args)}: {proc.stderr.strip()}"
        return proc.stdout

    def inspect_json(self, *args: str) -> Any:
        """`docker inspect`-like output, parsed."""
        return json.loads(self.docker(*args))

    def call(self, method: str, path: str, body: Any = None, *, token: bool = True) -> tuple[int, bytes, Any]:
        """One HTTP request through the published port: status, body bytes, headers."""
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(self.url + path, data=data, method=method)
        if method not in ("GET", "HEAD"):
            request.add_header("Content-Type", "application/json")  # writes need it, also without a body
        if token:
            request.add_header("Authorization", f"Bearer {self.token}")
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                return response.status, response.read(), response.headers
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read(), exc.headers

    def api(self, method: str, path: str, body: Any = None) -> Any:
        """A JSON API call that must succeed."""
        status, raw, _ = self.call(method, path, body)
        assert status in (200, 202), f"{method} {path}: {status} {raw[:500]!r}"
        return json.loads(raw) if raw else None

    def running_task(self) -> dict[str, Any]:
        """The one running task of the dce-jobs service (Swarm reports it running once it is healthy)."""
        tasks = self.lab.tasks(SERVICE)
        assert len(tasks) == 1, tasks
        return tasks[0]

    def wait_healthy(self, *, not_task: str = "", timeout_s: float = 180) -> dict[str, Any]:
        """Wait until a task (other than not_task) runs and its container's health is healthy; return its inspect."""
        deadline = time.monotonic() + timeout_s
        while True:
            tasks = [t for t in self.lab.tasks(SERVICE) if t["TaskId"] != not_task and t["ContainerId"]]
            if tasks:
                container = self.inspect_json("inspect", tasks[0]["ContainerId"])[0]
                if container["State"].get("Health", {}).get("Status") == "healthy":
                    container["TaskId"] = tasks[0]["TaskId"]
                    return container  # type: ignore[no-any-return]
            if time.monotonic() > deadline:
                ps = self.docker("service", "ps", "--no-trunc", SERVICE)
                pytest.fail(f"dce-jobs not healthy after {timeout_s} s:\n{ps}")
            time.sleep(0.2)

    def healthy_after(self, container: dict[str, Any]) -> tuple[float, float]:
        """Seconds from the task's creation and from the container's start to its first passing health check."""
        task = self.inspect_json("inspect", "--type", "task", container["TaskId"])[0]
        passed = [h for h in container["State"]["Health"]["Log"] if h["ExitCode"] == 0]
        healthy_at = _parse_time(passed[0]["End"])
        return (
            (healthy_at - _parse_time(task["CreatedAt"])).total_seconds(),
            (healthy_at - _parse_time(container["State"]["StartedAt"])).total_seconds(),
        )

    def wait_final(self, job_id: str, executor_id: str, *, timeout_s: float = 120) -> dict[str, Any]:
        """Poll inspect until every Result is final."""
        deadline = time.monotonic() + timeout_s
        while True:
            body: dict[str, Any] = self.api("GET", f"/api/jobs/{job_id}/inspect/{executor_id}")
            if all(r["Status"] in FINAL for r in body["Result"]):
                return body
            if time.monotonic() > deadline:
                pytest.fail(f"not final after {timeout_s} s: {[r['Status'] for r in body['Result']]}")
            time.sleep(0.2)


def _write_figures(figures: dict[str, Any]) -> None:
    out = Path(os.environ.get("DCE_JOBS_TEST_OUTPUT") or REPO / "test-output")
    out.mkdir(parents=True, exist_ok=True)
    (out / "deploy.json").write_text(json.dumps(figures, indent=2, ensure_ascii=False) + "\n")


@pytest.fixture(scope="module")
def deployment() -> Iterator[Deployment]:
    """A 3-node lab with dce-jobs built on its manager and run there as the README says; torn down after."""
    if os.geteuid() != 0:
        pytest.skip("the Docker lab needs root")
    for tool in ("dockerd", "openssl"):
        if not shutil.which(tool):
            pytest.skip(f"{tool} is missing (scripts/install-system-deps engine image)")
    lab = Lab.up(nodes=3, lab_dir=LAB_DIR, prefix="ddp", net="10.222.0")
    figures: dict[str, Any] = {}
    try:
        started = time.monotonic()
        build = subprocess.run(
            [str(REPO / "scripts" / "build-image")],
            env={**os.environ, "DOCKER_HOST": lab.manager.unix_url},
            cwd=REPO,
            capture_output=True,
            text=True,
            timeout=600,
            stdin=subprocess.DEVNULL,
            check=False,
        )
        build_log = [line for line in build.stderr.splitlines() if "build-image" in line]
        assert build.returncode == 0, "\n".join(build.stderr.splitlines()[-30:])
        figures["build_s"] = round(time.monotonic() - started, 1)
        figures["build_log"] = build_log
        lab.create_service(WEB, 3)

        script = readme_deploy_block()
        assert f" {IMAGE}" in script, f"the README's block must run {IMAGE} (dce_jobs.__version__)"
        sock = lab.manager.unix_url.removeprefix("unix://")
        for old, new in (("src=/var/run/docker.sock", f"src={sock}"), ("%g /var/run/docker.sock", f"%g {sock}")):
            assert old in script, old
            script = script.replace(old, new)
        script += '\nprintf "TOKEN=%s\\n" "$TOKEN"\n'
        deploy = subprocess.run(
            ["bash", "-euo", "pipefail", "-c", script],
            env={**os.environ, "DOCKER_HOST": lab.manager.unix_url},
            capture_output=True,
            text=True,
            timeout=300,
            stdin=subprocess.DEVNULL,
            check=False,
        )
        assert deploy.returncode == 0, f"the README's deploy block failed:\n{deploy.stderr[-3000:]}"
        token = deploy.stdout.strip().splitlines()[-1].removeprefix("TOKEN=")
        assert re.fullmatch(r"[0-9a-f]{48}", token), deploy.stdout[-500:]
        deployment = Deployment(lab=lab, token=token, figures=figures)
        container = deployment.wait_healthy()
        from_create, from_start = deployment.healthy_after(container)
        figures["healthy_after_service_create_s"] = round(from_create, 1)
        figures["healthy_after_container_start_s"] = round(from_start, 1)
        yield deployment
    finally:
        _write_figures(figures)
        lab.down()


def test_the_image_is_built_offline_as_specified(deployment: Deployment) -> None:
    image = deployment.inspect_json("image", "inspect", IMAGE)[0]
    config = image["Config"]
    assert config["User"] == "10001:10001"
    assert PLUGIN_LABELS <= set(config["Labels"]) and config["Labels"]["io.daocloud.dce.plugin.name"] == "dce-jobs"
    assert config["Labels"]["org.opencontainers.image.version"] == dce_jobs.__version__
    assert "/api/health" in " ".join(config["Healthcheck"]["Test"])
    assert "/data" in config["Volumes"] and "8080/tcp" in config["ExposedPorts"]
    deployment.figures["image_size_bytes"] = image["Size"]
    deployment.figures["image_size_mb"] = round(image["Size"] / 1e6)
    # the lab's nodes have no route out: whatever the build needed came from the host's wheelhouse and base
    pull = subprocess.run(
        ["docker", "-H", deployment.lab.manager.unix_url, "pull", "python:3.11-slim"],
        capture_output=True,
        timeout=60,
        check=False,
    )
    assert pull.returncode != 0, "the lab reached a registry: this test would not prove an offline build"
    versions = deployment.docker("run", "--rm", IMAGE, "python", "-c", "import sys; print(sys.version_info[:2])")
    assert versions.strip() == "(3, 11)"

    container = deployment.running_task()["ContainerId"]
    ids = deployment.docker("exec", container, "id")
    gid = os.stat(deployment.socket_path).st_gid
    assert ids.startswith("uid=10001(dcejobs) gid=10001(dcejobs)") and f"{gid}" in ids.split("groups=")[1], ids


def test_the_service_serves_the_panel_and_the_manifest(deployment: Deployment) -> None:
    frontend = REPO / "dce_jobs" / "frontend"
    status, body, headers = deployment.call("GET", "/", token=False)
    assert status == 200 and body == (frontend / "index.html").read_bytes()
    assert headers["Content-Type"].startswith("text/html")
    files = sorted(p for p in frontend.rglob("*") if p.is_file())
    assert len(files) > 5
    for path in files:
        status, body, _ = deployment.call("GET", f"/static/{path.relative_to(frontend).as_posix()}", token=False)
        assert (status, body) == (200, path.read_bytes()), path
    status, body, headers = deployment.call("GET", "/plugin.json", token=False)
    assert status == 200 and headers["Content-Type"].startswith("application/json")
    assert json.loads(body) == json.loads((REPO / "dce_jobs" / "plugin.json").read_bytes())
    status, body, _ = deployment.call("GET", "/api/health", token=False)
    assert status == 200 and json.loads(body)["version"] == dce_jobs.__version__
    status, body, _ = deployment.call("GET", "/api/jobs", token=False)
    assert status == 401, "the token of the README's block must be in force"


def _secret_job(deployment: Deployment, name: str, secret: str) -> dict[str, Any]:
    """A job that prints its container's hostname, the md5 of its secret argument, and the secret itself."""
    body = {
        "AppName": "deploy",
        "ServiceName": WEB,
        "Name": name,
        "Cmd": 'sh -c \'hostname; echo "$0" | md5sum; echo "$0"\'',
        "SecretArgs": [secret],
    }
    job: dict[str, Any] = deployment.api("POST", "/api/jobs", body)
    assert job["SecretArgs"] == ["*" * len(secret)]
    return job


def _run_secret_job(deployment: Deployment, job: dict[str, Any], secret: str) -> tuple[str, dict[str, Any]]:
    """Start the job on every container of the spread service; check each output; return the ExecutorId, inspect."""
    started = deployment.api("POST", f"/api/jobs/{job['JobId']}/start")
    executor_id: str = started["Executors"][-1]
    result = deployment.wait_final(job["JobId"], executor_id)
    digest = hashlib.md5((secret + "\n").encode()).hexdigest()
    node_hostnames = {n.node_id: n.hostname for n in deployment.lab.nodes}
    assert len(result["Result"]) == len(deployment.lab.tasks(WEB)) == 3
    for entry in result["Result"]:
        assert (entry["Status"], entry["ExitCode"], entry["E"]) == ("FINISHED", 0, ""), entry
        hostname, checksum, masked = entry["Output"].splitlines()
        assert checksum == f"{digest}  -", "the secret reached the command intact"
        assert masked == "*" * len(secret)
        # the lab names each task container <node hostname>-<slot>: the exec ran in it, on its own node
        assert hostname.startswith(node_hostnames[entry["NodeId"]] + "-"), (hostname, entry["NodeId"])
    assert secret not in json.dumps(result)
    return executor_id, result


def test_a_job_with_a_secret_runs_on_three_nodes_and_its_log_downloads(deployment: Deployment) -> None:
    tasks = deployment.lab.tasks(WEB)
    assert len({t["NodeId"] for t in tasks}) == 3, "the service is spread over the three nodes"
    secret = "s3cr3t-deploy-one"
    job = _secret_job(deployment, "deploy-secret", secret)
    executor_id, result = _run_secret_job(deployment, job, secret)
    assert {r["NodeId"] for r in result["Result"]} == {n.node_id for n in deployment.lab.nodes}

    status, body, headers = deployment.call("GET", f"/api/jobs/{job['JobId']}/log/{executor_id}")
    assert status == 200 and headers["Content-Type"].startswith("text/plain")
    assert "attachment" in headers["Content-Disposition"]
    log = body.decode()
    assert secret not in log
    for entry in result["Result"]:
        assert entry["ContainerId"] in log and entry["Output"] in log
    status, body, _ = deployment.call(
        "GET", f"/api/jobs/{job['JobId']}/log/{executor_id}?ContainerId={result['Result'][0]['ContainerId']}"
    )
    assert status == 200 and body.decode() == result["Result"][0]["Output"]


def _sleeps_left(deployment: Deployment) -> list[str]:
    """`sleep 30` processes still running in the service's containers (on their own nodes' engines)."""
    left = []
    for task in deployment.lab.tasks(WEB):
        node = next(n.index for n in deployment.lab.nodes if n.node_id == task["NodeId"])
        ps = deployment.docker("exec", task["ContainerId"], "ps", "-o", "args", node=node)
        left += [line for line in ps.splitlines() if line.strip() == "sleep 30"]
    return left


def test_an_upgrade_keeps_jobs_results_and_secrets_and_ends_the_run_in_flight(deployment: Deployment) -> None:
    secret = "s3cr3t-survives-upgrade"
    kept = _secret_job(deployment, "deploy-kept", secret)
    kept_executor, kept_before = _run_secret_job(deployment, kept, secret)
    sleeper = deployment.api(
        "POST", "/api/jobs", {"AppName": "deploy", "ServiceName": WEB, "Name": "deploy-sleep", "Cmd": "sleep 30"}
    )
    sleep_executor = deployment.api("POST", f"/api/jobs/{sleeper['JobId']}/start")["Executors"][-1]
    deadline = time.monotonic() + 60
    while True:
        running = deployment.api("GET", f"/api/jobs/{sleeper['JobId']}/inspect/{sleep_executor}")
        if all(r["Status"] == "RUNNING" for r in running["Result"]):
            break
        assert time.monotonic() < deadline, running
        time.sleep(0.2)
    old_task = deployment.running_task()["TaskId"]

    # the README's upgrade: a new image on the manager, then `docker service update --image`
    deployment.docker("tag", IMAGE, UPGRADE_IMAGE)
    started = time.monotonic()
    deployment.docker("service", "update", "--image", UPGRADE_IMAGE, SERVICE, timeout_s=300)
    deployment.figures["service_update_s"] = round(time.monotonic() - started, 1)
    container = deployment.wait_healthy(not_task=old_task)
    assert container["Config"]["Image"] == UPGRADE_IMAGE
    assert [m["Name"] for m in container["Mounts"] if m["Destination"] == "/data"] == [VOLUME]
    from_create, from_start = deployment.healthy_after(container)
    deployment.figures["upgrade_healthy_after_task_create_s"] = round(from_create, 1)
    deployment.figures["upgrade_healthy_after_container_start_s"] = round(from_start, 1)

    # the run in flight ended, recorded as such, and left nothing running
    ended = deployment.wait_final(sleeper["JobId"], sleep_executor, timeout_s=60)
    deployment.figures["in_flight_results"] = [
        {k: r.get(k) for k in ("Status", "ExitCode", "E")} for r in ended["Result"]
    ]
    for entry in ended["Result"]:
        assert entry["Status"] == "RUNNING_FAILED" and entry["E"], entry
    assert _sleeps_left(deployment) == []

    # jobs, finished results and secrets survived on the volume
    names = {j["Name"]: j for j in deployment.api("GET", "/api/jobs?AppName=deploy")}
    assert {"deploy-kept", "deploy-sleep"} <= set(names)
    assert names["deploy-kept"]["SecretArgs"] == ["*" * len(secret)]
    assert deployment.api("GET", f"/api/jobs/{kept['JobId']}/inspect/{kept_executor}") == kept_before
    _run_secret_job(deployment, kept, secret)
