"""Evidence records: what a source is as evidence, read at ingest from its metadata and text.

Per source: its study design (front matter, PubMed publication types, or design cues in its
own text: "randomized", "retrospective", "meta-analysis", ...), the number of participants,
population / intervention / comparator where stated, and its effect statements (percentages,
rates, odds/hazard/risk ratios with confidence intervals, p-values, medians, "19 of 21"), each
with the exact span it came from (chunk, unit, characters). The composer writes its evidence
profile and result ranges only from these spans, and the citation checks then find every number
of those sentences in the cited chunks.
"""

from __future__ import annotations

import json
import re
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from assistant.ingest.units import chunk_units, unit_role
from assistant.types import EVIDENCE_RANK, Chunk, SourceDoc

RECORD_VERSION = 2
NOT_STUDIES = frozenset(
    {"patient-information", "guideline", "consensus-recommendation", "policy", "review"}
)
"""Designs that are no study of their own: a number of people in their text is no sample."""


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Span(_Model):
    """Where a piece of text stands: a unit (line) of a chunk, and characters within it."""

    chunk_id: str
    unit: int
    start: int
    end: int
    text: str


class Effect(_Model):
    """One reported result."""

    kind: str = Field(description="percent | ratio | p-value | median | mean | fraction")
    span: Span
    sentence: str
    direction: str = Field("unclear", description="benefit | no-difference | unclear")
    facets: list[str] = Field(default_factory=list)


class EvidenceRecord(_Model):
    source_id: str
    design: str = "other"
    design_basis: str = ""
    pools_randomised: bool = Field(
        False, description="A review or meta-analysis whose text says it pooled randomised trials."
    )
    participants: int | None = None
    participants_span: Span | None = None
    population: str | None = None
    intervention: str | None = None
    comparator: str | None = None
    effects: list[Effect] = Field(default_factory=list)
    version: int = RECORD_VERSION

    @property
    def strength(self) -> int:
        """Lower is stronger (``EVIDENCE_RANK``)."""
        return EVIDENCE_RANK.get(self.design, EVIDENCE_RANK["other"])


# publication type -> design (the strongest wins); the loader's mapping is coarser
PUBLICATION_DESIGNS: dict[str, str] = {
    "practice guideline": "guideline",
    "guideline": "guideline",
    "consensus development conference": "consensus-recommendation",
    "meta-analysis": "meta-analysis",
    "network meta-analysis": "meta-analysis",
    "systematic review": "systematic-review",
    "randomized controlled trial": "rct",
    "controlled clinical trial": "non-randomised-trial",
    "clinical trial": "non-randomised-trial",
    "clinical trial, phase i": "non-randomised-trial",
    "clinical trial, phase ii": "non-randomised-trial",
    "clinical trial, phase iii": "non-randomised-trial",
    "observational study": "observational",
    "comparative study": "observational",
    "multicenter study": "observational",
    "case reports": "case-series",
    "review": "review",
}

# design cues in the text, strongest first; a cue in a background sentence ("previous trials")
# does not count
DESIGN_CUES: list[tuple[str, re.Pattern[str]]] = [
    (design, re.compile(pattern, re.IGNORECASE))
    for design, pattern in (
        ("meta-analysis", r"\bmeta-?analys[ie]s\b|\bpooled analysis\b"),
        ("systematic-review", r"\bsystematic(?:ally)? (?:review|search)"),
        ("rct", r"\brandomi[sz]ed\b(?! to chance)|\brandomly (?:assigned|allocated)\b"),
        (
            "non-randomised-trial",
            r"\b(?:phase (?:i|ii|iii|1|2|3)|open-label|single-arm)\b.{0,40}"
            r"\b(?:trial|study)\b|\bclinical trial\b",
        ),
        ("prospective-cohort", r"\bprospective(?:ly)?\b"),
        (
            "retrospective-cohort",
            r"\bretrospective(?:ly)?\b|\bchart review\b|\brecords? (?:of|were)"
            r" reviewed\b",
        ),
        ("case-control", r"\bcase-?control\b"),
        ("cross-sectional", r"\bcross-?sectional\b|\bsurvey\b|\bquestionnaire\b"),
        (
            "case-series",
            r"\bcase (?:series|report)\b|\bwe (?:report|describe) (?:a|two|three|\d+) "
            r"(?:cases?|patients?)\b",
        ),
        ("animal", r"\b(?:rats?|mice|murine|rabbits?|dogs?|pigs?|animal model)\b"),
        ("laboratory", r"\bin vitro\b|\bcell lines?\b"),
    )
]
_CUE_ROLES = frozenset({"objective", "methods", "results", "conclusions", "other"})

