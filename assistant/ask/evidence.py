"""Sentence-level evidence: the candidate sentences of retrieved chunks and how well each answers.

Relevance is more than similarity: the score combines how much of the question's specific
vocabulary a sentence holds (IDF-weighted), whether it names the question's drug, disease and
population, whether it speaks to the question's facet (efficacy, dosing, safety, ...), numbers,
and how highly retrieval ranked its chunk.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from functools import cached_property

from assistant.ask.lexicon import Lexicon
from assistant.ingest.lexical import LexicalIndex
from assistant.text import NUMBER_RE, content_terms, normalize, numbers, split_sentences
from assistant.types import EVIDENCE_RANK, GUIDANCE_TYPES, Evidence

# Facets that a question about one facet usually also wants to see (a treatment's efficacy
# comes with its safety), with the partial credit they earn.
RELATED_FACETS: dict[str, dict[str, float]] = {
    "efficacy": {"safety": 0.6, "prognosis": 0.6, "recommendation": 0.6, "dosing": 0.3},
    "comparison": {"efficacy": 0.7, "prognosis": 0.6, "recommendation": 0.6, "safety": 0.4},
    "dosing": {"safety": 0.3, "recommendation": 0.3},
    "safety": {"efficacy": 0.3, "recommendation": 0.3},
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
    "question_numbers": 0.15,
}
"""Sentence score = sum of weight x part (parts in [0, 1]; entity may go negative).
``question_numbers`` is a bonus: it stays 0 unless the question itself contains numbers."""
OPEN_DOMAIN_WEIGHTS = {**WEIGHTS, "entity": 0.0, "facet": 0.0, "overlap": 0.45, "retrieval": 0.35}
"""For a question the domain lexicon cannot read (no drug, disease or population it knows),
entities and facets say nothing, and the retrievers' ranking carries their weight. Keeps the
same total (0.95 before the bonus) so thresholds mean the same."""


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
    numbers: set[str] = field(default_factory=set)
    term_entities: dict[str, str] = field(default_factory=dict)
    """Question terms that belong to a named entity ("hlh" -> "HLH"): a sentence naming the
    entity another way ("IL-1 inhibitors" for anakinra) still counts as containing them."""

    @property
    def in_domain(self) -> bool:
        """Whether the question names a drug or disease the domain lexicon knows; only then are
        its facet words read as clinical intents (a population alone, "children", is not enough)."""
        return any(self.entities.get(cls) for cls in ("drug", "disease"))

    @property
    def total_weight(self) -> float:
        return sum(self.weights.values()) or 1.0


class IdfTable:
    """Inverse document frequency of the lexical index's terms."""

    def __init__(self, index: LexicalIndex) -> None:
        self.n_docs = max(len(index), 1)
        self._df = index.document_frequencies()

    @property
    def terms(self) -> list[str]:
        return list(self._df)

    def __contains__(self, term: str) -> bool:
        return self._df.get(term, 0) > 0

    def idf(self, term: str) -> float:
        df = self._df.get(term, 0)
        if df == 0:
            return 0.0
        return math.log(1 + (self.n_docs - df + 0.5) / (df + 0.5))


GENERIC_TERM_WEIGHT = 0.3
"""Weight of a lay or scaffolding word ("stopped", "children") against a subject word."""


def term_weights(question: str, lexicon: Lexicon, idf: IdfTable) -> dict[str, float]:
    """IDF weight of each stemmed content term of the question, facet words excluded.

    Words that name the subject count fully; generic words ("stopped", "patients") a little.
    """
    from assistant.ask.abstain import GENERIC_STEMS, specific_words

    subject = set(content_terms(" ".join(specific_words(question, lexicon))))
    facet_spans = [m.span() for p in lexicon.facets.values() for m in p.finditer(question)]
    kept = [
        m.group(0)
        for m in re.finditer(r"\S+", question)
        if not any(a <= m.start() < b for a, b in facet_spans)
    ]
    weights: dict[str, float] = {}
    for term in content_terms(" ".join(kept)):
        factor = 1.0 if term in subject else GENERIC_TERM_WEIGHT if term in GENERIC_STEMS else 0.0
        if factor:
            weights[term] = idf.idf(term) * factor
    for term in subject:
        weights.setdefault(term, idf.idf(term))
    return weights


