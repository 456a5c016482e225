"""Plain-language explanations of the technical terms an answer uses (patient and student modes)."""

from __future__ import annotations

import re
from functools import lru_cache

from assistant.prompts import glossary
from assistant.types import Answer

_STUDY_DESIGN_TERMS = {
    "retrospective study",
    "prospective study",
    "case series",
    "randomised trial",
    "systematic review",
    "guideline",
    "p value",
}


@lru_cache(maxsize=1)
def _compiled() -> list[tuple[str, re.Pattern[str], str]]:
    out = []
    for term, entry in glossary().items():
        pattern = re.compile("|".join(f"(?:{p})" for p in entry["patterns"]), re.IGNORECASE)
        out.append((term, pattern, str(entry["plain"])))
    return out


def glossary_for(answer: Answer, audience: str) -> dict[str, str]:
    """Terms that appear in the answer's bullets, with their explanations.

    Patients get every matching term; students only the study-design and statistics terms
    (they are expected to know the clinical vocabulary).
    """
    text = " ".join(b.text for b in answer.all_bullets())
    text += " " + answer.standalone_question
    found: dict[str, str] = {}
    for term, pattern, plain in _compiled():
        if audience == "student" and term not in _STUDY_DESIGN_TERMS:
            continue
        if pattern.search(text):
            found[term] = plain
    return found
