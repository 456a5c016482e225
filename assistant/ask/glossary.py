"""Plain language for patients and students: explanations of the terms an answer uses (the
general glossary, prompts/glossary.yaml, plus a library overlay's own terms), and the plain words
for study designs that lead a patient's research bullets."""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any

from assistant.prompts import glossary
from assistant.types import Answer

STUDY_TERMS = frozenset(
    {
        "retrospective study",
        "prospective study",
        "case series",
        "randomised trial",
        "systematic review",
        "meta-analysis",
        "cohort study",
        "guideline",
        "p value",
        "confidence interval",
        "odds ratio",
        "hazard ratio",
        "median",
    }
)
"""What students are shown: study-design and statistics terms (they know the clinical ones)."""

PLAIN_DESIGNS: dict[str, tuple[str, str]] = {
    "guideline": ("an expert guideline", "expert guidelines"),
    "consensus-recommendation": ("an expert agreement", "expert agreements"),
    "policy": ("a health service policy", "health service policies"),
    "systematic-review": (
        "a review that pooled earlier studies",
        "reviews that pooled earlier studies",
    ),
    "meta-analysis": (
        "a review that combined earlier results",
        "reviews that combined earlier results",
    ),
    "rct": (
        "a trial that assigned treatments by chance",
        "trials that assigned treatments by chance",
    ),
    "non-randomised-trial": (
        "a trial without assignment by chance",
        "trials without assignment by chance",
    ),
    "prospective-cohort": (
        "a study that followed patients forward",
        "studies that followed patients forward",
    ),
    "retrospective-cohort": ("a study of past patient records", "studies of past patient records"),
    "case-control": (
        "a study comparing people with and without the condition",
        "studies comparing people with and without the condition",
    ),
    "cross-sectional": ("a survey at one point in time", "surveys at one point in time"),
    "observational": ("an observational study", "observational studies"),
    "case-series": ("a report on a small group of patients", "reports on small groups of patients"),
    "review": ("an expert review", "expert reviews"),
    "animal": ("a study in animals", "studies in animals"),
    "laboratory": ("a laboratory study", "laboratory studies"),
    "patient-information": ("a patient information page", "patient information pages"),
}
"""How a patient's answer names a study design, singular and plural: no "retrospective
cohort", but "a study of past patient records"."""


def plain_design(design: str, plural: bool = False) -> str | None:
    found = PLAIN_DESIGNS.get(design)
    return None if found is None else found[1 if plural else 0]


def _compile(entries: dict[str, Any]) -> list[tuple[str, re.Pattern[str], str]]:
    out = []
    for term, entry in entries.items():
        pattern = re.compile("|".join(f"(?:{p})" for p in entry["patterns"]), re.IGNORECASE)
        out.append((term, pattern, str(entry["plain"])))
    return out


@lru_cache(maxsize=1)
def _general() -> list[tuple[str, re.Pattern[str], str]]:
    return _compile(glossary())


def glossary_for(
    answer: Answer, audience: str, extra: dict[str, Any] | None = None
) -> dict[str, str]:
    """Terms that appear in the answer's bullets, with their explanations: patients get every
    matching term, students only the study-design and statistics ones. ``extra`` is a library
    overlay's own glossary (same format as prompts/glossary.yaml)."""
    text = " ".join(b.text for b in answer.all_bullets()) + " " + answer.standalone_question
    found: dict[str, str] = {}
    for term, pattern, plain in [*_general(), *_compile(extra or {})]:
        if audience == "student" and term not in STUDY_TERMS:
            continue
        if pattern.search(text):
            found[term] = plain
    return found
