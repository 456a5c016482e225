"""Sentence-level evidence: the candidate sentences of retrieved chunks and how well each answers.

Relevance is more than similarity: the score combines how much of the question's specific
vocabulary a sentence holds (IDF-weighted), whether it names the question's drug, disease and
population, whether it speaks to the question's facet (efficacy, dosing, safety, ...), numbers,
and how highly retrieval ranked its chunk.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from functools import cached_property

from assistant.ask.lexicon import Lexicon
from assistant.ingest.lexical import LexicalIndex
from assistant.text import NUMBER_RE, content_terms, normalize, split_sentences
from assistant.types import EVIDENCE_RANK, Evidence

# Facets that a question about one facet usually also wants to see (a treatment's efficacy
# comes with its safety), with the partial credit they earn.
RELATED_FACETS: dict[str, dict[str, float]] = {
    "efficacy": {"safety": 0.6, "prognosis": 0.6, "dosing": 0.3},
    "comparison": {"efficacy": 0.7, "prognosis": 0.6, "safety": 0.4},
    "dosing": {"safety": 0.3},
    "safety": {"efficacy": 0.3},
    "diagnosis": {"ferritin": 0.7},
    "ferritin": {"diagnosis": 0.7},
    "prognosis": {"efficacy": 0.6},
}
WEIGHTS = {
    "overlap": 0.35,
    "entity": 0.25,
    "facet": 0.2,
    "retrieval": 0.1,
    "number": 0.05,
    "level": 0.05,
}


@dataclass
class Candidate:
    """One sentence of a retrieved chunk, scored against the question."""

    text: str
    evidence: Evidence
    terms: set[str]
    facets: set[str]
    entities: dict[str, list[str]]
    score: float = 0.0
    parts: dict[str, float] = field(default_factory=dict)

    @property
    def source_id(self) -> str:
        return self.evidence.source.source_id

    @cached_property
    def has_number(self) -> bool:
        return bool(NUMBER_RE.search(self.text))


@dataclass
class QuestionProfile:
    text: str
    terms: list[str]
    weights: dict[str, float]
    entities: dict[str, list[str]]
    facets: list[str]

    @property
    def total_weight(self) -> float:
        return sum(self.weights.values()) or 1.0


class IdfTable:
    """Inverse document frequency of the lexical index's terms."""

    def __init__(self, index: LexicalIndex) -> None:
        self.n_docs = max(len(index), 1)
        self._df: dict[str, int] = {}
        retriever = index._retriever
        if retriever is not None:
            indptr = retriever.scores["indptr"]
            for token, tid in retriever.vocab_dict.items():
                if token and tid + 1 < len(indptr):  # bm25s adds an empty token past the end
                    self._df[token] = int(indptr[tid + 1] - indptr[tid])

    def __contains__(self, term: str) -> bool:
        return self._df.get(term, 0) > 0

    def idf(self, term: str) -> float:
        df = self._df.get(term, 0)
        if df == 0:
            return 0.0
        return math.log(1 + (self.n_docs - df + 0.5) / (df + 0.5))


def subject_terms(question: str, lexicon: Lexicon) -> list[str]:
    """Stemmed terms that name the question's subject: no scaffolding, lay or facet words."""
    from assistant.ask.abstain import specific_words

    return content_terms(" ".join(specific_words(question, lexicon)))


def profile_question(question: str, lexicon: Lexicon, idf: IdfTable) -> QuestionProfile:
    terms = subject_terms(question, lexicon)
    return QuestionProfile(
        text=question,
        terms=terms,
        weights={t: idf.idf(t) for t in terms},
        entities=lexicon.by_class(question),
        facets=lexicon.facets_of(question),
    )


def candidate_sentences(evidence: list[Evidence], lexicon: Lexicon) -> list[Candidate]:
    out: list[Candidate] = []
    seen: set[tuple[str, str]] = set()
    for item in evidence:
        text = item.chunk.text
        for start, end in split_sentences(text):
            sentence = normalize(text[start:end])
            key = (item.source.source_id, sentence)
            if len(sentence.split()) < 5 or key in seen:
                continue
            seen.add(key)
            out.append(
                Candidate(
                    text=sentence,
                    evidence=item,
                    terms=set(content_terms(sentence)),
                    facets=lexicon.facet_hits(sentence),
                    entities=lexicon.by_class(sentence),
                )
            )
    return out


def _entity_score(q: QuestionProfile, c: Candidate, lexicon: Lexicon) -> float:
    """1 when the sentence names what the question names; half when only its source does."""
    parts: list[float] = []
    context = f"{c.evidence.source.title} {c.evidence.chunk.heading}"
    context_entities = lexicon.by_class(context)
    for cls, wanted in q.entities.items():
        if not wanted:
            continue
        got = c.entities.get(cls, [])
        if any(name in got for name in wanted):
            parts.append(1.0)
        elif any(name in context_entities.get(cls, []) for name in wanted):
            parts.append(0.5)
        elif cls == "drug" and got:
            parts.append(-0.5)  # about another drug only
        else:
            parts.append(0.0)
    return sum(parts) / len(parts) if parts else 0.5


def _facet_score(q: QuestionProfile, c: Candidate) -> float:
    if not q.facets:
        return 0.5
    best = 0.0
    for facet in q.facets:
        if facet in c.facets:
            return 1.0
        for related, credit in RELATED_FACETS.get(facet, {}).items():
            if related in c.facets:
                best = max(best, credit)
    return best


def score_candidates(
    q: QuestionProfile, candidates: list[Candidate], lexicon: Lexicon
) -> list[Candidate]:
    """Score in place and return the candidates best first."""
    max_level = max(EVIDENCE_RANK.values())
    for c in candidates:
        overlap = (
            sum(w for t, w in q.weights.items() if t in c.terms) / q.total_weight
            if q.weights
            else 0.5
        )
        retrieval = 1.0 / (1.0 + (c.evidence.rank - 1) / 4.0)
        level = 1 - EVIDENCE_RANK.get(c.evidence.source.evidence_type, max_level) / max_level
        parts = {
            "overlap": overlap,
            "entity": _entity_score(q, c, lexicon),
            "facet": _facet_score(q, c),
            "retrieval": retrieval,
            "number": 1.0 if c.has_number else 0.0,
            "level": level,
        }
        c.parts = parts
        c.score = sum(WEIGHTS[k] * v for k, v in parts.items())
    return sorted(candidates, key=lambda c: (-c.score, c.evidence.rank, c.text))


def jaccard(a: set[str], b: set[str]) -> float:
    if not a or not b:
        return 0.0
    return len(a & b) / len(a | b)
