"""Sentence-level evidence: the units of the retrieved chunks and how well each one answers.

A unit is a line of a chunk (a sentence, or a list with its lead-in); its embedding and its role
(results, conclusions, methods, ...) were stored at ingest, so scoring a candidate needs no
model call: its cosine with the question's vector (computed once for retrieval) is combined with
how much of what the question names it covers (the question's subjects, in the sentence or in
its source's title and heading), whether it speaks to the question's facet and population, its
role, and how highly retrieval ranked its chunk.

A unit is never quoted as a fragment: one that opens with an unresolved reference ("They",
"This", "Other types") is quoted with the sentence before it, or left out; table and figure
titles and lead-ins without their list are left out.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import numpy as np

from assistant.ask.question import QuestionProfile, Subject
from assistant.ingest.units import chunk_units
from assistant.text import numbers
from assistant.types import Evidence
from assistant.vocab.extract import token_key, tokens
from assistant.vocab.general import general_vocabulary
from assistant.vocab.overlay import Overlay

MIN_WORDS = 5
MAX_RESTORED_WORDS = 70
CONTEXT_CREDIT = 0.6
"""Credit for a subject named only by the source's title or the section heading."""
ROLE_PRIOR = {
    "results": 1.0,
    "conclusions": 1.0,
    "other": 0.8,
    "background": 0.55,
    "methods": 0.25,
    "directory": 0.25,
    "objective": 0.0,
}
WEIGHTS = {
    "semantic": 0.34,
    "cover": 0.24,
    "facet": 0.12,
    "population": 0.06,
    "role": 0.1,
    "retrieval": 0.06,
    "quantitative": 0.08,
    "question_numbers": 0.1,
}
"""Score = sum of weight x part, each part in [0, 1]. ``question_numbers`` only counts for
questions that contain numbers."""
SEMANTIC_FLOOR = 0.15
SEMANTIC_SPAN = 0.7
"""Cosines are read on [floor, floor + span]: MiniLM gives unrelated sentences ~0.1 and
close paraphrases ~0.85."""
QUANTITATIVE_FACETS = frozenset(
    {"treatment", "prognosis", "frequency", "risk", "comparison", "safety", "dosing", "diagnosis"}
)
"""Facets whose best answers usually report a result: a rate, a ratio, a count."""
_RESULT_RE = re.compile(
    r"\d\s*%|\bper ?cent\b|\b(?:OR|HR|RR|IRR|AUC|CI)\b|\bp\s*[<=>]\s*0?\.\d|"
    r"\b\d+\s+(?:of|out of)\s+(?:the\s+)?\d+\b",
    re.IGNORECASE,
)

_ANAPHORA = re.compile(
    r"^(?:they|these|this|those|it|its|such|both|he|she|their|the latter|the former|"
    r"other (?:types|forms|kinds|causes|symptoms)|others|another)\b",
    re.IGNORECASE,
)
_LEAD_IN_ANAPHORA = re.compile(
    r"^[^,.;:]{3,60},\s+(?:it|they)\s+"
    r"(?!is\b|was\b|(?:may|can|could|might|will|would|should) be\b)[a-z]+\b",
    re.IGNORECASE,
)
"""A pronoun subject after a lead-in phrase ("In people with dry eye, it may reduce ..."): as
unresolved as one that opens the sentence. "It is" and "it may be" are left alone, as they
often refer to nothing ("In children, it is important to ...")."""
_TABLE_TITLE = re.compile(r"^(?:table|figure|fig\.?|supplementary)\s*[\dIVX]", re.IGNORECASE)
_DEFINITION = re.compile(
    r"^[A-Z][\w'(),/ -]{0,80}?\s(?:is|are|refers to|means)\s(?:a|an|the|one)\b"
)


@dataclass(frozen=True)
class UnitInfo:
    """What scoring needs of a unit, independent of any question (cached by text)."""

    text: str
    keys: frozenset[str]
    facets: frozenset[str]
    populations: frozenset[str]
    anaphoric: bool
    fragment: bool
    directory: bool = False
    figures: frozenset[str] = frozenset()
    """The numbers it states (normalised, ``text.numbers``)."""

    @property
    def has_number(self) -> bool:
        return bool(self.figures)

    @property
    def reports_result(self) -> bool:
        """Whether the unit states a result: a percentage, a ratio, a p-value, "19 of 21"."""
        return bool(_RESULT_RE.search(self.text))