def profile_question(question: str, lexicon: Lexicon, idf: IdfTable) -> QuestionProfile:
    weights = term_weights(question, lexicon, idf)
    return QuestionProfile(
        text=question,
        terms=list(weights),
        weights=weights,
        entities=lexicon.by_class(question),
        facets=lexicon.facets_of(question),
        numbers=question_numbers(question, lexicon),
        term_entities={
            t: m.name
            for m in lexicon.find(question)
            for t in content_terms(question[m.start : m.end])
        },
    )


def question_numbers(question: str, lexicon: Lexicon) -> set[str]:
    """Numbers the question asks about, not those inside names it uses (HLH-2004, COVID-19)."""
    names = " ".join(question[m.start : m.end] for m in lexicon.find(question))
    tokens = re.findall(r"[A-Za-z]+-?\d+[A-Za-z]*", question)
    return numbers(question) - numbers(names) - numbers(" ".join(tokens))


@dataclass(frozen=True)
class SentenceInfo:
    """What the scorer needs of a sentence, independent of any question (cached)."""

    text: str
    terms: frozenset[str]
    facets: frozenset[str]
    entities: dict[str, list[str]]


_SENTENCE_CACHE: dict[str, list[SentenceInfo]] = {}


def chunk_sentences(text: str, lexicon: Lexicon) -> list[SentenceInfo]:
    """The sentences of a chunk worth quoting (five words or more), analysed once per text."""
    cached = _SENTENCE_CACHE.get(text)
    if cached is None:
        cached = []
        for start, end in split_sentences(text):
            sentence = normalize(text[start:end])
            if len(sentence.split()) >= 5:
                cached.append(
                    SentenceInfo(
                        sentence,
                        frozenset(content_terms(sentence)),
                        frozenset(lexicon.facet_hits(sentence)),
                        lexicon.by_class(sentence),
                    )
                )
        if len(_SENTENCE_CACHE) > 20_000:
            _SENTENCE_CACHE.clear()
        _SENTENCE_CACHE[text] = cached
    return cached


def candidate_sentences(evidence: list[Evidence], lexicon: Lexicon) -> list[Candidate]:
    out: list[Candidate] = []
    seen: set[tuple[str, str]] = set()
    for item in evidence:
        for info in chunk_sentences(item.chunk.text, lexicon):
            key = (item.source.source_id, info.text)
            if key in seen:
                continue
            seen.add(key)
            out.append(
                Candidate(
                    text=info.text,
                    evidence=item,
                    terms=set(info.terms),
                    facets=set(info.facets),
                    entities=info.entities,
                )
            )
    return out


def _context_entities(c: Candidate, lexicon: Lexicon) -> dict[str, list[str]]:
    """Entities named by the sentence's source title and section heading (cached per chunk)."""
    key = c.evidence.chunk.chunk_id
    if key not in _CONTEXT_CACHE:
        if len(_CONTEXT_CACHE) > 10_000:
            _CONTEXT_CACHE.clear()
        text = f"{c.evidence.source.title} {c.evidence.chunk.heading}"
        _CONTEXT_CACHE[key] = lexicon.by_class(text)
    return _CONTEXT_CACHE[key]


_CONTEXT_CACHE: dict[str, dict[str, list[str]]] = {}


def _entity_score(q: QuestionProfile, c: Candidate, lexicon: Lexicon) -> float:
    """1 when the sentence names what the question names; half when only its source does."""
    parts: list[float] = []
    context_entities = _context_entities(c, lexicon)
    for cls, wanted in q.entities.items():
        if not wanted:
            continue
        got = c.entities.get(cls, [])
        related = max(
            (lexicon.related.get(name, {}).get(g, 0.0) for name in wanted for g in got),
            default=0.0,
        )
        if any(name in got for name in wanted):
            parts.append(1.0)
        elif any(name in context_entities.get(cls, []) for name in wanted) or related >= 0.5:
            parts.append(max(0.5, related))
        elif cls == "drug" and got:
            parts.append(-0.5)  # about another drug only
        else:
            parts.append(0.0)
    return sum(parts) / len(parts) if parts else 0.5


def _facet_score(q: QuestionProfile, c: Candidate) -> float:
    if not q.facets or not q.in_domain:
        return 0.5
    best = 0.0
    for facet in q.facets:
        if facet in c.facets:
            return 1.0
        for related, credit in RELATED_FACETS.get(facet, {}).items():
            if related in c.facets:
                best = max(best, credit)
    return best


