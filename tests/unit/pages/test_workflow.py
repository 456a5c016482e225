"""The workflow table: every allowed step passes, every other is refused with the options."""

from __future__ import annotations

import itertools

import pytest

from assistant.pages.workflow import (
    REVIEWER_ROLE,
    STATUSES,
    TRANSITIONS,
    IllegalTransition,
    NotAllowed,
    User,
    check_transition,
    parse_status,
    require_reviewer,
    user_from_settings,
)

ALLOWED = {
    ("submitted", "under-review"),
    ("under-review", "approved"),
    ("under-review", "rejected"),
    ("approved", "under-review"),
    ("rejected", "under-review"),
}


@pytest.mark.parametrize(("current", "target"), list(itertools.product(STATUSES, STATUSES)))
def test_every_pair_of_statuses(current: str, target: str) -> None:
    if (current, target) in ALLOWED:
        check_transition(current, target)
        return
    with pytest.raises(IllegalTransition) as err:
        check_transition(current, target)
    message = str(err.value)
    assert f"{current} cannot become {target}" in message
    for option in TRANSITIONS[parse_status(current)]:
        assert option in message


def test_the_table_is_the_documented_one() -> None:
    table = {(a, b) for a, targets in TRANSITIONS.items() for b in targets}
    assert table == ALLOWED
    assert set(TRANSITIONS) == set(STATUSES)


def test_unknown_status_is_refused() -> None:
    with pytest.raises(IllegalTransition, match="unknown status 'published'"):
        check_transition("submitted", "published")
    with pytest.raises(IllegalTransition, match="use one of"):
        parse_status("APPROVED")


def test_roles_come_from_the_reviewers_setting() -> None:
    assert user_from_settings("rita", ["rita", "sam"]).is_reviewer
    assert not user_from_settings("ann", ["rita"]).is_reviewer
    assert not user_from_settings("Rita", ["rita"]).is_reviewer, "names are exact"
    anonymous = user_from_settings(None, ["rita"])
    assert anonymous.name == "anonymous" and not anonymous.is_reviewer
    assert user_from_settings("  ", ["  "]).name == "anonymous"


def test_require_reviewer() -> None:
    require_reviewer(User("rita", frozenset({REVIEWER_ROLE})))
    with pytest.raises(NotAllowed, match="'ann' does not have the reviewer role"):
        require_reviewer(User("ann", frozenset({"editor"})))