_UNIT_CACHE: dict[str, UnitInfo] = {}
_CONTEXT_CACHE: dict[str, UnitInfo] = {}


_LIST_UNIT = re.compile(r"^[^:]{0,200}:\s.+;")
"""A list with its lead-in ("These resources address ...: A; B; C."): its "These" points
forward at its own items, not back."""


MAX_HEADING_WORDS = 14
_TITLE_WORD = re.compile(r"[(\"'\u201c]*([A-Za-z][\w'-]*)")


def heading_like(text: str) -> bool:
    """A heading left in the running text ("For People Who Take Acarbose (Precose) or Miglitol
    (Glyset)"): short, no sentence punctuation at its end, its longer words capitalised. It says
    what follows, not what is true, so it is never quoted on its own."""
    stripped = text.strip()
    words = stripped.split()
    if not words or len(words) > MAX_HEADING_WORDS or stripped[-1] in ".!?;:":
        return False
    longer = [m.group(1) for w in words if (m := _TITLE_WORD.match(w)) and len(m.group(1)) >= 4]
    if len(longer) < 2:
        return False
    capitalised = sum(1 for w in longer if w[0].isupper())
    return capitalised / len(longer) >= 0.75


def is_directory(text: str) -> bool:
    """A list whose items are titles (links to resources: "These resources address ...: Genetic
    Testing Registry: Stargardt Disease; MedlinePlus Encyclopedia: Eye Exam"): where to read
    more rather than a finding. It may be all a page says on a facet, so it stays quotable, in
    the role "directory", ranked like a methods sentence."""
    if not _LIST_UNIT.match(text):
        return False
    items = [i.strip().rstrip(".") for i in text.split(":", 1)[1].split(";") if i.strip()]
    if len(items) < 2:
        return False
    titles = sum(1 for i in items if any(heading_like(part) for part in (i, *i.split(":"))))
    return titles / len(items) >= 0.6


def _keys(text: str) -> frozenset[str]:
    """Token keys of a text; a hyphenated word also gives its parts ("EBV-HLH": ebv, hlh)."""
    out: set[str] = set()
    for word, _, _ in tokens(text):
        out.add(token_key(word))
        if "-" in word:
            out.update(token_key(p) for p in word.split("-") if len(p) > 1)
    return frozenset(out)


def text_facets(text: str) -> frozenset[str]:
    facets = set(general_vocabulary().facets_of(text))
    if _DEFINITION.match(text):
        facets.add("definition")
    return frozenset(facets)


def unit_info(text: str) -> UnitInfo:
    info = _UNIT_CACHE.get(text)
    if info is None:
        stripped = text.strip()
        info = UnitInfo(
            text=stripped,
            keys=_keys(stripped),
            facets=text_facets(stripped),
            populations=frozenset(general_vocabulary().populations_of(stripped)),
            anaphoric=bool(_ANAPHORA.match(stripped) or _LEAD_IN_ANAPHORA.match(stripped))
            and not _LIST_UNIT.match(stripped),
            fragment=(
                len(stripped.split()) < MIN_WORDS
                or stripped.endswith(":")
                or bool(_TABLE_TITLE.match(stripped))
                or heading_like(stripped)
            ),
            directory=is_directory(stripped),
            figures=frozenset(numbers(stripped)),
        )
        if len(_UNIT_CACHE) > 50_000:
            _UNIT_CACHE.clear()
        _UNIT_CACHE[text] = info
    return info


def context_info(e: Evidence) -> UnitInfo:
    """The source title and section heading read like a unit (cached per chunk)."""
    key = e.chunk.chunk_id
    info = _CONTEXT_CACHE.get(key)
    if info is None:
        heading = e.chunk.heading
        text = f"{e.source.title}. {heading}" if heading else e.source.title
        base = unit_info(text)
        info = UnitInfo(
            text,
            base.keys,
            text_facets(heading) | base.facets,
            base.populations,
            False,
            False,
            figures=base.figures,
        )
        if len(_CONTEXT_CACHE) > 20_000:
            _CONTEXT_CACHE.clear()
        _CONTEXT_CACHE[key] = info
    return info


