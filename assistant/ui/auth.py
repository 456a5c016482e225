"""Logins for the app: accounts with roles, read from a file or the environment, and a
slow-down for wrong passwords.

Credentials never come from the command line (every user of the machine can read another
process's arguments with ``ps``). One account per line, ``user:password[:role]``: in the file
named by ``ui.auth_file`` (``serve --auth FILE``, ``ASSISTANT_UI__AUTH_FILE``; blank lines and
``#`` comments are skipped) or in ``ui.auth`` (``ASSISTANT_UI__AUTH='["ann:pw:reviewer"]'`` or
the TOML file). The role is one of ``ROLES`` (``reader`` when omitted); a password may contain
``:`` (only a known role after the last ``:`` is read as the role).

Wrong logins are answered one at a time, each after a delay that doubles with every failure
in the last ``FAILURE_WINDOW_S`` (``ui.auth_delay_s`` up to ``ui.auth_max_delay_s``), whatever
the user name: parallel guesses gain nothing, and unknown names wait like known ones. A right
password is answered at once.
"""

from __future__ import annotations

import asyncio
import hmac
import stat
import time
import warnings
from collections import deque
from dataclasses import dataclass
from typing import Any

from assistant.config import Settings

ROLES = ("reader", "reviewer")
"""reader: ask and give feedback; reviewer: also review answer pages."""
DEFAULT_ROLE = "reader"
FAILURE_WINDOW_S = 900.0


class AuthError(ValueError):
    """The credentials cannot be read; the message says what to fix."""


@dataclass(frozen=True)
class Account:
    user: str
    password: str
    role: str = DEFAULT_ROLE


def parse_account(line: str, where: str) -> Account:
    user, sep, rest = line.partition(":")
    password, role = rest, DEFAULT_ROLE
    head, _, tail = rest.rpartition(":")
    if head and tail in ROLES:
        password, role = head, tail
    if not sep or not user.strip() or not password:
        raise AuthError(f"{where}: expected user:password[:role], got {user.strip()!r}:...")
    return Account(user.strip(), password, role)


def load_accounts(settings: Settings) -> dict[str, Account]:
    """Every configured account by user name (empty: no login)."""
    ui = settings.ui
    lines: list[tuple[str, str]] = [(entry, "ui.auth") for entry in ui.auth]
    if ui.auth_file is not None:
        path = ui.auth_file
        try:
            mode = path.stat().st_mode
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise AuthError(f"cannot read the credentials file {path}: {exc.strerror}") from exc
        if mode & (stat.S_IRWXG | stat.S_IRWXO):
            warnings.warn(
                f"the credentials file {path} can be read by other users: chmod 600 {path}",
                UserWarning,
                stacklevel=2,
            )
        for n, raw in enumerate(text.splitlines(), start=1):
            if raw.strip() and not raw.lstrip().startswith("#"):
                lines.append((raw.rstrip("\r\n"), f"{path}, line {n}"))
    accounts: dict[str, Account] = {}
    for line, where in lines:
        account = parse_account(line, where)
        if account.user in accounts:
            raise AuthError(f"{where}: user {account.user!r} is defined twice")
        accounts[account.user] = account
    return accounts


class Authenticator:
    """Gradio's ``auth`` callable (pass the bound ``check``: gradio awaits coroutine functions
    only when ``inspect.iscoroutinefunction`` says so)."""

    def __init__(self, accounts: dict[str, Account], delay_s: float, max_delay_s: float) -> None:
        self.accounts = accounts
        self.delay_s = delay_s
        self.max_delay_s = max_delay_s
        self._failures: deque[float] = deque()
        self._lock = asyncio.Lock()

    def role_of(self, user: str | None) -> str | None:
        """The role of a logged-in user (``gr.Request.username``), None without a login."""
        account = self.accounts.get(user or "")
        return account.role if account else None

    def _matches(self, user: str, password: str) -> bool:
        account = self.accounts.get(user)
        expected = account.password if account else "\0" + password  # same work either way
        same = hmac.compare_digest(expected.encode(), password.encode())
        return account is not None and same

    def delay_for(self, failures: int) -> float:
        """Seconds before answering the ``failures``-th recent wrong login (1-based)."""
        return float(min(self.delay_s * 2 ** max(failures - 1, 0), self.max_delay_s))

    async def check(self, user: str, password: str) -> bool:
        if self._matches(user, password):
            return True
        async with self._lock:  # wrong logins are answered one after another
            now = time.monotonic()
            while self._failures and now - self._failures[0] > FAILURE_WINDOW_S:
                self._failures.popleft()
            self._failures.append(now)
            await asyncio.sleep(self.delay_for(len(self._failures)))
        return False


def gradio_auth(settings: Settings) -> tuple[Any, Authenticator | None]:
    """``launch(auth=...)`` and the authenticator behind it (None, None: no login)."""
    accounts = load_accounts(settings)
    if not accounts:
        return None, None
    auth = Authenticator(accounts, settings.ui.auth_delay_s, settings.ui.auth_max_delay_s)
    return auth.check, auth
