"""The domain vocabulary (prompts/lexicon.yaml): entities by class, question facets, templates."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

import yaml

from assistant.prompts import prompts_dir

ENTITY_CLASSES = ("drug", "disease", "population")


@dataclass(frozen=True)
class Match:
    cls: str
    name: str
    start: int
    end: int


@dataclass
class Lexicon:
    entities: dict[str, dict[str, re.Pattern[str]]]
    facets: dict[str, re.Pattern[str]]
    templates: dict[str, str] = field(default_factory=dict)
    expansions: dict[str, list[str]] = field(default_factory=dict)
    related: dict[str, dict[str, float]] = field(default_factory=dict)
    synonyms: dict[str, list[str]] = field(default_factory=dict)

    def find(self, text: str) -> list[Match]:
        """Entity mentions in order of appearance (one per entity, its first mention)."""
        out: list[Match] = []
        for cls, names in self.entities.items():
            for name, pattern in names.items():
                hit = pattern.search(text)
                if hit:
                    out.append(Match(cls, name, hit.start(), hit.end()))
        return sorted(out, key=lambda m: m.start)

    def by_class(self, text: str) -> dict[str, list[str]]:
        grouped: dict[str, list[str]] = {cls: [] for cls in ENTITY_CLASSES}
        for match in self.find(text):
            grouped.setdefault(match.cls, []).append(match.name)
        return grouped

    def facets_of(self, text: str) -> list[str]:
        return [name for name, pattern in self.facets.items() if pattern.search(text)]

    def facet_hits(self, text: str) -> set[str]:
        return set(self.facets_of(text))

    def expand_query(self, question: str, subject_words: list[str]) -> str:
        """The lexical query: the question, its subject words again (double weight in BM25),
        and the expansions of the entities it names."""
        extra: list[str] = list(subject_words)
        for match in self.find(question):
            extra.extend(self.expansions.get(match.name, []))
        for word in re.findall(r"[a-z]+", question.lower()):
            extra.extend(self.synonyms.get(word, []))
        return " ".join([question, *extra])


def _compile(patterns: list[str]) -> re.Pattern[str]:
    """One pattern for a list; every alternative must start and end on a word boundary."""
    return re.compile("|".join(rf"\b(?:{p})(?!\w)" for p in patterns), re.IGNORECASE)


@lru_cache(maxsize=1)
def load_lexicon() -> Lexicon:
    raw: dict[str, Any] = yaml.safe_load(
        (prompts_dir() / "lexicon.yaml").read_text(encoding="utf-8")
    )
    entities: dict[str, dict[str, re.Pattern[str]]] = {}
    expansions: dict[str, list[str]] = {}
    for cls, names in raw["entities"].items():
        entities[cls] = {}
        for name, spec in names.items():
            patterns = spec["patterns"] if isinstance(spec, dict) else spec
            entities[cls][name] = _compile(patterns)
            if isinstance(spec, dict) and spec.get("expand"):
                expansions[name] = [str(x) for x in spec["expand"]]
    facets = {name: _compile(patterns) for name, patterns in raw["facets"].items()}
    related = {k: {n: float(c) for n, c in v.items()} for k, v in raw.get("related", {}).items()}
    synonyms = {str(k).lower(): [str(x) for x in v] for k, v in raw.get("synonyms", {}).items()}
    templates = dict(raw.get("follow_up_templates", {}))
    return Lexicon(entities, facets, templates, expansions, related, synonyms)
