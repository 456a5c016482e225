"""The answerability gate: one decision, with a typed reason, on whether the library answers.

The best similarity of a passage cannot tell an answerable question from a near miss (every
word of "is pregabalin safe in pregnancy?" may be in a library that only names pregabalin). So
the gate asks what the question requires and whether one retrieved passage provides all of it:

1. every specific thing the question names is in the library (a rare word or an acronym the
   library has never seen decides on its own, in proportion to its weight in the question;
   an ordinary word such as "aunt" never does);
2. some passage covers enough of what the question names (in the sentence, its source's title
   and section heading, or elsewhere in its source) while its source covers most of it; its
   chunk speaks to the question's focused facet and population; and when the question asks
   for a quantity ("how many minutes", "what percentage", "how much does it cost") or hinges on
   a time span ("10-year"), the sentence states one; a number the question binds to a unit
   ("aged 75 years", "eight weeks", "500 mg/day") is written somewhere in its source; and it
   speaks of every population the question names ("pregnant women", not only "women"). A
   passage whose whole chunk is close to the question (a study of exactly this, in other
   words: PubMedQA questions paraphrase their abstract's title) covers what it names without
   the word cover, and a population its source never names is not held against it; a
   wh-question on a treatment's facet or quantity needs a passage whose sentence, title or
   heading names that treatment;
3. that passage scores well enough overall (semantic similarity, coverage, facet, role),
   unless its chunk is that close to the question. Nothing else is waived.

Thresholds are settings (``compose.gate_*``), calibrated on the dev splits of several
libraries (see evals/calibration/README.md). The same gate checks suggested follow-ups.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from enum import StrEnum

from assistant.ask.evidence import CONTEXT_CREDIT, Candidate, coverage, facet_credit
from assistant.ask.question import QuestionProfile
from assistant.config import ComposeSettings
from assistant.text import numbers, spelled_numbers
from assistant.vocab.general import general_vocabulary


class Reason(StrEnum):
    UNKNOWN_TERM = "unknown-term"
    SUBJECTS_APART = "subjects-not-together"
    FACET_MISSING = "facet-not-covered"
    POPULATION_MISSING = "population-not-covered"
    QUANTITY_MISSING = "quantity-not-covered"
    ANSWER_TYPE_MISSING = "answer-not-stated"
    LOW_SUPPORT = "low-support"
    NO_EVIDENCE = "no-evidence"


DOSE_RE = re.compile(
    r"\d[\d.,]*(?:\s*[-\u2013]\s*\d[\d.,]*)?\s*(?:mg|g|mcg|\u00b5g|ug|units?|iu|ml|mmol|"
    r"tablets?|pills?|drops?|puffs?)\b|\b(?:once|twice|three times|four times)\s+(?:a|per|each)\s+"
    r"(?:day|week|month)|\bevery\s+\d+\s*(?:hours?|h|days?|weeks?)\b",
    re.IGNORECASE,
)
"""A stated dose or schedule: 100 mg, 6-10 mg/kg/day, two tablets, twice a day, every 8 hours."""
_QUANTITY_RE = re.compile(
    r"\b(\d+(?:\.\d+)?)-(year|month|week|day|hour)\b|\b(day|week|month|year)\s+(\d+)\b",
    re.IGNORECASE,
)


_UNIT = (
    r"(?:years?|months?|weeks?|days?|hours?|h|minutes?|min|mg|g|mcg|\u00b5g|kg|ml|cm|mm|gy|"
    r"units?|iu|%|percent|per ?cent)"
)
_SPAN_RE = re.compile(
    rf"(?<![\w.,])(\d+(?:\.\d+)?)(?:\s*(?:-|\u2013|to|or)\s*\d+(?:\.\d+)?)?\s*-?\s*{_UNIT}(?![a-z])|"
    r"\baged?\s+(\d+)\b",
    re.IGNORECASE,
)


def stated_spans(text: str) -> dict[str, str]:
    """The numbers a question binds to a unit ("75 years or older", "eight weeks", "five-year",
    "500 mg/day", "aged 70"), each with the phrase: a near miss often changes just that. A bare
    number ("my sugar is 60", "I'm 68") is the asker's own reading, not a qualifier."""
    out: dict[str, str] = {}
    for m in _SPAN_RE.finditer(spelled_numbers(text)):
        number = m.group(1) or m.group(2)
        out.setdefault(number, m.group(0).strip())
    return out


