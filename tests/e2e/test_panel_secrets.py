"""SecretArgs in the panel's form: one input per argument, and the browser under the Content-Security-Policy."""

from __future__ import annotations

import urllib.request
from typing import Any

import pytest

from dce_jobs.cipher import SecretBox, load_keys
from tests.e2e.panel import Panel, api
from tests.e2e.seed import get_job

pytestmark = pytest.mark.browser

SECRETS = ["", "xyz", "a b"]
MASKS = ["", "***", "***"]
#: runs before any page script (CDP scripts are exempt from the page's CSP): records every violation
RECORD_VIOLATIONS = (
    "window.__csp = [];"
    "document.addEventListener('securitypolicyviolation',"
    " (e) => window.__csp.push(e.violatedDirective + ' ' + e.blockedURI));"
)


def stored_secrets(server: Any, job_id: str) -> list[str]:
    """The job's SecretArgs as stored, decrypted with the server's key file."""
    box = SecretBox(load_keys((), server.data_dir))
    return [box.open(s) for s in get_job(server.data_dir, job_id).secret_args]


def test_an_unchanged_save_keeps_every_secret_and_rows_take_spaces(panel: Panel, panel_server: Any) -> None:
    server = panel_server()
    job = api(
        server,
        "POST",
        "/api/jobs",
        {"AppName": "2048", "ServiceName": "2048_2048", "Name": "密钥", "Cmd": "echo", "SecretArgs": SECRETS},
    )
    assert job["SecretArgs"] == MASKS
    panel.open(server.url)
    panel.click("edit-job", panel.job_row("密钥"))
    panel.shot("09-job-form-secrets")
    panel.save_job_form()  # unchanged
    assert api(server, "GET", f"/api/jobs/{job['JobId']}")["SecretArgs"] == MASKS
    assert stored_secrets(server, job["JobId"]) == SECRETS

    panel.click("edit-job", panel.job_row("密钥"))
    assert [i.get_attribute("value") for i in panel.secret_inputs()] == MASKS
    assert all(i.get_attribute("type") == "password" for i in panel.secret_inputs())
    panel.click("cancel-job")

    # A new secret with spaces is one argument; typing into a stored mask replaces it; only the last row goes.
    panel.click("edit-job", panel.job_row("密钥"))
    panel.add_secret("p q  r")
    panel.secret_inputs()[1].click()
    panel.secret_inputs()[1].send_keys("new")
    assert len(panel.find('[data-testid="remove-secret"]')) == 1
    panel.save_job_form()
    assert stored_secrets(server, job["JobId"]) == ["", "new", "a b", "p q  r"]
    panel.click("edit-job", panel.job_row("密钥"))
    panel.click("remove-secret")
    panel.wait(lambda: len(panel.secret_inputs()) == 3, what="the last row removed")
    panel.save_job_form()
    assert stored_secrets(server, job["JobId"]) == ["", "new", "a b"]


def test_the_panel_runs_under_its_content_security_policy(panel: Panel, panel_server: Any) -> None:
    server = panel_server()
    with urllib.request.urlopen(f"{server.url}/", timeout=10) as response:
        policy = response.headers["Content-Security-Policy"]
    assert "script-src 'self'" in policy and "frame-ancestors 'self'" in policy
    panel.driver.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument", {"source": RECORD_VIOLATIONS})
    api(server, "POST", "/api/jobs", {"AppName": "a", "ServiceName": "web", "Name": "csp", "Cmd": "true"})
    panel.open(server.url)
    panel.click("edit-job", panel.job_row("csp"))
    panel.add_secret("s")
    panel.click("toggle-secret")
    panel.save_job_form()
    panel.click("create-job")
    panel.click("cancel-job")
    assert panel.driver.execute_script("return window.__csp") == []
    assert not (errors := panel.console_errors(marks=("Content Security Policy",))), errors

    # The policy is enforced: an inline script is refused and reported.
    panel.driver.execute_script(
        "const s = document.createElement('script'); s.textContent = 'window.__inline = 1'; document.head.append(s);"
    )
    panel.wait(lambda: panel.driver.execute_script("return window.__csp.length") == 1, what="the violation")
    assert panel.driver.execute_script("return window.__inline") is None
    assert panel.driver.execute_script("return window.__csp")[0].startswith("script-src")
