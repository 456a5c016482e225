"""The review workflow as data: statuses, allowed transitions, who may make them.

    submitted -> under-review -> approved | rejected
    approved  -> under-review      (re-review, e.g. after its sources changed)
    rejected  -> under-review      (a second look)

Every other change is refused with a message that names the allowed next statuses. Only users
with the ``reviewer`` role change a status; anyone may save a page (it starts as submitted).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

Status = Literal["submitted", "under-review", "approved", "rejected"]
STATUSES: tuple[Status, ...] = ("submitted", "under-review", "approved", "rejected")
INITIAL_STATUS: Status = "submitted"
TRANSITIONS: dict[Status, tuple[Status, ...]] = {
    "submitted": ("under-review",),
    "under-review": ("approved", "rejected"),
    "approved": ("under-review",),
    "rejected": ("under-review",),
}
STATUS_LABELS: dict[str, str] = {
    "submitted": "Submitted",
    "under-review": "Under review",
    "approved": "Approved",
    "rejected": "Rejected",
}
REVIEWER_ROLE = "reviewer"
NEEDS_REREVIEW = "Needs re-review"
"""Shown instead of 'Approved' when a cited source changed since approval."""


class PageError(Exception):
    """A page operation that was refused; the message says why and what to do."""


class PageNotFound(PageError):
    pass


class IllegalTransition(PageError):
    pass


class NotAllowed(PageError):
    """The acting user lacks the role the operation needs."""


class Conflict(PageError):
    """The page changed since the caller read it (optimistic concurrency)."""


class SourcesChanged(PageError):
    """Approval refused: the cited sources are not the ones the answer was made from."""


@dataclass(frozen=True)
class User:
    """Who acts, with the roles the caller established (login + settings, or the CLI)."""

    name: str
    roles: frozenset[str] = field(default_factory=frozenset)

    @property
    def is_reviewer(self) -> bool:
        return REVIEWER_ROLE in self.roles


def user_from_settings(name: str | None, reviewers: list[str]) -> User:
    """The app's mapping: a logged-in user listed in ``ui.reviewers`` has the reviewer role."""
    clean = (name or "").strip()
    if not clean:
        return User("anonymous")
    roles = frozenset({REVIEWER_ROLE}) if clean in reviewers else frozenset()
    return User(clean, roles)


def parse_status(value: str) -> Status:
    for status in STATUSES:
        if value == status:
            return status
    raise IllegalTransition(f"unknown status {value!r}; use one of: {', '.join(STATUSES)}")


def require_reviewer(user: User) -> None:
    if not user.is_reviewer:
        raise NotAllowed(
            f"{user.name!r} does not have the reviewer role: only reviewers (the ui.reviewers "
            "setting) can change the status of a page"
        )


def check_transition(current: str, target: str) -> None:
    """Raise IllegalTransition unless ``current -> target`` is an allowed step."""
    target_status = parse_status(target)
    allowed = TRANSITIONS.get(parse_status(current), ())
    if target_status not in allowed:
        options = " or ".join(allowed) if allowed else "nothing"
        raise IllegalTransition(
            f"a page that is {current} cannot become {target}; from {current} it can go to "
            f"{options}"
        )