def source_numbers(ranked: list[Candidate]) -> dict[str, set[str]]:
    """Every number written in what was retrieved from each source (its chunks and title), the
    number words as digits."""
    texts: dict[str, dict[str, str]] = {}
    for c in ranked:
        chunks = texts.setdefault(c.source_id, {"": c.evidence.source.title or ""})
        chunks[c.evidence.chunk.chunk_id] = c.evidence.chunk.text
    return {sid: numbers(spelled_numbers(" ".join(t.values()))) for sid, t in texts.items()}


def quantities(text: str) -> list[tuple[str, re.Pattern[str]]]:
    """Time-bound phrases a question hinges on ("10-year", "day 28"), each with the pattern a
    supporting sentence must contain ("10 years" of age is not a "10-year" span)."""
    out = []
    for m in _QUANTITY_RE.finditer(text):
        if m.group(1):
            n, unit = m.group(1), m.group(2).lower()
            pattern = re.compile(rf"\b{re.escape(n)}[- ]{unit}\b(?!s)", re.IGNORECASE)
        else:
            unit, n = m.group(3).lower(), m.group(4)
            pattern = re.compile(rf"\b{unit}\s+{re.escape(n)}\b", re.IGNORECASE)
        out.append((m.group(0), pattern))
    return out


@dataclass
class Answerability:
    answerable: bool
    reason: Reason | None = None
    detail: str = ""
    signals: dict[str, float] = field(default_factory=dict)
    supporting: list[Candidate] = field(default_factory=list)
    """Candidates that meet every requirement of the question, best first."""

    def as_json(self) -> dict[str, object]:
        return {
            "answerable": self.answerable,
            "reason": self.reason.value if self.reason else None,
            "detail": self.detail,
            "signals": {k: round(v, 4) for k, v in self.signals.items()},
        }


@dataclass
class Requirement:
    """What one candidate gives of what the question requires."""

    unit_cover: float
    source_cover: float
    cosine: float
    facet: bool
    population: bool
    answer_type: bool
    quantity: bool
    chunk_cosine: float = 0.0
    """The MiniLM cosine of the question with the passage's whole chunk (its source's title and
    section heading included), as dense retrieval scored it."""
    silent_population: bool = False
    """Neither the chunk nor what was retrieved from its source names any population."""
    spans_held: bool = True
    """Its source states every number the question binds to a unit ("after 10 years")."""
    together: bool = True
    """Its chunk names two of the treatments and conditions the question names, if it names
    two or more ("can metformin give me diarrhea?" is not answered by a metformin passage and a
    diarrhea passage of one page)."""

    def close_chunk(self, settings: ComposeSettings) -> bool:
        """Whether the passage's chunk as a whole is about exactly what the question asks (a
        study of this, in other words): then it covers what the question names, and a
        population the question names but the study never spells out ("women" in a study of
        eclampsia) is no reason to refuse."""
        return self.chunk_cosine >= settings.gate_close_chunk_cosine

    def covers(self, settings: ComposeSettings) -> bool:
        """Whether the passage covers what the question names: in words, or, for a passage
        semantically very close to the question (a study of exactly this, in other words), with
        a looser word cover of its source."""
        if (
            self.unit_cover >= settings.gate_min_unit_cover
            and self.source_cover >= settings.gate_min_source_cover
        ):
            return True
        if (
            self.cosine >= settings.gate_close_cosine
            and self.source_cover >= settings.gate_close_source_cover
        ):
            return True
        return self.close_chunk(settings)

    def met(self, settings: ComposeSettings) -> bool:
        return (
            self.covers(settings)
            and self.facet
            and self.population_met(settings)
            and self.answer_type
            and self.quantity
            and self.spans_held
            and self.together_met(settings)
        )

    def together_met(self, settings: ComposeSettings) -> bool:
        return self.together or self.chunk_cosine >= settings.gate_together_chunk_cosine

    def population_met(self, settings: ComposeSettings) -> bool:
        return self.population or (self.silent_population and self.close_chunk(settings))


def chunk_cosine(c: Candidate) -> float:
    """The cosine of the question with the candidate's whole chunk, as dense retrieval scored
    it (0 for a chunk found by the lexical index alone)."""
    return c.evidence.dense_score or 0.0


