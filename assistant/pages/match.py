"""Does a new question ask what an approved page answers? Embedding similarity plus slot checks.

MiniLM puts "What is the dose of X in adults?" and "... in children?" closer together (cosine
0.93) than many true paraphrases ("side effects of X" / "adverse effects X causes": 0.88), so
similarity alone cannot be calibrated to a useful precision. A question pair is therefore a
match only when

1. the cosine of the two question vectors is at least ``MATCH_THRESHOLD``, and
2. both name the same populations (children, pregnancy, kidney impairment, ...), and
3. their facets (efficacy, dosing, safety, ...) are not disjoint when both name some, and
4. they are not the same question with its subject swapped: after removing facet, population
   and filler words, each keeps at most two words the other lacks while sharing at least two
   ("... effective for asthma?" / "... effective for COPD?"), spelling variants aside.

The slots come from ``prompts/question-slots.yaml`` (general clinical words, no drug or
disease). ``MATCH_THRESHOLD`` was chosen on the dev half of
``evals/calibration/page-match-pairs.jsonl`` (``python -m evals.calibration.page_match``);
the numbers are in evals/calibration/README.md.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from difflib import SequenceMatcher
from functools import lru_cache

import numpy as np
import yaml

from assistant.prompts import prompts_dir
from assistant.text import content_terms, stem

MATCH_THRESHOLD = 0.75
"""Lowest cosine at which a question may be served an approved page (see the module doc)."""
MAX_SWAPPED_WORDS = 2
MIN_SHARED_WORDS = 2
SPELLING_VARIANT_RATIO = 0.85
"""Two differing words this alike (difflib ratio) are one word spelt two ways (anaemia/anemia)."""


@dataclass(frozen=True)
class Slots:
    """What a question asks about, beyond its embedding."""

    facets: frozenset[str]
    populations: frozenset[str]
    terms: frozenset[str]
    """Stemmed content words left after removing facet, population and filler words."""


@dataclass(frozen=True)
class SlotVocabulary:
    facets: dict[str, re.Pattern[str]]
    populations: dict[str, re.Pattern[str]]
    filler: frozenset[str]

    def slots(self, question: str) -> Slots:
        text = question.lower()
        facets = frozenset(name for name, p in self.facets.items() if p.search(text))
        populations = frozenset(name for name, p in self.populations.items() if p.search(text))
        rest = text
        for pattern in (*self.facets.values(), *self.populations.values()):
            rest = pattern.sub(" ", rest)
        terms = frozenset(t for t in content_terms(rest) if t not in self.filler)
        return Slots(facets, populations, terms)


def _compile(patterns: Sequence[str]) -> re.Pattern[str]:
    return re.compile("|".join(rf"\b(?:{p})(?!\w)" for p in patterns), re.IGNORECASE)


@lru_cache(maxsize=1)
def load_vocabulary() -> SlotVocabulary:
    path = prompts_dir() / "question-slots.yaml"
    raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    try:
        return SlotVocabulary(
            facets={str(k): _compile(v) for k, v in raw["facets"].items()},
            populations={str(k): _compile(v) for k, v in raw["populations"].items()},
            filler=frozenset(stem(str(w).lower()) for w in raw.get("filler", [])),
        )
    except (KeyError, TypeError, AttributeError, re.error) as exc:
        raise ValueError(f"{path} is malformed: {exc}") from exc


def _spelling_variants(left: frozenset[str], right: frozenset[str]) -> bool:
    return all(
        any(SequenceMatcher(None, a, b).ratio() >= SPELLING_VARIANT_RATIO for b in right)
        for a in left
    )


def slot_conflict(a: Slots, b: Slots) -> str | None:
    """Why two questions ask different things despite their similarity; None if nothing does."""
    if a.populations != b.populations:
        return "they are about different populations"
    if a.facets and b.facets and not a.facets & b.facets:
        return "they ask about different aspects (" + ", ".join(sorted(a.facets | b.facets)) + ")"
    only_a, only_b = a.terms - b.terms, b.terms - a.terms
    if (
        only_a
        and only_b
        and len(only_a) <= MAX_SWAPPED_WORDS
        and len(only_b) <= MAX_SWAPPED_WORDS
        and len(a.terms & b.terms) >= MIN_SHARED_WORDS
        and not _spelling_variants(only_a, only_b)
    ):
        return (
            "one asks about "
            + ", ".join(sorted(only_b))
            + " instead of "
            + (", ".join(sorted(only_a)))
        )
    return None


def cosine(a: Sequence[float] | np.ndarray, b: Sequence[float] | np.ndarray) -> float:
    va, vb = np.asarray(a, dtype=np.float32), np.asarray(b, dtype=np.float32)
    norm = float(np.linalg.norm(va) * np.linalg.norm(vb))
    return float(va @ vb / norm) if norm else 0.0


@dataclass(frozen=True)
class Candidate:
    """An approved page as the matcher sees it."""

    page_id: int
    question: str
    audience: str
    vector: Sequence[float] | np.ndarray


@dataclass(frozen=True)
class Match:
    page_id: int
    similarity: float


def is_same_question(
    question: str,
    other: str,
    similarity: float,
    threshold: float = MATCH_THRESHOLD,
    vocabulary: SlotVocabulary | None = None,
) -> bool:
    """The decision for one pair of questions whose vectors have cosine ``similarity``."""
    if similarity < threshold:
        return False
    vocab = vocabulary or load_vocabulary()
    return slot_conflict(vocab.slots(question), vocab.slots(other)) is None


def find_matches(
    question: str,
    vector: Sequence[float] | np.ndarray,
    audience: str,
    candidates: Sequence[Candidate],
    threshold: float = MATCH_THRESHOLD,
) -> list[Match]:
    """Candidates of the same audience that ask the same question, most similar first."""
    vocab = load_vocabulary()
    found: list[Match] = []
    for cand in candidates:
        if cand.audience != audience:
            continue
        similarity = cosine(vector, cand.vector)
        if is_same_question(question, cand.question, similarity, threshold, vocab):
            found.append(Match(cand.page_id, similarity))
    return sorted(found, key=lambda m: (-m.similarity, m.page_id))