@dataclass
class Candidate:
    """A unit of a retrieved chunk, as it would be quoted, scored against the question."""

    text: str
    evidence: Evidence
    index: int
    role: str
    vector: np.ndarray | None
    info: UnitInfo
    restored: bool = False
    quote: str = ""
    """The source's own text this candidate quotes, as it stands in the chunk (its lines joined
    by newlines): what a reference highlights."""
    score: float = 0.0
    parts: dict[str, float] = field(default_factory=dict)
    coverage: dict[str, float] = field(default_factory=dict)
    """Per subject surface (and "~key" per qualifier): the credit this candidate gives it."""
    source_coverage: dict[str, float] = field(default_factory=dict)
    """The same, for everything retrieved from the candidate's source (its title included)."""
    chunk_keys: frozenset[str] = frozenset()
    chunk_facets: frozenset[str] = frozenset()
    chunk_populations: frozenset[str] = frozenset()
    """Word keys, facets and populations of its chunk (any unit, the title, the heading)."""
    source_populations: frozenset[str] = frozenset()
    """Populations everything retrieved from its source speaks of (a study names whom it
    studied once, in its methods; its results need not repeat it)."""

    @property
    def source_id(self) -> str:
        return self.evidence.source.source_id

    @property
    def facets(self) -> frozenset[str]:
        return self.info.facets

    @property
    def keys(self) -> frozenset[str]:
        return self.info.keys

    @property
    def context(self) -> UnitInfo:
        return context_info(self.evidence)

    def names(self, subject: Subject) -> bool:
        """Whether the unit itself names ``subject`` (full credit, not a part of it)."""
        return self.coverage.get(subject.surface, 0.0) >= 1.0

    def speaks_of(self, subject: Subject) -> bool:
        """Whether the unit, its source's title or its section heading names ``subject``, not
        only another passage of its source."""
        return self.coverage.get(subject.surface, 0.0) >= CONTEXT_CREDIT

    @property
    def has_number(self) -> bool:
        return self.info.has_number


def candidate_units(
    evidence: list[Evidence], units: dict[str, list[tuple[str, np.ndarray]]]
) -> list[Candidate]:
    """Every quotable unit of the evidence (first occurrence per source), with its stored role
    and vector; anaphoric units carry the sentence before them, fragments are left out."""
    out: list[Candidate] = []
    seen: set[tuple[str, str]] = set()
    for item in evidence:
        lines = chunk_units(item.chunk)
        stored = units.get(item.chunk.chunk_id, [])
        for i, line in enumerate(lines):
            info = unit_info(line)
            if info.fragment:
                continue
            text, quote, restored = info.text, info.text, False
            if info.anaphoric:
                previous = _antecedent(lines, i)
                if previous is not None:
                    text = f"{previous.text} {info.text}"
                    quote = f"{previous.quote}\n{info.text}"
                elif (topic := _topic_title(item.source.title)) is not None:
                    text = f"{topic}: {info.text}"  # a page about one topic: "It" is the topic
                else:
                    continue
                if len(text.split()) > MAX_RESTORED_WORDS:
                    continue
                if previous is not None:
                    info = _merged(previous.info, info, text)
                restored = True
            key = (item.source.source_id, text)
            if key in seen:
                continue
            seen.add(key)
            role, vector = stored[i] if i < len(stored) else ("other", None)
            if info.directory:
                role = "directory"
            out.append(Candidate(text, item, i, role, vector, info, restored, quote))
    return out


@dataclass(frozen=True)
class _Antecedent:
    text: str
    quote: str
    info: UnitInfo


def _antecedent(lines: list[str], i: int) -> _Antecedent | None:
    """The sentences before an anaphoric unit that say what it refers to: the one before it,
    or, when that one is anaphoric too ("..., it may reduce damage. It may take months"), the
    two before it; None when they are fragments or the chain goes further back."""
    if i == 0:
        return None
    first = unit_info(lines[i - 1])
    if first.fragment:
        return None
    if not first.anaphoric:
        return _Antecedent(first.text, first.text, first)
    if i < 2:
        return None
    second = unit_info(lines[i - 2])
    if second.fragment or second.anaphoric:
        return None
    text = f"{second.text} {first.text}"
    return _Antecedent(text, f"{second.text}\n{first.text}", _merged(second, first, text))


MAX_TOPIC_TITLE_WORDS = 6


