"""The nouns every stage shares: sources, chunks, evidence, citations, answers, turns."""

from __future__ import annotations

import hashlib
import json
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

EVIDENCE_TYPES: tuple[str, ...] = (
    "guideline",
    "consensus-recommendation",
    "policy",
    "systematic-review",
    "meta-analysis",
    "rct",
    "non-randomised-trial",
    "prospective-cohort",
    "retrospective-cohort",
    "case-control",
    "cross-sectional",
    "observational",
    "case-series",
    "review",
    "patient-information",
    "animal",
    "laboratory",
    "other",
)
"""Vocabulary of ``SourceDoc.evidence_type`` and of the designs evidence records infer: the
fact sheet's, study designs read from PubMed publication types and abstracts, 'patient-
information' for patient education pages, and 'other'."""

GUIDANCE_TYPES: frozenset[str] = frozenset({"guideline", "consensus-recommendation", "policy"})
"""Evidence types that feed 'From the Guidelines'; everything else is research."""

EVIDENCE_RANK: dict[str, int] = {
    "guideline": 0,
    "consensus-recommendation": 1,
    "policy": 2,
    "meta-analysis": 3,
    "systematic-review": 3,
    "rct": 4,
    "non-randomised-trial": 5,
    "prospective-cohort": 6,
    "retrospective-cohort": 7,
    "case-control": 7,
    "cross-sectional": 8,
    "observational": 8,
    "case-series": 9,
    "review": 10,
    "patient-information": 11,
    "animal": 12,
    "laboratory": 12,
    "other": 13,
}
"""Lower is stronger; used to break ties between equally relevant evidence and to sort the
evidence table."""

EVIDENCE_LABELS: dict[str, str] = {
    "guideline": "Guideline",
    "consensus-recommendation": "Consensus recommendation",
    "policy": "Policy",
    "systematic-review": "Systematic review",
    "meta-analysis": "Meta-analysis",
    "rct": "Randomised controlled trial",
    "non-randomised-trial": "Non-randomised trial",
    "prospective-cohort": "Prospective cohort",
    "retrospective-cohort": "Retrospective cohort",
    "case-control": "Case-control study",
    "cross-sectional": "Cross-sectional study",
    "observational": "Observational study",
    "case-series": "Case series",
    "review": "Narrative review",
    "patient-information": "Patient information",
    "animal": "Animal study",
    "laboratory": "Laboratory study",
    "other": "Other",
}

Audience = Literal["clinician", "patient", "student"]
AUDIENCES: tuple[str, ...] = ("clinician", "patient", "student")


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class DocSection(_Model):
    """A titled part of a source's body text."""

    heading: str = ""
    text: str


class SourceRef(_Model):
    """The bibliographic part of a source: what a reference list shows."""

    source_id: str
    title: str
    authors: list[str] = Field(default_factory=list)
    journal: str | None = None
    year: int | None = None
    volume: str | None = None
    issue: str | None = None
    pages: str | None = None
    pmid: str | None = None
    doi: str | None = None
    link: str | None = None
    evidence_type: str = "other"
    provenance: str | None = None


class SourceDoc(SourceRef):
    """One source article, whatever file it came from: its reference plus its content."""

    population: str | None = None
    intervention: str | None = None
    comparator: str | None = None
    tags: list[str] = Field(default_factory=list)
    mesh: list[str] = Field(default_factory=list)
    publication_types: list[str] = Field(
        default_factory=list, description="PubMed publication types (design evidence)."
    )
    sections: list[DocSection] = Field(default_factory=list)
    path: str | None = None

    def content_hash(self) -> str:
        """Hash of everything that shapes the stored chunks (the file path does not). Fields at
        their defaults are left out, so a field added later does not re-hash every source."""
        payload = self.model_dump(exclude={"path"}, exclude_defaults=True)
        return hashlib.sha1(json.dumps(payload, sort_keys=True).encode()).hexdigest()

    def ref(self) -> SourceRef:
        return SourceRef(**self.model_dump(include=set(SourceRef.model_fields)))

    @property
    def section_names(self) -> list[str]:
        return [s.heading for s in self.sections if s.heading]