PARTICIPANTS_RE = re.compile(
    r"(?:\bn\s*=\s*(?P<n>\d[\d,]*))|"
    r"\b(?:a total of |in all |overall, )?(?P<m>\d[\d,]*)\s+(?:consecutive |eligible |adult |"
    r"pediatric |paediatric |hospitali[sz]ed |critically ill |pregnant |elderly |older |"
    r"young |newly diagnosed |)(?P<who>patients|participants|subjects|children|adults|women|men|"
    r"infants|neonates|newborns|individuals|people|persons|eyes|pregnancies|mothers|volunteers|"
    r"respondents|cases|residents|students|physicians|nurses)\b",
    re.IGNORECASE,
)
_EFFECT_PATTERNS: list[tuple[str, re.Pattern[str]]] = [
    (
        "ratio",
        re.compile(
            r"(?:\b(?-i:a?OR|a?HR|RR|IRR)\b|\b(?:odds|hazard|risk|rate) ratio\b|\brelative risk\b)"
            r"[^;]{0,30}?\d+(?:\.\d+)?(?:\s*[;,(]\s*95\s*%\s*(?:CI|confidence interval)"
            r"[^);]{0,40}\)?)?",
            re.IGNORECASE,
        ),
    ),
    (
        "percent",
        re.compile(
            r"\d+(?:\.\d+)?\s*(?:%|per ?cent\b)(?!\s*(?:CI\b|confidence|credible))"
            r"(?:\s*\(\s*\d+\s*/\s*\d+\s*\))?",
            re.IGNORECASE,
        ),
    ),
    ("fraction", re.compile(r"\b\d+\s+(?:of|out of)\s+(?:the\s+)?\d+\b", re.IGNORECASE)),
    ("p-value", re.compile(r"\bp\s*[<=>\u2264\u2265]\s*0?\.\d+", re.IGNORECASE)),
    (
        "median",
        re.compile(r"\bmedian\b(?! (?:age|follow-up))[^;.]{0,40}?\d+(?:\.\d+)?", re.IGNORECASE),
    ),
    ("mean", re.compile(r"\bmean\b(?! (?:age|follow-up))[^;.]{0,40}?\d+(?:\.\d+)?", re.IGNORECASE)),
]
_INTERVAL = re.compile(
    r"\b(?:\d+\s*%\s*)?(?:CI|confidence interval|credible interval|IQR|interquartile range)\b"
    r"[^);]{0,60}",
    re.IGNORECASE,
)
"""The bounds of an interval ("95% CI 69.51%-89.69%"): not results of their own."""
_NO_DIFFERENCE = re.compile(
    r"\bno (?:significant |statistically significant )?(?:difference|association|effect|"
    r"benefit|change|improvement)\b|\bnot (?:significantly |statistically )?(?:different|"
    r"associated|significant|improve\w*|reduce\w*)\b|\bdid not (?:differ|improve|reduce|change|"
    r"affect)\b|\bsimilar\b|\bcomparable\b|\bfailed to\b|\bno longer\b",
    re.IGNORECASE,
)
_BENEFIT = re.compile(
    r"\b(?:improv\w+|reduc\w+|lower\w*|decreas\w+|effective|respon\w+|remission|benefit\w*|"
    r"superior|better|higher survival|survived|resolv\w+|prevent\w*|protect\w*)\b",
    re.IGNORECASE,
)


