"""An optional per-library overlay of domain vocabulary (``vocabulary.overlay`` in settings).

The engine reads its vocabulary from the library (assistant/vocab/); an overlay only adds what a
library's curators know and its texts do not say: names of one thing written many ways
("anakinra", "Kineret", "IL-1 receptor antagonist"), lay words and the terms sources use for
them, entities that answer for each other in part. Format (YAML)::

    entities:
      drug|intervention: {NAME: [regex, ...] | {patterns: [...], expand: [word, ...]}}
      disease|condition: {...}
      population: {...}
    related: {NAME: {OTHER: credit in (0, 1)}}
    synonyms: {lay word: [source word, ...]}
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

from assistant.vocab.general import compile_patterns

CLASS_NAMES = {
    "drug": "intervention",
    "intervention": "intervention",
    "disease": "condition",
    "condition": "condition",
    "population": "population",
}


@dataclass(frozen=True)
class OverlayEntity:
    name: str
    cls: str
    pattern: re.Pattern[str]
    expansions: tuple[str, ...] = ()


@dataclass(frozen=True)
class OverlayMatch:
    entity: OverlayEntity
    start: int
    end: int


@dataclass
class Overlay:
    entities: list[OverlayEntity] = field(default_factory=list)
    related: dict[str, dict[str, float]] = field(default_factory=dict)
    synonyms: dict[str, list[str]] = field(default_factory=dict)
    glossary: dict[str, Any] = field(default_factory=dict)
    """Plain-language explanations of the library's own terms (prompts/glossary.yaml format)."""

    def find(self, text: str) -> list[OverlayMatch]:
        """Entity mentions in order of appearance (each entity's first mention)."""
        out = []
        for entity in self.entities:
            hit = entity.pattern.search(text)
            if hit:
                out.append(OverlayMatch(entity, hit.start(), hit.end()))
        return sorted(out, key=lambda m: m.start)

    def names_in(self, text: str) -> frozenset[str]:
        return frozenset(m.entity.name for m in self.find(text))

    def credit(self, wanted: str, names: frozenset[str]) -> float:
        """1 when ``names`` holds the entity, the related credit when it holds a relative."""
        if wanted in names:
            return 1.0
        related = self.related.get(wanted, {})
        return max((related.get(n, 0.0) for n in names), default=0.0)


def load_overlay(path: Path | None) -> Overlay:
    """The overlay at ``path`` (empty when None); a malformed file raises ValueError."""
    if path is None:
        return Overlay()
    return _load(str(path))


@lru_cache(maxsize=4)
def _load(path: str) -> Overlay:
    try:
        raw: dict[str, Any] = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise ValueError(f"cannot read the vocabulary overlay {path}: {exc}") from exc
    entities: list[OverlayEntity] = []
    for cls, names in (raw.get("entities") or {}).items():
        if cls not in CLASS_NAMES:
            raise ValueError(f"{path}: unknown entity class {cls!r} ({', '.join(CLASS_NAMES)})")
        for name, spec in names.items():
            patterns = spec["patterns"] if isinstance(spec, dict) else spec
            expand = (
                tuple(str(x) for x in (spec.get("expand") or [])) if isinstance(spec, dict) else ()
            )
            entities.append(
                OverlayEntity(str(name), CLASS_NAMES[cls], compile_patterns(patterns), expand)
            )
    related = {
        str(k): {str(n): float(c) for n, c in v.items()}
        for k, v in (raw.get("related") or {}).items()
    }
    synonyms = {str(k).lower(): [str(x) for x in v] for k, v in (raw.get("synonyms") or {}).items()}
    glossary = dict(raw.get("glossary") or {})
    return Overlay(entities, related, synonyms, glossary)
