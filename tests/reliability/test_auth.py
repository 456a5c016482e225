"""Logins: credentials come from a file or the environment (never argv, which `ps` shows), each
may carry a role, and repeated wrong logins are slowed down (measured)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from assistant.config import Settings
from assistant.ui.app import build_app, launch_kwargs
from assistant.ui.service import AppService
from tests.reliability.conftest import REPO, cli_env, free_port

pytestmark = pytest.mark.filterwarnings("ignore::Warning:gradio.queueing")

WRONG = 8
BASE_S, MAX_S = 0.1, 0.8


def _login(url: str, user: str, password: str) -> int:
    data = urllib.parse.urlencode({"username": user, "password": password}).encode()
    try:
        with urllib.request.urlopen(url + "login", data=data, timeout=60) as resp:
            return int(resp.status)
    except urllib.error.HTTPError as exc:
        return int(exc.code)


def test_wrong_logins_are_slowed_down(tmp_path: Path) -> None:
    creds = tmp_path / "users.txt"
    creds.write_text("# user:password:role\nann:correct horse:reviewer\nbob:p:w\n")
    creds.chmod(0o600)
    port = free_port()
    settings = Settings(
        data_dir=tmp_path / "data",
        ui={"auth_file": creds, "port": port, "auth_delay_s": BASE_S, "auth_max_delay_s": MAX_S},
    )
    demo = build_app(AppService(settings))
    demo.queue(default_concurrency_limit=1)
    demo.launch(prevent_thread_lock=True, quiet=True, **launch_kwargs(settings))
    url = f"http://127.0.0.1:{port}/"
    try:
        started = time.perf_counter()
        with ThreadPoolExecutor(max_workers=WRONG) as pool:  # in parallel: no way around it
            codes = list(pool.map(lambda i: _login(url, "ann", f"guess-{i}"), range(WRONG)))
        elapsed = time.perf_counter() - started
        assert codes == [400] * WRONG
        # failures are answered one after another, each later than the one before:
        # 0.1 + 0.2 + 0.4 + 0.8 * 5 = 4.7 s at the least
        floor = sum(min(BASE_S * 2**i, MAX_S) for i in range(WRONG))
        assert elapsed >= floor * 0.95, (elapsed, floor)
        assert _login(url, "nobody", "x") == 400  # unknown users wait the same
        started = time.perf_counter()
        assert _login(url, "ann", "correct horse") == 200  # the right password is not delayed
        assert time.perf_counter() - started < 2.0
        assert _login(url, "bob", "p:w") == 200  # a password may contain ':'
        print(f"{WRONG} parallel wrong logins took {elapsed:.2f} s (floor {floor:.2f} s)")
    finally:
        demo.close()


def test_roles_come_with_the_credentials(tmp_path: Path) -> None:
    from assistant.ui.auth import load_accounts

    creds = tmp_path / "users.txt"
    creds.write_text("ann:secret:reviewer\nbob:p:w\ncid:x:reader\n")
    creds.chmod(0o600)
    accounts = load_accounts(Settings(ui={"auth_file": creds}))
    assert {a.user: (a.password, a.role) for a in accounts.values()} == {
        "ann": ("secret", "reviewer"),
        "bob": ("p:w", "reader"),
        "cid": ("x", "reader"),
    }
    env_accounts = load_accounts(Settings(ui={"auth": ["dee:pw:reviewer"]}))
    assert env_accounts["dee"].role == "reviewer"
    service = AppService(Settings(data_dir=tmp_path / "data", ui={"auth_file": creds}))
    assert [service.role_of(u) for u in ("ann", "bob", "eve", None)] == [
        "reviewer",
        "reader",
        None,
        None,
    ]


def test_a_password_on_the_command_line_is_refused(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "assistant", "serve", "--auth", "ann:s3cret", "--port", "1"],
        env=cli_env(),
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2, done.stderr[-2000:]
    assert "visible" in done.stderr and "s3cret" not in done.stderr


def test_the_password_is_not_in_the_process_list(tmp_path: Path) -> None:
    creds = tmp_path / "users.txt"
    creds.write_text("ann:hunter2-not-in-ps\n")
    creds.chmod(0o600)
    port = free_port()
    args = ["serve", "--auth", str(creds), "--port", str(port), "--data-dir", str(tmp_path / "d")]
    proc = subprocess.Popen(
        [sys.executable, "-m", "assistant", *args],
        env=cli_env(),
        cwd=REPO,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1):
                    break
            except OSError:
                time.sleep(0.3)
        assert proc.poll() is None, proc.stderr.read().decode() if proc.stderr else ""
        cmdline = Path(f"/proc/{proc.pid}/cmdline").read_bytes().decode()
        environ = Path(f"/proc/{proc.pid}/environ").read_bytes().decode(errors="replace")
        assert "hunter2" not in cmdline and "hunter2" not in environ
        assert _login(f"http://127.0.0.1:{port}/", "ann", "hunter2-not-in-ps") == 200
    finally:
        proc.terminate()
        proc.wait(20)


def test_a_credentials_file_others_can_read_is_reported(tmp_path: Path) -> None:
    from assistant.ui.auth import load_accounts

    creds = tmp_path / "users.txt"
    creds.write_text("ann:secret\n")
    os.chmod(creds, 0o644)
    with pytest.warns(UserWarning, match="chmod 600"):
        load_accounts(Settings(ui={"auth_file": creds}))
