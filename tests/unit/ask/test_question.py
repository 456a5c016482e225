"""Reading a question against a small library: which of its words the library knows."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from assistant.ask.question import QuestionProfile

LIBRARY = {
    "hlh-after-car-t": [
        "HLH after CAR T-cell therapy was reported in 4 of 60 patients.",
        "Patients given CAR T cells for lymphoma were followed for 12 months.",
        "IL-1 blockade with anakinra was used when HLH followed CAR T therapy.",
    ]
}


@pytest.fixture
def profile(analyze_in) -> Callable[[str], QuestionProfile]:  # noqa: ANN001
    return analyze_in(LIBRARY)


def test_a_hyphenated_name_with_a_one_letter_part_is_known_by_its_other_part(profile) -> None:  # noqa: ANN001
    """The library writes "CAR T"; the question "CAR-T": the same name, not an unknown one."""
    q = profile("Can HLH occur after CAR-T therapy?")
    assert "CAR-T" not in q.unknown
    [car_t] = [s for s in q.subjects if s.surface == "CAR-T"]
    assert car_t.known and ("car",) in car_t.alternatives


def test_a_number_in_a_hyphenated_name_still_tells_names_apart(profile) -> None:  # noqa: ANN001
    """A library on IL-1 knows nothing of IL-6: the number is part of the name."""
    q = profile("Does IL-6 blockade help HLH after CAR T therapy?")
    assert "IL-6" in q.unknown
