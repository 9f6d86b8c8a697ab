"""A page object for the panel: finds things by data-testid and waits the way a person would."""

from __future__ import annotations

import json
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

T = TypeVar("T")

WAIT_S = 15.0


def tid(testid: str) -> str:
    """CSS selector of a data-testid."""
    return f'[data-testid="{testid}"]'


def api(server: Any, method: str, path: str, body: Any = None) -> Any:
    """Call the server's API directly (setting things up, checking what the panel sent)."""
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(f"{server.url}{path}", data=data, method=method)
    if method != "GET":  # every state-changing route needs it, also without a body
        req.add_header("Content-Type", "application/json")
    with urllib.request.urlopen(req, timeout=30) as resp:
        raw = resp.read()
    return json.loads(raw) if raw else None


class Panel:
    """Drive the panel in one browser."""

    def __init__(self, driver: Any, screenshots: Path) -> None:
        self.driver = driver
        self.screenshots = screenshots
        self.base_url = ""

    # -- navigation -------------------------------------------------------------------------------------------

    def open(self, base_url: str, route: str = "#/") -> None:
        self.base_url = base_url
        self.driver.get(f"{base_url}/{route}")

    def set_width(self, width_px: int, height_px: int = 900) -> None:
        """Make the page exactly width_px wide (the window's frame differs between Chromium builds)."""
        self.driver.set_window_size(width_px, height_px)
        inner = int(self.driver.execute_script("return window.innerWidth"))
        if inner != width_px:
            self.driver.set_window_size(2 * width_px - inner, height_px)
        self.wait(lambda: self.driver.execute_script("return window.innerWidth") == width_px, what=f"{width_px} px")

    def rect(self, element: Any) -> dict[str, float]:
        """The element's box in the viewport (left, top, right, bottom, width, height)."""
        box: dict[str, float] = self.driver.execute_script(
            "const r = arguments[0].getBoundingClientRect();"
            "return {left: r.left, top: r.top, right: r.right, bottom: r.bottom, width: r.width, height: r.height};",
            element,
        )
        return box

    def shot(self, name: str) -> Path:
        """Save a screenshot of the whole page (height grown to fit) as <name>.png."""
        self.settle()
        path = self.screenshots / f"{name}.png"
        width, height = self.driver.get_window_size().values()
        full = self.driver.execute_script(
            "return Math.max(document.documentElement.scrollHeight, document.body.scrollHeight)"
        )
        self.driver.set_window_size(width, max(900, min(int(full) + 120, 3000)))
        try:
            self.driver.save_screenshot(str(path))
        finally:
            self.driver.set_window_size(width, height)
        return path

    def settle(self) -> None:
        """Wait for fonts and the spinner to be done, so screenshots are not of a half-drawn page."""
        self.wait(lambda: self.driver.execute_script("return document.fonts.status === 'loaded'"))
        self.wait(
            lambda: self.driver.execute_script(
                "return !!document.querySelector('dialog[open]') || !document.querySelector('.loading')"
            )
        )

    # -- finding ----------------------------------------------------------------------------------------------

    def wait(self, predicate: Callable[[], T], timeout: float = WAIT_S, what: str = "") -> T:
        """Poll `predicate` until it returns something truthy; stale elements count as not yet."""
        from selenium.common.exceptions import StaleElementReferenceException, WebDriverException

        deadline = time.monotonic() + timeout
        last_error: Exception | None = None
        while True:
            try:
                value = predicate()
                if value:
                    return value
            except (StaleElementReferenceException, WebDriverException) as e:
                last_error = e
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out after {timeout}s waiting for {what or predicate}: {last_error}")
            time.sleep(0.1)

    def console_errors(self, *, marks: tuple[str, ...] = ("Uncaught", "Content Security Policy")) -> list[str]:
        """The browser console's messages since the last call that hold one of `marks` (uncaught exceptions and
        Content Security Policy violations by default)."""
        return [m for m in (e["message"] for e in self.driver.get_log("browser")) if any(k in m for k in marks)]

    def find(self, selector: str, within: Any = None) -> list[Any]:
        return (within or self.driver).find_elements("css selector", selector)

    def el(self, testid: str, within: Any = None, timeout: float = WAIT_S) -> Any:
        """The first visible element with this data-testid."""

        def visible() -> Any:
            return next((e for e in self.find(tid(testid), within) if e.is_displayed()), None)

        return self.wait(visible, timeout, what=f"visible {testid}")

    def gone(self, selector: str, timeout: float = WAIT_S) -> None:
        self.wait(lambda: not any(e.is_displayed() for e in self.find(selector)), timeout, what=f"{selector} gone")

    def click(self, testid: str, within: Any = None) -> None:
        self.wait(lambda: self._click(self.el(testid, within)), what=f"click {testid}")

    @staticmethod
    def _click(element: Any) -> bool:
        if not element.is_enabled():
            return False
        element.click()
        return True

    def fill(self, testid: str, value: str, within: Any = None) -> None:
        from selenium.webdriver.common.keys import Keys

        element = self.el(testid, within)
        # Select-all + delete rather than clear(), which fires no input event.
        element.send_keys(Keys.CONTROL, "a")
        element.send_keys(Keys.DELETE)
        if value:
            element.send_keys(value)

    def text(self, testid: str, within: Any = None) -> str:
        return str(self.el(testid, within).text)

    def wait_text(self, testid: str, expected: str, within: Any = None, timeout: float = WAIT_S) -> str:
        """Wait until the element's text contains `expected`."""
        return str(
            self.wait(
                lambda: (t := self.text(testid, within)) and expected in t and t,
                timeout,
                what=f"{testid} to show {expected!r}",
            )
        )

    # -- the job list -----------------------------------------------------------------------------------------

    def job_row(self, name: str, timeout: float = WAIT_S) -> Any:
        return self.wait(
            lambda: next((r for r in self.find(tid("job-row")) if r.get_attribute("data-job-name") == name), None),
            timeout,
            what=f"job row {name}",
        )

    def job_names(self) -> list[str]:
        return [r.get_attribute("data-job-name") for r in self.find(tid("job-row"))]

    def fill_job_form(self, fields: dict[str, str | bool]) -> None:
        dialog = self.el("job-form-dialog")
        for testid, value in fields.items():
            if isinstance(value, bool):
                box = self.el(testid, dialog)
                if box.is_selected() != value:
                    box.click()
            else:
                self.fill(testid, value, dialog)

    def secret_inputs(self) -> list[Any]:
        """The form's SecretArgs inputs, one per argument, in order."""
        return self.find(tid("job-secret-arg"), self.el("job-form-dialog"))

    def add_secret(self, value: str) -> None:
        """Add one SecretArgs row to the form and type `value` into it."""
        count = len(self.secret_inputs())
        self.click("add-secret", self.el("job-form-dialog"))
        self.wait(lambda: len(self.secret_inputs()) == count + 1, what="a new secret row")
        if value:
            self.secret_inputs()[-1].send_keys(value)

    def save_job_form(self) -> None:
        self.click("save-job")
        self.gone(tid("job-form-dialog"))

    def confirm(self, ok: bool = True) -> None:
        self.click("confirm-ok" if ok else "confirm-cancel")
        self.gone(tid("confirm-dialog"))

    # -- executions -------------------------------------------------------------------------------------------

    def result_rows(self) -> list[Any]:
        return self.find(tid("result-row"))

    def result_labels(self) -> dict[str, str]:
        """ContainerId -> the status badge's text."""
        return {
            r.get_attribute("data-container-id"): self.find(tid("result-status"), r)[0].text for r in self.result_rows()
        }

    def take_download(self, timeout: float = WAIT_S) -> tuple[str, str]:
        """Wait for the one pending download; return its file name and text, and remove it."""
        folder: Path = self.driver.download_dir

        def done() -> Path | None:
            files = list(folder.iterdir())
            if len(files) != 1 or files[0].name.endswith((".crdownload", ".tmp")):
                return None
            return files[0]

        path = self.wait(done, timeout, what="a finished download")
        text = path.read_text(encoding="utf-8")
        path.unlink()
        return path.name, text

    # -- live output ------------------------------------------------------------------------------------------

    def output_box(self, container_id: str) -> Any:
        """The output box in the detail row of this container (unfolded or not)."""
        return self.wait(
            lambda: next(
                (
                    self.find(tid("result-output"), r)[0]
                    for r in self.find(tid("result-detail"))
                    if r.get_attribute("data-container-id") == container_id
                ),
                None,
            ),
            what=f"output box of {container_id}",
        )

    def box_scroll(self, box: Any) -> dict[str, float]:
        """scrollTop, scrollHeight and clientHeight of a scrolling element."""
        got: dict[str, float] = self.driver.execute_script(
            "const b = arguments[0]; return {top: b.scrollTop, height: b.scrollHeight, client: b.clientHeight};", box
        )
        return got

    def scroll_box_to(self, box: Any, top: int) -> None:
        """Scroll the element as a reader would (the scroll event follows)."""
        self.driver.execute_script("arguments[0].scrollTop = arguments[1];", box, top)

    def select_in(self, element: Any, start: int, end: int) -> str:
        """Select characters start..end of the element's first text node; return the selected text."""
        return str(
            self.driver.execute_script(
                "const el = arguments[0];"
                "const walker = document.createTreeWalker(el, NodeFilter.SHOW_TEXT);"
                "const node = walker.nextNode(); const range = document.createRange();"
                "range.setStart(node, arguments[1]); range.setEnd(node, arguments[2]);"
                "const sel = getSelection(); sel.removeAllRanges(); sel.addRange(range); return sel.toString();",
                element,
                start,
                end,
            )
        )

    def selection(self) -> dict[str, Any]:
        """The page's selection: its text and whether it still lies inside an output box."""
        got: dict[str, Any] = self.driver.execute_script(
            "const sel = getSelection();"
            "const inBox = sel.rangeCount > 0 && !!sel.getRangeAt(0).startContainer.parentElement"
            "  ?.closest('[data-testid=\"result-output\"]');"
            "return {text: sel.toString(), inBox: inBox};"
        )
        return got