def _topic_title(title: str) -> str | None:
    """A source title short enough to be the topic of a page ("Glaucoma", "Monilethrix -
    treatment") and free of numbers (a quoted bullet may only carry the source's numbers)."""
    words = title.split()
    if not words or len(words) > MAX_TOPIC_TITLE_WORDS or re.search(r"\d", title):
        return None
    return title.strip()


def _merged(first: UnitInfo, second: UnitInfo, text: str) -> UnitInfo:
    return UnitInfo(
        text,
        first.keys | second.keys,
        first.facets | second.facets,
        first.populations | second.populations,
        False,
        False,
        figures=first.figures | second.figures,
    )


SOURCE_CREDIT = 0.5
"""Credit for a subject named only elsewhere in the same source (a study of sHLH whose safety
sentence does not repeat "sHLH")."""


def _alternative_credit(
    wanted: frozenset[str], weights: dict[str, float], keys: frozenset[str]
) -> float:
    total = sum(weights.get(k, 0.0) for k in wanted) or float(len(wanted))
    have = sum(weights.get(k, 0.0) or (1.0 if not weights else 0.0) for k in wanted & keys)
    return have / total if total else 0.0


def subject_credit(
    subject: Subject,
    c: Candidate,
    overlay: Overlay | None,
    source_keys: frozenset[str] = frozenset(),
) -> float:
    """1 when the unit names the subject; CONTEXT_CREDIT when only its source's title or the
    section heading does, SOURCE_CREDIT when only another sentence of the source does; a
    multi-word subject partly named earns the IDF-weighted share of its words named."""
    best = 0.0
    if subject.overlay and overlay is not None:
        credit = overlay.credit(subject.overlay, overlay.names_in(c.text))
        if credit >= 1.0:
            return 1.0
        context = overlay.credit(subject.overlay, overlay.names_in(c.context.text))
        best = max(credit, CONTEXT_CREDIT * context)
    weights = dict(subject.token_weights)
    keys, context_keys = c.keys, c.context.keys
    for wanted in subject.key_sets:
        if wanted <= keys:
            return 1.0
        best = max(
            best,
            _alternative_credit(wanted, weights, keys),
            CONTEXT_CREDIT * _alternative_credit(wanted, weights, keys | context_keys),
            SOURCE_CREDIT * _alternative_credit(wanted, weights, keys | context_keys | source_keys),
        )
    return best


def coverage(
    q: QuestionProfile, c: Candidate, only: set[str] | None = None, scope: str = "unit"
) -> float:
    """Weighted share of what the question names (subjects and qualifiers) that the unit
    (``scope="unit"``) or its whole retrieved source (``"source"``) covers; ``only`` restricts
    the subjects counted (by surface) for one side of a comparison."""
    credits = c.coverage if scope == "unit" else c.source_coverage
    covered = total = 0.0
    for subject in q.subjects:
        if only is not None and subject.surface not in only:
            continue
        total += subject.weight
        covered += subject.weight * credits.get(subject.surface, 0.0)
    for key, weight in q.qualifiers.items():
        total += weight
        covered += weight * credits.get(f"~{key}", 0.0)
    return covered / total if total else 0.5


def facet_credit(q: QuestionProfile, c: Candidate) -> float:
    if not q.facets:
        return 0.5
    related = general_vocabulary().related_facets
    best = 0.0
    for facet in q.facets:
        if facet in c.facets:
            return 1.0
        if facet in c.context.facets:
            best = max(best, 0.8)
        for other, credit in related.get(facet, {}).items():
            if other in c.facets:
                best = max(best, credit)
    return best


def population_credit(q: QuestionProfile, c: Candidate) -> float:
    if not q.populations:
        return 0.5
    named = c.info.populations | c.context.populations
    if set(q.populations) & named:
        return 1.0
    return 0.2 if c.info.populations else 0.45