def requirement(
    q: QuestionProfile,
    c: Candidate,
    only: set[str] | None = None,
    held: dict[str, set[str]] | None = None,
) -> Requirement:
    """The sentence must cover enough of what the question names, its source (everything
    retrieved from it) most of it; its chunk must speak to the question's focused facet and
    population; the sentence itself must state the quantity the question asks for, and its
    source every number the question binds to a unit (``held``: the numbers of each source; None
    when the question binds none)."""
    # a yes/no question about a finding ("does X prevent Y?") is answered by the study of X
    # and Y whatever words it measures Y with; a wh-question needs a passage on its facet
    focused = [] if q.yes_no else q.focused
    # the dose, timing or harms of a treatment come from a passage about it: its sentence, its
    # source's title or its heading names it, not only another passage of the source (an
    # alemtuzumab dose does not answer "what is the rituximab regimen?")
    main = q.main
    about_main = main is None or main.cls != "intervention" or c.speaks_of(main)
    facet = True
    if focused:
        facet = facet_credit(q, c) >= 0.5 and bool(set(focused) & c.chunk_facets) and about_main
        if facet and "dosing" in focused and not q.answer_types:
            facet = bool(DOSE_RE.search(c.text))
    named = c.chunk_populations | c.source_populations
    population = population_named(q.populations, c.chunk_populations, named)
    answer_type = all(pattern.search(c.text) for _, pattern in q.answer_types) and (
        not q.answer_types or about_main
    )
    quantity = all(p.search(c.text) for _, p in quantities(q.text))
    known = {s.surface for s in q.subjects if s.known}
    subjects = known if only is None else only & known
    return Requirement(
        coverage(q, c, subjects),
        coverage(q, c, subjects, scope="source"),
        c.parts.get("cosine", 0.0),
        facet,
        population,
        answer_type,
        quantity,
        chunk_cosine(c),
        not named,
        held is None or set(stated_spans(q.text)) <= held.get(c.source_id, set()),
        _together(q, c, subjects),
    )


TOGETHER_CLASSES = ("intervention", "condition")
TOGETHER_MIN_WEIGHT = 3.0
"""The subjects that must be named together: treatments and conditions at least this specific
in the library (an IDF of 3: rarer than one source in twenty)."""


def _together(q: QuestionProfile, c: Candidate, subjects: set[str]) -> bool:
    heavy = [
        s
        for s in q.subjects
        if s.surface in subjects and s.cls in TOGETHER_CLASSES and s.weight >= TOGETHER_MIN_WEIGHT
    ]
    if len(heavy) < 2:
        return True
    named = sum(
        1
        for s in heavy
        if c.coverage.get(s.surface, 0.0) >= CONTEXT_CREDIT
        or any(wanted <= c.chunk_keys for wanted in s.key_sets)
    )
    return named >= 2


def population_named(wanted: list[str], in_chunk: frozenset[str], named: frozenset[str]) -> bool:
    """Whether a passage speaks of every population the question names ("pregnant women" in
    "pregnant patients": a population implies others), and "in adults" of a text that studied
    nobody else."""
    if not wanted:
        return True
    populations = general_vocabulary().populations
    defaults = {n for n, p in populations.items() if p.default}
    implied = set().union(*(populations[p].implies for p in wanted if p in populations))
    specific = set(wanted) - implied - defaults
    if specific:
        return specific <= named
    return bool(set(wanted) & named) or (set(wanted) <= defaults and not in_chunk - defaults)


def comparison_sides(q: QuestionProfile) -> list[set[str]]:
    """For a question naming two or more subjects of one class (two medicines, two diseases):
    the subjects to cover for each side, the others of that class left out."""
    for cls in ("intervention", "condition"):
        group = [s.surface for s in q.subjects if s.known and s.cls == cls]
        if len(group) >= 2:
            rest = {s.surface for s in q.subjects if s.known and s.surface not in group}
            return [rest | {name} for name in group]
    return []


@dataclass
class Assessment:
    """What every candidate of the window gives of the question's requirements: computed once,
    then decided against thresholds (``decide``), so calibration can try many thresholds."""

    q: QuestionProfile
    checked: list[tuple[Candidate, Requirement]]
    sides: list[list[tuple[Candidate, Requirement]]]
    signals: dict[str, float]


def assess(q: QuestionProfile, ranked: list[Candidate], window: int) -> Assessment:
    subject_weight = q.subject_weight
    unknown_weight = sum(s.weight for s in q.subjects if not s.known)
    signals: dict[str, float] = {
        "unknown_share": unknown_weight / subject_weight if subject_weight else 0.0,
        "best_score": ranked[0].score if ranked else 0.0,
        "best_cosine": max((c.parts.get("cosine", 0.0) for c in ranked), default=0.0),
    }
    top = ranked[:window]
    held = source_numbers(ranked) if stated_spans(q.text) else None
    checked = [(c, requirement(q, c, held=held)) for c in top]
    sides = [[(c, requirement(q, c, side, held)) for c in top] for side in comparison_sides(q)]
    if checked:
        signals["best_unit_cover"] = max(r.unit_cover for _, r in checked)
        signals["best_source_cover"] = max(r.source_cover for _, r in checked)
    return Assessment(q, checked, sides, signals)


