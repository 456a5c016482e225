"""Errors a user can act on: the CLI prints their message as one line instead of a traceback."""

from __future__ import annotations

import tomllib

from pydantic import ValidationError

from assistant.ingest.datadir import DataDirError
from assistant.ingest.lock import IngestBusy
from assistant.ingest.store import IndexMissing
from assistant.models import ModelUnavailable
from assistant.ui.auth import AuthError


class InvalidQuestion(ValueError):
    """The question is empty, too long, or otherwise unusable."""


USER_ERRORS: tuple[type[BaseException], ...] = (
    IndexMissing,
    DataDirError,
    IngestBusy,
    AuthError,
    ModelUnavailable,
    InvalidQuestion,
    FileNotFoundError,
    ValidationError,
    tomllib.TOMLDecodeError,
)


def user_message(exc: BaseException) -> str:
    """One or a few lines a user can act on (settings errors name the offending keys)."""
    if isinstance(exc, ValidationError):
        problems = [
            f"{'.'.join(str(p) for p in err['loc']) or 'settings'}: {err['msg']}"
            for err in exc.errors()
        ]
        return "invalid settings: " + "; ".join(problems)
    if isinstance(exc, tomllib.TOMLDecodeError):
        return f"the settings file is not valid TOML: {exc}"
    return str(exc)
