"""Slot checks and candidate selection (hand-made vectors; the real MiniLM is in integration)."""

from __future__ import annotations

import pytest

from assistant.pages.match import (
    MATCH_THRESHOLD,
    Candidate,
    cosine,
    find_matches,
    is_same_question,
    load_vocabulary,
    slot_conflict,
)


def conflict(a: str, b: str) -> str | None:
    vocab = load_vocabulary()
    return slot_conflict(vocab.slots(a), vocab.slots(b))


@pytest.mark.parametrize(
    ("a", "b", "why"),
    [
        ("What is the dose of X in adults?", "What is the dose of X in children?", "populations"),
        ("Is X safe in pregnancy?", "Is X safe?", "populations"),
        ("What are the side effects of X?", "What is the dose of X?", "aspects"),
        (
            "Are inhaled steroids effective for asthma?",
            "Are inhaled steroids effective for COPD?",
            "copd instead of asthma",
        ),
        ("Does X stop smoking?", "Does bupropion stop smoking?", "bupropion instead of x"),
    ],
)
def test_conflicts(a: str, b: str, why: str) -> None:
    reason = conflict(a, b)
    assert reason is not None and why in reason, reason


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("What are the side effects of X?", "Which adverse effects does X cause?"),
        ("How should anaemia be treated?", "How should anemia be treated?"),
        ("Do kids with otitis need antibiotics?", "Do children with otitis need antibiotics?"),
        ("How much X is given for Y?", "What dose of X is used in Y?"),
        ("How is warfarin monitored?", "How is warfarin therapy monitored?"),
    ],
)
def test_no_conflict(a: str, b: str) -> None:
    assert conflict(a, b) is None


def test_a_lone_subject_swap_is_left_to_the_threshold() -> None:
    """With fewer than two shared words a swap is not called (paraphrases often share only the
    subject); such pairs are far apart in the embedding (0.64-0.67 on the calibration pairs)."""
    assert conflict("What are the side effects of X?", "What are the side effects of Z?") is None


def test_threshold_applies_before_slots() -> None:
    q = "What are the side effects of X?"
    assert is_same_question(q, q, MATCH_THRESHOLD)
    assert not is_same_question(q, q, MATCH_THRESHOLD - 0.01)
    assert not is_same_question(q, "What is the dose of X?", 0.99)


def test_find_matches_filters_audience_and_orders() -> None:
    q = "What are the side effects of X?"
    cands = [
        Candidate(1, q, "clinician", [1.0, 0.0]),
        Candidate(2, "Which adverse effects does X cause?", "clinician", [0.9, 0.1]),
        Candidate(3, q, "patient", [1.0, 0.0]),
        Candidate(4, "What is the dose of X?", "clinician", [1.0, 0.0]),
        Candidate(5, q, "clinician", [0.0, 1.0]),
    ]
    found = find_matches(q, [1.0, 0.0], "clinician", cands)
    assert [m.page_id for m in found] == [1, 2]
    assert found[0].similarity == pytest.approx(1.0)
    assert found[1].similarity == pytest.approx(cosine([1.0, 0.0], [0.9, 0.1]))
    assert find_matches(q, [1.0, 0.0], "student", cands) == []
    assert cosine([0.0, 0.0], [1.0, 0.0]) == 0.0
