"""Real-browser harness: a live `streamlit run` server and headless Chromium driven by Playwright.

Fixtures for any test under `tests/browser/` (every test here is marked `browser` automatically):

- `streamlit_app` (session): starts `streamlit run streamlit_app.py --server.headless true` on a free
  local port, waits until `/_stcore/health` answers, yields a `StreamlitServer` (`.url`,
  `.journal_dir`, `.runs_dir`, `.log()`), and stops the server afterwards. The app writes into a
  temporary copy of the journal and a temporary runs folder, never into the project's own.
- `browser` (session): headless Chromium from `/usr/bin/chromium` (Playwright cannot download
  browsers here). Tests skip with a clear reason when Chromium or Playwright is missing.
- `app` (per test): an `AppPage` on a fresh browser tab:

      def test_my_page(app):
          app.open("tokenizer", heading="Tokenizer")  # URL path from st.navigation; "" is Progress
          app.page.get_by_label("Text").fill("Hello")  # `app.page` is the Playwright page
          app.wait_until_idle()                         # after any interaction that reruns the app
          app.assert_no_exception()
          app.screenshot("tokenizer")                   # test-artifacts/screenshots/tokenizer.png

- `fresh_app` (per test): the same on a server of its own, just started (first visits, restarts).
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

PROJECT_ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = Path(os.environ.get("LLM_JOURNAL_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
SCREENSHOTS = PROJECT_ROOT / "test-artifacts" / "screenshots"
STARTUP_TIMEOUT_S = 90
RUN_TIMEOUT_MS = 60_000


def pytest_collection_modifyitems(items):
    here = Path(__file__).parent
    for item in items:
        if here in Path(str(item.fspath)).parents:
            item.add_marker(pytest.mark.browser)
            # A real browser against a live server on 2 shared cores misses a wait now and then (a page
            # still redrawing when a locator is read); one more try tells such a miss from a real failure.
            item.add_marker(pytest.mark.flaky(reruns=1, reruns_delay=2))


# ---------------------------------------------------------------------------------------------
# The app server


@dataclass
class StreamlitServer:
    url: str  # e.g. http://127.0.0.1:8765 (no trailing slash)
    journal_dir: Path
    runs_dir: Path
    log_path: Path

    def log(self) -> str:
        """Everything the server printed so far (handy in assertion messages)."""
        return self.log_path.read_text(encoding="utf-8", errors="replace")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until_healthy(url: str, process: subprocess.Popen, log_path: Path, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"streamlit exited with {process.returncode}:\n{log_path.read_text()}")
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.25)
    raise RuntimeError(f"streamlit did not answer within {timeout_s} s:\n{log_path.read_text()}")


@contextlib.contextmanager
def running_app(workdir: Path) -> Iterator[StreamlitServer]:
    """Start the app on a free local port, writing only into folders under `workdir`; stop it afterwards."""
    journal_dir = workdir / "journal"
    shutil.copytree(PROJECT_ROOT / "journal", journal_dir)
    runs_dir = workdir / "runs"
    runs_dir.mkdir()
    log_path = workdir / "streamlit.log"
    port = free_port()
    env = {
        **os.environ,
        "LLM_JOURNAL_DIR": str(journal_dir),
        "LLM_JOURNAL_RUNS_DIR": str(runs_dir),
        "PYTHONUNBUFFERED": "1",
    }
    env.pop("LLM_JOURNAL_READONLY", None)
    command = [
        sys.executable, "-m", "streamlit", "run", "streamlit_app.py",
        "--server.headless", "true",
        "--server.port", str(port),
        "--server.address", "127.0.0.1",
        "--server.fileWatcherType", "none",
        "--browser.gatherUsageStats", "false",
    ]
    with open(log_path, "w", encoding="utf-8") as log:
        process = subprocess.Popen(command, cwd=PROJECT_ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_healthy(url, process, log_path, STARTUP_TIMEOUT_S)
        yield StreamlitServer(url, journal_dir, runs_dir, log_path)
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@pytest.fixture(scope="session")
def streamlit_app(tmp_path_factory) -> Iterator[StreamlitServer]:
    """A running app shared by the browser tests."""
    with running_app(tmp_path_factory.mktemp("streamlit-app")) as server:
        yield server


# ---------------------------------------------------------------------------------------------
# The browser


@pytest.fixture(scope="session")
def browser():
    if not CHROMIUM.exists():
        pytest.skip(f"no Chromium at {CHROMIUM}: install Debian's `chromium` package (apt-get install chromium)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.skip("Playwright is not installed: pip install -r requirements-dev.txt")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
        yield browser
        browser.close()


class AppPage:
    """A browser tab on the app, with helpers that know how Streamlit signals it is busy."""

    def __init__(self, page, server: StreamlitServer):
        self.page = page
        self.server = server

    def open(self, url_path: str = "", heading: str | None = None) -> AppPage:
        """Go to a page by its URL path ("" is the default page) and wait until it has finished running."""
        self.page.goto(f"{self.server.url}/{url_path}", wait_until="domcontentloaded")
        self.page.locator('[data-testid="stApp"]').wait_for(timeout=RUN_TIMEOUT_MS)
        if heading is not None:
            self.page.get_by_role("heading", name=heading, exact=False).first.wait_for(timeout=RUN_TIMEOUT_MS)
        self.wait_until_idle()
        not_found = self.page.get_by_role("dialog").filter(has_text="Page not found")
        assert not_found.count() == 0, f"no page at /{url_path}: Streamlit ran the default page instead"
        return self

    @property
    def main(self):
        """The page's main panel (not the sidebar)."""
        return self.page.locator('[data-testid="stMain"]')

    def go_to(self, title: str, heading: str) -> None:
        """Follow the sidebar link, as a user would (opening "View N more" when the link is folded away)."""
        sidebar = self.page.locator('[data-testid="stSidebar"]')
        link = sidebar.get_by_role("link", name=title)
        if not link.is_visible():
            sidebar.get_by_text(re.compile(r"^View \d+ more$")).click()
        link.click()
        self.page.get_by_role("heading", name=heading).first.wait_for(timeout=RUN_TIMEOUT_MS)
        self.wait_until_idle()

    def set_number(self, label: str, value: int) -> None:
        """Type into the number box called `label` and confirm it."""
        box = self.main.get_by_role("spinbutton", name=label, exact=True)
        box.fill(str(value))
        box.press("Enter")
        self.wait_until_idle()

    def step_slider(self, label: str, key: str, times: int) -> None:
        """Move the slider called `label` a step at a time with the keyboard (ArrowLeft, ArrowRight)."""
        slider = self.main.get_by_label(label).locator('input[type="range"]')
        slider.focus()
        for _ in range(times):
            slider.press(key)
        self.wait_until_idle()

    def wait_until_idle(self, settle_ms: int = 500) -> None:
        """Wait until the script has stopped running (the status widget is gone) and stays stopped."""
        status = self.page.locator('[data-testid="stStatusWidget"]')
        deadline = time.monotonic() + RUN_TIMEOUT_MS / 1000
        while time.monotonic() < deadline:
            status.wait_for(state="hidden", timeout=RUN_TIMEOUT_MS)
            self.page.wait_for_timeout(settle_ms)
            if not status.is_visible():
                return
        raise TimeoutError("the app kept running")

    def exceptions(self) -> list[str]:
        return self.page.locator('[data-testid="stException"]').all_inner_texts()

    def assert_no_exception(self) -> None:
        found = self.exceptions()
        assert not found, f"exception box on {self.page.url}:\n" + "\n---\n".join(found)

    def screenshot(self, name: str, settle_ms: int = 1000) -> Path:
        """Save the whole page to `test-artifacts/screenshots/<name>.png`.

        Streamlit scrolls inside its main panel, not the document, so the window is made as tall
        as the content for the shot and restored afterwards.
        """
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        path = SCREENSHOTS / f"{name}.png"
        size = self.page.viewport_size
        height = self.page.evaluate(
            "() => document.querySelector('[data-testid=\"stMain\"]')?.scrollHeight ?? 0")
        if height > size["height"]:
            self.page.set_viewport_size({"width": size["width"], "height": min(height, 16_000)})
        self.page.wait_for_timeout(settle_ms)  # charts draw asynchronously
        self.page.screenshot(path=str(path))
        self.page.set_viewport_size(size)
        return path


@contextlib.contextmanager
def browser_tab(browser, server: StreamlitServer) -> Iterator[AppPage]:
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    try:
        yield AppPage(context.new_page(), server)
    finally:
        context.close()


@pytest.fixture
def app(browser, streamlit_app) -> Iterator[AppPage]:
    with browser_tab(browser, streamlit_app) as tab:
        yield tab


@pytest.fixture
def fresh_app(browser, tmp_path) -> Iterator[AppPage]:
    """A tab on a server of its own, just started: no visit has run the app's script yet."""
    with running_app(tmp_path) as server, browser_tab(browser, server) as tab:
        yield tab
