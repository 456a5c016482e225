"""What scoring needs beyond the metric classes: record accessors, the cached sentence
encoder, and the support check shared by citations.support_rate and citations.precision."""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from assistant.text import content_terms, numbers, sentences

Record = dict[str, Any]

SUPPORT_THRESHOLD = 0.7
"""Cosine (all-MiniLM-L6-v2) a sentence needs with its best cited passage sentence to count as
supported. Chosen on dev items only (see evals/README.md)."""
_DASHES = re.compile(r"[\u2010-\u2015\u2212]")


class Encoder:
    """Sentence vectors from an ``embed_documents``-style function, cached by text."""

    def __init__(self, embed: Callable[[list[str]], Sequence[Sequence[float]]], batch: int = 64):
        self._embed = embed
        self._batch = batch
        self._cache: dict[str, np.ndarray] = {}

    def prime(self, texts: Iterable[str], progress: bool = False) -> None:
        """Encode every text not cached yet, in sorted batches (order does not change values)."""
        todo = sorted({t for t in texts if t and t not in self._cache})
        bar = None
        if progress and todo:
            import sys

            from tqdm import tqdm

            bar = tqdm(total=len(todo), unit="text", desc="score", file=sys.stderr)
        for start in range(0, len(todo), self._batch):
            part = todo[start : start + self._batch]
            for text, vec in zip(part, self._embed(part), strict=True):
                arr = np.asarray(vec, dtype=np.float64)
                norm = float(np.linalg.norm(arr))
                self._cache[text] = arr / norm if norm else arr
            if bar is not None:
                bar.update(len(part))
        if bar is not None:
            bar.close()

    def vector(self, text: str) -> np.ndarray:
        if text not in self._cache:
            self.prime([text])
        return self._cache[text]

    def cosine(self, a: str, b: str) -> float:
        if not a.strip() or not b.strip():
            return 0.0
        return float(np.dot(self.vector(a), self.vector(b)))


@dataclass
class Context:
    """What scoring needs besides the records: the encoder and the support threshold."""

    encoder: Encoder | None = None
    support_threshold: float = SUPPORT_THRESHOLD
    _support: dict[tuple[str, tuple[str, ...]], tuple[bool, float]] = field(default_factory=dict)

    def require_encoder(self) -> Encoder:
        if self.encoder is None:
            raise ValueError("this metric needs an encoder (Context(encoder=...))")
        return self.encoder


def fold(text: str) -> str:
    """Case-folded, with Unicode dashes as '-' and single spaces."""
    return " ".join(_DASHES.sub("-", text).casefold().split())


def answer_of(rec: Record) -> dict[str, Any] | None:
    return rec.get("answer") if not rec.get("error") else None


def abstained(rec: Record) -> bool:
    answer = answer_of(rec)
    return bool(answer and answer.get("abstained"))


def bullets(rec: Record) -> list[dict[str, Any]]:
    """Every bullet of the answer, sections and subsections in order."""
    answer = answer_of(rec)
    out: list[dict[str, Any]] = []

    def walk(section: dict[str, Any]) -> None:
        out.extend(section.get("bullets", []))
        for sub in section.get("subsections", []):
            walk(sub)

    for section in (answer or {}).get("sections", []):
        walk(section)
    return out


def answer_text(rec: Record) -> str:
    """The answer's sentences joined (no markers, references or disclaimer); '' if abstained."""
    return " ".join(b["text"] for b in bullets(rec)) if not abstained(rec) else ""


def bottom_line(rec: Record) -> dict[str, Any] | None:
    """The first bullet of the answer's "Bottom line" section, if it has one."""
    answer = answer_of(rec) or {}
    for section in answer.get("sections", []):
        if section.get("kind") == "bottom-line":
            items = section.get("bullets") or []
            return items[0] if items else None
    return None


def subject_terms(question: str) -> set[str]:
    """Stemmed content words of a question that name its subject: not stopwords, general
    scaffolding or facet words (prompts/vocabulary.yaml)."""
    from assistant.vocab.general import general_vocabulary

    general = general_vocabulary()
    spans = [(s.start, s.end) for s in general.facet_spans(question)]
    spans += [(s.start, s.end) for s in general.population_spans(question)]
    kept = []
    for m in re.finditer(r"[A-Za-z0-9][\w'-]*", question):
        if any(a <= m.start() < b for a, b in spans) or general.is_generic(m.group(0)):
            continue
        kept.append(m.group(0))
    return set(content_terms(" ".join(kept)))


def question_facets(text: str, related: bool) -> set[str]:
    """The facets a text speaks to (the engine's own facet reader, prompts/vocabulary.yaml);
    with ``related``, also those related to them with credit >= 0.5 (a sentence on safety
    speaks to a question on treatment in part)."""
    from assistant.ask.evidence import text_facets
    from assistant.vocab.general import general_vocabulary

    related_facets = general_vocabulary().related_facets
    found = set(text_facets(text))
    if related:
        for facet in list(found):
            found |= {f for f, c in related_facets.items() if c.get(facet, 0.0) >= 0.5}
    return found


def references(rec: Record) -> dict[int, dict[str, Any]]:
    answer = answer_of(rec) or {}
    return {int(r["n"]): r for r in answer.get("references", [])}


def passage_sentences(refs: Iterable[dict[str, Any]]) -> list[str]:
    out: list[str] = []
    for ref in refs:
        for passage in ref.get("passages", []):
            out.extend(s for s in sentences(passage.get("text", "")) if s)
    return out


def evidence_numbers(refs: Iterable[dict[str, Any]]) -> set[str]:
    """Numbers in the cited passages, their headings and the sources' title and year."""
    found: set[str] = set()
    for ref in refs:
        found |= numbers(f"{ref.get('title', '')} {ref.get('year') or ''}")
        for passage in ref.get("passages", []):
            found |= numbers(f"{passage.get('heading', '')} {passage.get('text', '')}")
    return found


def support(text: str, refs: list[dict[str, Any]], ctx: Context) -> tuple[bool, float]:
    """(supported, best cosine): every number of ``text`` is in ``refs`` AND the cosine of
    ``text`` to its most similar passage sentence is >= ``ctx.support_threshold``."""
    key = (text, tuple(sorted(str(r.get("source_id")) for r in refs)))
    if key not in ctx._support:
        candidates = passage_sentences(refs)
        enc = ctx.require_encoder()
        best = max((enc.cosine(text, s) for s in candidates), default=0.0)
        numbers_ok = numbers(text) <= evidence_numbers(refs)
        ctx._support[key] = (numbers_ok and best >= ctx.support_threshold, round(best, 4))
    return ctx._support[key]


def support_texts(rec: Record) -> list[str]:
    """What the support checks embed: the bullets and the sentences of their cited passages."""
    refs = references(rec)
    out: list[str] = []
    for b in bullets(rec):
        out.append(b["text"])
        out.extend(passage_sentences(refs[n] for n in b.get("citations", []) if n in refs))
    return out


def nearest_rank(values: Sequence[float], pct: float) -> float | None:
    """The nearest-rank percentile: sorted(values)[ceil(pct/100 * n) - 1]."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(0, math.ceil(pct / 100 * len(ordered)) - 1)]