class Chunk(_Model):
    """A retrievable piece of one section of one source."""

    chunk_id: str
    source_id: str
    text: str
    heading: str = ""
    section_index: int = 0
    ordinal: int = 0
    start: int = 0
    end: int = 0


class Evidence(_Model):
    """A retrieved chunk with its source and how it was found."""

    chunk: Chunk
    source: SourceRef
    dense_score: float | None = None
    lexical_score: float | None = None
    fused_score: float = 0.0
    rank: int = 0


class Passage(_Model):
    """A stretch of a source shown under a reference, with the cited sentences marked."""

    chunk_id: str
    heading: str = ""
    text: str
    highlights: list[str] = Field(default_factory=list)


class Reference(SourceRef):
    """A numbered entry of an answer's reference list."""

    n: int
    passages: list[Passage] = Field(default_factory=list)


class Bullet(_Model):
    text: str
    citations: list[int] = Field(default_factory=list)
    inline: bool = Field(
        False, description="The text carries its own [n] markers (a generated evidence sentence)."
    )
    generated: bool = Field(
        False,
        description="Written by our code from stored evidence records (every number in it is "
        "the text of a record span inside a cited chunk), not a source's own sentence.",
    )


class AnswerSection(_Model):
    heading: str
    kind: str = "research"
    bullets: list[Bullet] = Field(default_factory=list)
    subsections: list[AnswerSection] = Field(default_factory=list)

    def all_bullets(self) -> list[Bullet]:
        out = list(self.bullets)
        for sub in self.subsections:
            out.extend(sub.all_bullets())
        return out


class EvidenceRow(_Model):
    """One row of "Evidence at a glance": a cited study."""

    source_id: str
    n: int | None = None
    design: str = "other"
    design_label: str = ""
    participants: str | None = None
    year: int | None = None
    result: str = ""


class Certainty(_Model):
    """A GRADE-like certainty of the evidence behind an answer, with the reasons for it."""

    label: Literal["high", "moderate", "low", "very low", "not graded"]
    reasons: list[str] = Field(default_factory=list)


class Answer(_Model):
    """A composed, citation-checked answer, ready to render."""

    question: str
    standalone_question: str
    audience: str = "clinician"
    abstained: bool = False
    notice: str | None = None
    sections: list[AnswerSection] = Field(default_factory=list)
    references: list[Reference] = Field(default_factory=list)
    closest_sources: list[SourceRef] = Field(default_factory=list)
    glossary: dict[str, str] = Field(default_factory=dict)
    disclaimer: str = ""
    follow_ups: list[str] = Field(default_factory=list)
    composer: str = "extractive"
    library_built: str | None = Field(
        default=None,
        description="When the library the answer was built from was last built (ISO 8601, "
        "UTC): with the newest cited source's year, the answer's 'Last updated'.",
    )
    retrieved_ids: list[str] = Field(default_factory=list)
    timings_ms: dict[str, float] = Field(default_factory=dict)
    markdown: str = ""
    citation_map: dict[str, int] = Field(default_factory=dict)
    certainty: Certainty | None = None
    evidence_table: list[EvidenceRow] = Field(default_factory=list)
    answerability: dict[str, Any] | None = Field(
        default=None,
        description="The answerability gate's decision: answerable, reason (a typed code), "
        "detail and the signals it was made on.",
    )

    def all_bullets(self) -> list[Bullet]:
        out: list[Bullet] = []
        for section in self.sections:
            out.extend(section.all_bullets())
        return out

    def cited_source_ids(self) -> list[str]:
        by_n = {ref.n: ref.source_id for ref in self.references}
        seen: list[str] = []
        for bullet in self.all_bullets():
            for n in bullet.citations:
                sid = by_n.get(n)
                if sid and sid not in seen:
                    seen.append(sid)
        return seen


class Turn(_Model):
    """One message of a conversation."""

    role: Literal["user", "assistant"]
    content: str
    citations: dict[str, int] | None = Field(
        default=None, description="source_id -> marker number used in this assistant turn."
    )

    @classmethod
    def parse_list(cls, raw: Any) -> list[Turn]:
        """Validate a JSON history: a list of {role, content} objects."""
        if not isinstance(raw, list):
            raise ValueError('history must be a JSON list of {"role", "content"} objects')
        return [cls.model_validate(item) for item in raw]