def score_candidates(
    q: QuestionProfile,
    candidates: list[Candidate],
    query_vector: np.ndarray | None,
    overlay: Overlay | None = None,
) -> list[Candidate]:
    """Score in place; return the candidates best first."""
    if query_vector is not None and candidates:
        qv = np.asarray(query_vector, dtype=np.float32)
        have = [c for c in candidates if c.vector is not None]
        if have:
            matrix = np.stack([np.asarray(c.vector, dtype=np.float32) for c in have])
            sims = matrix @ qv
            for c, sim in zip(have, sims, strict=True):
                c.parts["cosine"] = float(sim)
    source_keys: dict[str, set[str]] = {}
    chunk_keys: dict[str, set[str]] = {}
    chunk_facets: dict[str, set[str]] = {}
    chunk_populations: dict[str, set[str]] = {}
    source_populations: dict[str, set[str]] = {}
    for c in candidates:
        keys = c.keys | c.context.keys
        source_keys.setdefault(c.source_id, set()).update(keys)
        cid = c.evidence.chunk.chunk_id
        chunk_keys.setdefault(cid, set()).update(keys)
        chunk_facets.setdefault(cid, set(c.context.facets)).update(c.facets)
        chunk_populations.setdefault(cid, set(c.context.populations)).update(c.info.populations)
        source_populations.setdefault(c.source_id, set()).update(
            c.context.populations, c.info.populations
        )
    frozen = {sid: frozenset(keys) for sid, keys in source_keys.items()}
    by_source: dict[str, dict[str, float]] = {}
    for c in candidates:
        cid = c.evidence.chunk.chunk_id
        c.chunk_keys = frozenset(chunk_keys[cid])
        c.chunk_facets = frozenset(chunk_facets[cid])
        c.chunk_populations = frozenset(chunk_populations[cid])
        c.source_populations = frozenset(source_populations[c.source_id])
        if c.source_id not in by_source:
            by_source[c.source_id] = _source_credits(q, frozen[c.source_id], overlay, c)
        c.source_coverage = by_source[c.source_id]
        cosine = c.parts.get("cosine", 0.0)
        semantic = min(max((cosine - SEMANTIC_FLOOR) / SEMANTIC_SPAN, 0.0), 1.0)
        c.coverage = {
            s.surface: subject_credit(s, c, overlay, frozen[c.source_id]) for s in q.subjects
        }
        for key in q.qualifiers:
            c.coverage[f"~{key}"] = (
                1.0 if key in c.keys else CONTEXT_CREDIT if key in c.context.keys else 0.0
            )
        cover = coverage(q, c)
        parts = {
            "semantic": semantic,
            "cover": cover,
            "facet": facet_credit(q, c),
            "population": population_credit(q, c),
            "role": ROLE_PRIOR.get(c.role, ROLE_PRIOR["other"]),
            "retrieval": 1.0 / (1.0 + (c.evidence.rank - 1) / 4.0),
            "quantitative": _quantitative(q, c),
            "question_numbers": (
                len(q.numbers & numbers(c.text)) / len(q.numbers) if q.numbers else 0.0
            ),
        }
        c.parts.update(parts)
        c.score = sum(WEIGHTS[k] * parts[k] for k in WEIGHTS)
    return sorted(candidates, key=rank_key)


def _source_credits(
    q: QuestionProfile, keys: frozenset[str], overlay: Overlay | None, c: Candidate
) -> dict[str, float]:
    """Credit of each subject and qualifier over everything retrieved from a source."""
    out: dict[str, float] = {}
    for s in q.subjects:
        best = 0.0
        weights = dict(s.token_weights)
        for wanted in s.key_sets:
            best = max(best, _alternative_credit(wanted, weights, keys))
        if s.overlay and overlay is not None and best < 1.0:
            best = max(best, overlay.credit(s.overlay, overlay.names_in(c.context.text)))
        out[s.surface] = best
    for key in q.qualifiers:
        out[f"~{key}"] = 1.0 if key in keys else 0.0
    return out


def _quantitative(q: QuestionProfile, c: Candidate) -> float:
    if q.facets and not set(q.facets) & QUANTITATIVE_FACETS:
        return 0.5
    if c.info.reports_result:
        return 1.0
    return 0.4 if c.has_number else 0.0


def rank_key(c: Candidate) -> tuple[float, int, str]:
    """Best score first; ties go to the better-ranked chunk, then alphabetically (stable)."""
    return (-c.score, c.evidence.rank, c.text)


def cosine(a: np.ndarray | None, b: np.ndarray | None) -> float:
    if a is None or b is None:
        return 0.0
    return float(np.dot(np.asarray(a, dtype=np.float32), np.asarray(b, dtype=np.float32)))
