"""The running app for the UI tests: one `assistant serve` subprocess per test session.

It serves the built-in corpus plus tests/ui/data/ (a fictional article full of markup that must
be shown as text). Browser tests skip when /usr/bin/chromium is absent, unless
ASSISTANT_REQUIRE_BROWSER=1 (CI) makes that a failure.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import pytest

REPO = Path(__file__).resolve().parents[2]
CORPUS = REPO / "corpus"
TEST_DATA = Path(__file__).resolve().parent / "data"
ARTIFACTS = REPO / "test-artifacts"
CHROMIUM = Path("/usr/bin/chromium")
START_TIMEOUT_S = 300


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_http(url: str, proc: subprocess.Popen[bytes] | None, timeout: float, log: Path) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            tail = log.read_text(errors="replace")[-3000:] if log.is_file() else ""
            raise RuntimeError(f"the app exited with {proc.returncode} before answering:\n{tail}")
        try:
            with urllib.request.urlopen(url, timeout=2) as resp:
                if resp.status == 200:
                    return
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.5)
    raise TimeoutError(f"{url} did not answer within {timeout:.0f} s (log: {log})")


@dataclass
class RunningApp:
    url: str
    port: int
    data_dir: Path
    log: Path
    proc: subprocess.Popen[bytes]

    @property
    def feedback_log(self) -> Path:
        return self.data_dir / "feedback.jsonl"


@pytest.fixture(scope="session")
def artifacts() -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS


@pytest.fixture(scope="session")
def app_server(tmp_path_factory: pytest.TempPathFactory, artifacts: Path) -> Iterator[RunningApp]:
    """`assistant serve --corpus corpus --corpus tests/ui/data` on a free port (~25 s)."""
    data_dir = tmp_path_factory.mktemp("ui-app") / "data"
    port = free_port()
    log = artifacts / "ui-server.log"
    env = {
        **os.environ,
        "GRADIO_ANALYTICS_ENABLED": "False",
        "HF_HUB_OFFLINE": "1",
        "ANONYMIZED_TELEMETRY": "False",
        "ASSISTANT_UI__UPLOAD_MAX_MB": "1",
        "PYTHONUNBUFFERED": "1",
    }
    cmd = [
        sys.executable,
        "-m",
        "assistant",
        "serve",
        "--data-dir",
        str(data_dir),
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--corpus",
        str(CORPUS),
        "--corpus",
        str(TEST_DATA),
    ]
    with log.open("wb") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, env=env, cwd=REPO)
    app = RunningApp(f"http://127.0.0.1:{port}/", port, data_dir, log, proc)
    try:
        wait_http(app.url, proc, START_TIMEOUT_S, log)
        yield app
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)


@pytest.fixture(scope="session")
def chromium_path() -> Path:
    required = os.environ.get("ASSISTANT_REQUIRE_BROWSER") == "1"
    problem = None
    if not CHROMIUM.is_file():
        problem = f"{CHROMIUM} is absent (apt-get install -y chromium)"
    else:
        try:
            import playwright.sync_api  # noqa: F401
        except ImportError:
            problem = "the Python playwright package is not installed"
    if problem:
        if required:
            pytest.fail(f"browser tests are required (ASSISTANT_REQUIRE_BROWSER=1) but {problem}")
        pytest.skip(f"browser tests skipped: {problem}")
    return CHROMIUM


@pytest.fixture(scope="session")
def browser(chromium_path: Path) -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=str(chromium_path), args=["--no-sandbox"])
        try:
            yield b
        finally:
            b.close()


@pytest.fixture
def page(browser: Any, app_server: RunningApp) -> Iterator[Any]:
    """A fresh browser context (its own gradio session) on the app; asserts, after the test,
    that the page never reached for anything but the app itself, and raised no dialog."""
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    pg = context.new_page()
    hosts: set[str] = set()
    dialogs: list[str] = []
    pg.on("request", lambda r: hosts.add(urlparse(r.url).netloc or r.url.split(":")[0]))

    def on_dialog(dialog: Any) -> None:
        dialogs.append(dialog.message)
        dialog.dismiss()

    pg.on("dialog", on_dialog)
    pg.set_default_timeout(30_000)
    pg.goto(app_server.url)
    pg.wait_for_selector("#question textarea")
    try:
        yield pg
    finally:
        context.close()
    allowed = {f"127.0.0.1:{app_server.port}", "data", "blob"}
    assert hosts <= allowed, f"the page made requests outside the app: {hosts - allowed}"
    assert not dialogs, f"a dialog was opened: {dialogs}"
