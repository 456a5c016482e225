"""Errors a user can act on: the CLI prints their message as one line instead of a traceback."""

from __future__ import annotations

from assistant.ingest.store import IndexMissing
from assistant.models import ModelUnavailable


class InvalidQuestion(ValueError):
    """The question is empty, too long, or otherwise unusable."""


USER_ERRORS: tuple[type[BaseException], ...] = (
    IndexMissing,
    ModelUnavailable,
    InvalidQuestion,
    FileNotFoundError,
)