def _term_credit(
    q: QuestionProfile,
    c: Candidate,
    term: str,
    names: set[str],
    context: set[str],
    lexicon: Lexicon,
) -> float:
    """1 if the sentence has the term (or names its entity another way), 0.5 if only the
    source's title or heading names the entity, else 0."""
    if term in c.terms:
        return 1.0
    entity = q.term_entities.get(term)
    if entity is None:
        return 0.0
    if entity in names or any(lexicon.related.get(entity, {}).get(n, 0) >= 0.5 for n in names):
        return 1.0
    return 0.5 if entity in context else 0.0


def score_candidates(
    q: QuestionProfile, candidates: list[Candidate], lexicon: Lexicon
) -> list[Candidate]:
    """Score in place and return the candidates best first."""
    weights = WEIGHTS if q.in_domain else OPEN_DOMAIN_WEIGHTS
    max_level = max(EVIDENCE_RANK.values())
    for c in candidates:
        names = {n for group in c.entities.values() for n in group}
        context = {n for group in _context_entities(c, lexicon).values() for n in group}
        overlap = (
            sum(w * _term_credit(q, c, t, names, context, lexicon) for t, w in q.weights.items())
            / q.total_weight
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
            "question_numbers": (
                len(q.numbers & numbers(c.text)) / len(q.numbers) if q.numbers else 0.0
            ),
        }
        c.parts = parts
        c.score = sum(weights[k] * v for k, v in parts.items())
    return sorted(candidates, key=rank_key)


def rank_key(c: Candidate) -> tuple[float, int, str]:
    """Best score first; ties go to the better-ranked chunk, then alphabetically (stable)."""
    return (-c.score, c.evidence.rank, c.text)


def jaccard(a: set[str], b: set[str]) -> float:
    if not a or not b:
        return 0.0
    return len(a & b) / len(a | b)


DOSE_RE = re.compile(
    r"\d[\d.,]*(?:\s*[-\u2013]\s*\d[\d.,]*)?\s*(?:mg|g|mcg|\u00b5g|ug|units?|IU)\b"
    r"(?:\s*/\s*(?:kg|m2|m\u00b2|day|d|dose|h))*",
    re.IGNORECASE,
)
"""A stated dose: 100 mg, 6-10 mg/kg/day, 2 g/kg, 10 mg/m2."""
FOCUSED_FACETS = ("efficacy", "dosing", "safety", "diagnosis", "ferritin", "prognosis")
"""Facets specific enough that a question about them needs a sentence on exactly that."""


def focus_gap(
    q: QuestionProfile, ranked: list[Candidate], lexicon: Lexicon, idf: IdfTable
) -> str | None:
    """'dosing of ruxolitinib' when the question asks a focused facet of a drug (or, without
    one, a disease) and no candidate sentence both names that subject and speaks to that facet.

    A drug is one the lexicon knows or a word shaped like a drug name (-mab, -nib, ...); a
    source whose title names the subject counts as naming it.
    """
    from assistant.ask.abstain import DRUG_NAME

    facets = [f for f in q.facets if f in FOCUSED_FACETS]
    if not facets:
        return None
    drugs = q.entities.get("drug", [])
    shaped = [w for w in re.findall(r"[A-Za-z]+", q.text) if DRUG_NAME.search(w)]
    if drugs:
        subject, term = drugs[0], None
    elif shaped:
        subject, term = shaped[0], content_terms(shaped[0])[0]
    elif q.entities.get("disease"):
        subject, term = q.entities["disease"][0], None
    else:
        return None
    cls = "drug" if drugs else "disease"
    for c in ranked:
        speaks = bool(set(facets) & c.facets) or (
            # a guideline recommending a treatment speaks to whether it works
            "efficacy" in facets
            and "recommendation" in c.facets
            and c.evidence.source.evidence_type in GUIDANCE_TYPES
        )
        if not speaks:
            continue
        if facets == ["dosing"] and not DOSE_RE.search(c.text):
            continue  # a dosing question needs a sentence that states a dose
        if term is not None:
            if term in c.terms or term in content_terms(c.evidence.source.title):
                return None
            continue
        named = lexicon.by_class(f"{c.text} {c.evidence.source.title}").get(cls, [])
        if subject in named:
            return None
    return f"{facets[0]} of {subject}"