def decide(a: Assessment, settings: ComposeSettings, *, semantic: bool = True) -> Answerability:
    """The gate's decision on an assessment (see the module docstring)."""
    q, signals = a.q, dict(a.signals)
    if q.unknown and signals["unknown_share"] >= settings.gate_max_unknown_share:
        names = ", ".join(dict.fromkeys(q.unknown))
        return Answerability(
            False, Reason.UNKNOWN_TERM, f"the library has nothing on {names}", signals
        )
    if not a.checked:
        return Answerability(
            False, Reason.NO_EVIDENCE, "no passage of the library was found", signals
        )
    meeting = [c for c, r in a.checked if r.met(settings)]
    if not meeting and a.sides:
        # "compare X and Y": each side may be answered by its own passage
        per_side = [[c for c, r in side if r.met(settings)] for side in a.sides]
        if all(per_side):
            merged = {id(c): c for side in per_side for c in side}
            meeting = sorted(merged.values(), key=lambda c: -c.score)
    if not meeting:
        return _refusal(q, a.checked, settings, signals)
    best = max(meeting[:5], key=lambda c: c.score)
    signals["support"] = best.score
    signals["support_cosine"] = best.parts.get("cosine", 0.0)
    signals["support_chunk_cosine"] = chunk_cosine(best)
    close = any(chunk_cosine(c) >= settings.gate_close_chunk_cosine for c in meeting[:5])
    if (
        semantic
        and not close
        and (
            best.score < settings.gate_min_support
            or best.parts.get("cosine", 0.0) < settings.gate_min_cosine
        )
    ):
        return Answerability(
            False,
            Reason.LOW_SUPPORT,
            "no passage of the library answers the question closely enough",
            signals,
        )
    return Answerability(True, None, "", signals, meeting)


def check(
    q: QuestionProfile,
    ranked: list[Candidate],
    settings: ComposeSettings,
    *,
    semantic: bool = True,
) -> Answerability:
    """Decide whether ``ranked`` (scored candidates, best first) answers ``q``.

    ``semantic=False`` skips the support threshold (for follow-up checks scored without a
    query vector)."""
    return decide(assess(q, ranked, settings.gate_window), settings, semantic=semantic)


def _refusal(
    q: QuestionProfile,
    checked: list[tuple[Candidate, Requirement]],
    settings: ComposeSettings,
    signals: dict[str, float],
) -> Answerability:
    """The reason nothing met the question: the first requirement that no passage meets among
    those that cover its subjects."""
    main = q.main.surface if q.main else "this subject"
    covering = [(c, r) for c, r in checked if r.covers(settings)]
    if not covering:
        named = [s.surface for s in q.subjects if s.known]
        if len(named) > 1:
            detail = f"no passage of the library speaks of {' and '.join(named[:3])} together"
        else:
            detail = f"no passage of the library speaks of {main} closely enough"
        return Answerability(False, Reason.SUBJECTS_APART, detail, signals)
    covering = [(c, r) for c, r in covering if r.together_met(settings)]
    if not covering:
        named = [s.surface for s in q.subjects if s.known and s.cls in TOGETHER_CLASSES]
        detail = f"no passage of the library speaks of {' and '.join(named[:3])} together"
        return Answerability(False, Reason.SUBJECTS_APART, detail, signals)
    if not any(r.population_met(settings) for _, r in covering):
        who = " or ".join(q.populations)
        return Answerability(
            False, Reason.POPULATION_MISSING, f"the library has nothing on {main} in {who}", signals
        )
    if not any(r.facet for _, r in covering):
        facet = q.focused[0] if q.focused else "this question"
        return Answerability(
            False,
            Reason.FACET_MISSING,
            f"the library has no evidence on the {facet} of {main}",
            signals,
        )
    if not any(r.spans_held for _, r in covering):
        spans = ", ".join(stated_spans(q.text).values())
        return Answerability(
            False,
            Reason.QUANTITY_MISSING,
            f"the library has nothing on {spans} for {main}",
            signals,
        )
    if not any(r.quantity for _, r in covering):
        spans = ", ".join(text for text, _ in quantities(q.text))
        return Answerability(
            False,
            Reason.QUANTITY_MISSING,
            f"the library has nothing on {spans} for {main}",
            signals,
        )
    kinds = " or ".join(name for name, _ in q.answer_types) or "figure"
    return Answerability(
        False,
        Reason.ANSWER_TYPE_MISSING,
        f"the library names {main} but states no {kinds} that answers this",
        signals,
    )