def _design(doc: SourceDoc, units: list[tuple[str, int, str, str]]) -> tuple[str, str]:
    """(design, what it rests on)."""
    if doc.evidence_type not in ("other", "patient-information"):
        return doc.evidence_type, "front matter"
    if doc.evidence_type == "patient-information":
        return "patient-information", "front matter"
    found = [
        PUBLICATION_DESIGNS[p.lower()]
        for p in doc.publication_types
        if p.lower() in PUBLICATION_DESIGNS
    ]
    if found:
        best = min(found, key=lambda d: EVIDENCE_RANK.get(d, EVIDENCE_RANK["other"]))
        if best not in ("observational", "review") or len(set(found)) == 1:
            return best, "publication type"
    for design, pattern in DESIGN_CUES:
        for _, _, text, role in units:
            if role in _CUE_ROLES and (m := pattern.search(text)):
                return design, f"text: \u201c{m.group(0)}\u201d"
    if found:
        return found[0], "publication type"
    return "other", ""


def _participants(units: list[tuple[str, int, str, str]]) -> tuple[int | None, Span | None]:
    """The study size: the first participant count of its methods, else of its results, else
    anywhere (counts of a subgroup come later and are smaller)."""
    for roles in (("methods", "objective"), ("results", "other"), ("conclusions", "background")):
        for cid, i, text, role in units:
            if role not in roles:
                continue
            for m in PARTICIPANTS_RE.finditer(text):
                raw = m.group("n") or m.group("m")
                value = int(raw.replace(",", ""))
                if 2 <= value <= 10_000_000:
                    return value, Span(
                        chunk_id=cid, unit=i, start=m.start(), end=m.end(), text=m.group(0)
                    )
    return None, None


def _effects(units: list[tuple[str, int, str, str]]) -> list[Effect]:
    from assistant.ask.evidence import text_facets

    out: list[Effect] = []
    for cid, i, text, role in units:
        if role in ("objective", "methods", "background"):
            continue
        taken: list[tuple[int, int]] = []
        direction = (
            "no-difference"
            if _NO_DIFFERENCE.search(text)
            else "benefit"
            if _BENEFIT.search(text)
            else "unclear"
        )
        facets = sorted(text_facets(text))
        intervals = [m.span() for m in _INTERVAL.finditer(text)]
        for kind, pattern in _EFFECT_PATTERNS:
            for m in pattern.finditer(text):
                if any(a < m.end() and m.start() < b for a, b in taken):
                    continue
                if kind != "ratio" and any(a <= m.start() < b for a, b in intervals):
                    continue
                taken.append((m.start(), m.end()))
                span = Span(chunk_id=cid, unit=i, start=m.start(), end=m.end(), text=m.group(0))
                out.append(
                    Effect(kind=kind, span=span, sentence=text, direction=direction, facets=facets)
                )
    return out


def evidence_record(doc: SourceDoc, chunks: list[Chunk]) -> EvidenceRecord:
    seen: set[str] = set()
    units: list[tuple[str, int, str, str]] = []
    for chunk in chunks:
        for i, text in enumerate(chunk_units(chunk)):
            if text in seen:  # the overlap of consecutive chunks
                continue
            seen.add(text)
            units.append((chunk.chunk_id, i, text, unit_role(chunk.heading, text)))
    design, basis = _design(doc, units)
    participants, span = _participants(units) if design not in NOT_STUDIES else (None, None)
    rct = dict(DESIGN_CUES)["rct"]
    pools = design in ("systematic-review", "meta-analysis") and any(
        rct.search(text) for _, _, text, _ in units
    )
    return EvidenceRecord(
        source_id=doc.source_id,
        design=design,
        design_basis=basis,
        pools_randomised=pools,
        participants=participants,
        participants_span=span,
        population=doc.population,
        intervention=doc.intervention,
        comparator=doc.comparator,
        effects=_effects(units),
    )


def record_json(doc: SourceDoc, chunks: list[Chunk]) -> str:
    return evidence_record(doc, chunks).model_dump_json(exclude_none=True)


def load_record(raw: str | None) -> EvidenceRecord | None:
    """A stored record, or None when absent, empty or from another version."""
    if not raw:
        return None
    try:
        data: Any = json.loads(raw)
        if not data or data.get("version") != RECORD_VERSION:
            return None
        return EvidenceRecord.model_validate(data)
    except (ValueError, TypeError):
        return None
