"""General clinical vocabulary (prompts/vocabulary.yaml) and general English word frequencies.

Nothing here is about one library: facets (what a question asks), populations (who it is
about), word shapes of medicines and conditions, and the contexts in which texts name them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache

import yaml

from assistant.prompts import prompts_dir
from assistant.text import stem


def compile_patterns(patterns: list[str]) -> re.Pattern[str]:
    """One case-insensitive pattern; every alternative starts and ends on a word boundary."""
    return re.compile("|".join(rf"\b(?:{p})(?!\w)" for p in patterns), re.IGNORECASE)


@dataclass(frozen=True)
class Population:
    name: str
    pattern: re.Pattern[str]
    phrase: str
    default: bool = False
    implies: frozenset[str] = frozenset()
    """Populations a text on this one need not name ("pregnancy" is about women)."""


@dataclass(frozen=True)
class Span:
    name: str
    start: int
    end: int


@dataclass(frozen=True)
class AnswerType:
    """A kind of quantity a question asks for, and what a sentence must state to give it."""

    name: str
    question: tuple[re.Pattern[str], ...]
    answer: tuple[str, ...]
    units: str = ""
    answer_per_unit: dict[str, tuple[str, ...]] = field(default_factory=dict)
    """For a question that names the period or unit ("how many times a day"), what answers
    that unit instead of ``answer`` (a schedule of another period does not)."""

    def expected(self, question: str) -> re.Pattern[str] | None:
        """The pattern a supporting sentence must match, or None if ``question`` does not ask
        for this kind of quantity. A unit the question names ("how many minutes") is kept."""
        m = next((hit for p in self.question if (hit := p.search(question))), None)
        if m is None:
            return None
        unit = m.groupdict().get("unit")
        if unit and (own := self.answer_per_unit.get(unit.lower())):
            body = "|".join(a.replace("{unit}", re.escape(unit.lower())) for a in own)
            return re.compile(body, re.IGNORECASE)
        units = re.escape(unit).rstrip("s") + r"s?" if unit else (self.units or r"\w+")
        body = "|".join(a.replace("{unit}", f"(?:{units})") for a in self.answer)
        return re.compile(body, re.IGNORECASE)


@dataclass
class GeneralVocabulary:
    facets: dict[str, re.Pattern[str]]
    focused_facets: frozenset[str]
    related_facets: dict[str, dict[str, float]]
    populations: dict[str, Population]
    intervention_suffix: re.Pattern[str]
    condition_suffix: re.Pattern[str]
    intervention_heads: frozenset[str]
    condition_heads: frozenset[str]
    cues: dict[str, dict[str, re.Pattern[str]]]
    generic_stems: frozenset[str]
    follow_ups: dict[str, dict[str, str]]
    companion_facets: dict[str, list[str]] = field(default_factory=dict)
    answer_types: tuple[AnswerType, ...] = ()
    outcomes: dict[str, re.Pattern[str]] = field(default_factory=dict)

    def outcome_before(self, text: str, position: int, window: int = 60) -> str | None:
        """The outcome a figure at ``position`` reports: the last outcome word before it in its
        clause (at most ``window`` characters back, not across ";")."""
        start = max(text.rfind(";", 0, position) + 1, position - window, 0)
        best: tuple[int, str] | None = None
        for name, pattern in self.outcomes.items():
            for m in pattern.finditer(text, start, position):
                if best is None or m.start() > best[0]:
                    best = (m.start(), name)
        return best[1] if best else None

    def facets_of(self, text: str) -> list[str]:
        """The facets a text speaks to, in the order of prompts/vocabulary.yaml."""
        return [name for name, pattern in self.facets.items() if pattern.search(text)]

    def facet_spans(self, text: str) -> list[Span]:
        return [
            Span(name, m.start(), m.end())
            for name, pattern in self.facets.items()
            for m in pattern.finditer(text)
        ]

    def population_spans(self, text: str) -> list[Span]:
        """Population mentions, in order of appearance (overlaps resolved to the first)."""
        spans = sorted(
            (
                Span(p.name, m.start(), m.end())
                for p in self.populations.values()
                for m in p.pattern.finditer(text)
            ),
            key=lambda s: (s.start, -s.end),
        )
        out: list[Span] = []
        for span in spans:
            if not out or span.start >= out[-1].end:
                out.append(span)
        return out

    def populations_of(self, text: str) -> list[str]:
        return list(dict.fromkeys(s.name for s in self.population_spans(text)))

    def shape_class(self, words: list[str]) -> str | None:
        """'intervention' or 'condition' when the words are shaped like one (a name stem on
        any word, or a head word at the end), else None."""
        if not words:
            return None
        last = words[-1].lower()
        if last in self.condition_heads:
            return "condition"
        if last in self.intervention_heads:
            return "intervention"
        for word in words:
            low = word.lower()
            if len(low) >= 6 and self.intervention_suffix.search(low):
                return "intervention"
            if len(low) >= 6 and self.condition_suffix.search(low):
                return "condition"
        return None

    def is_generic(self, word: str) -> bool:
        return stem(word.lower()) in self.generic_stems


def _suffix_pattern(suffixes: list[str]) -> re.Pattern[str]:
    return re.compile(rf"\w{{3,}}(?:{'|'.join(map(re.escape, suffixes))})$", re.IGNORECASE)


@lru_cache(maxsize=1)
def general_vocabulary() -> GeneralVocabulary:
    raw = yaml.safe_load((prompts_dir() / "vocabulary.yaml").read_text(encoding="utf-8"))
    morph = raw["morphology"]
    cues = {
        cls: {side: compile_patterns(list(pats)) for side, pats in sides.items()}
        for cls, sides in raw["class_cues"].items()
    }
    return GeneralVocabulary(
        facets={name: compile_patterns(pats) for name, pats in raw["facets"].items()},
        focused_facets=frozenset(raw.get("focused_facets", [])),
        related_facets={
            k: {n: float(c) for n, c in v.items()} for k, v in raw["related_facets"].items()
        },
        populations={
            name: Population(
                name,
                compile_patterns(spec["patterns"]),
                spec["phrase"],
                bool(spec.get("default")),
                frozenset(spec.get("implies", [])),
            )
            for name, spec in raw["populations"].items()
        },
        intervention_suffix=_suffix_pattern(morph["intervention_suffixes"]),
        condition_suffix=_suffix_pattern(morph["condition_suffixes"]),
        intervention_heads=frozenset(w.lower() for w in morph["intervention_heads"]),
        condition_heads=frozenset(w.lower() for w in morph["condition_heads"]),
        cues=cues,
        generic_stems=frozenset(stem(w) for w in str(raw["generic_words"]).split()),
        follow_ups={cls: dict(t) for cls, t in raw.get("follow_ups", {}).items()},
        companion_facets={k: list(v) for k, v in raw.get("companion_facets", {}).items()},
        answer_types=tuple(
            AnswerType(
                name,
                tuple(compile_patterns([q]) for q in spec["question"]),
                tuple(spec["answer"]),
                str(spec.get("units", "")),
                {u: tuple(p) for u, p in spec.get("answer_per_unit", {}).items()},
            )
            for name, spec in raw.get("answer_types", {}).items()
        ),
        outcomes={name: compile_patterns(p) for name, p in raw.get("outcomes", {}).items()},
    )


@lru_cache(maxsize=100_000)
def commonness(word: str) -> float:
    """Zipf frequency of a word in general English (wordfreq's data, shipped with the package:
    ~7 for "the", ~5 for "door", ~3 for "glaucoma", ~1 for a rare drug name; 0 if unknown)."""
    from wordfreq import zipf_frequency

    return float(zipf_frequency(word, "en"))
