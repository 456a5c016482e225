"""The composer's output before citation numbering: bullets that point at sources, not numbers.

Both composers (extractive and LLM) produce a ``Draft``; ``citations.finalize`` turns it into
numbered bullets and references, checking every citation on the way. The answer's shape: a
bottom line first, then "From the Guidelines" (only guidance that matches the question), then
"From the Research" under one sub-heading per clinical facet.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from assistant.types import EVIDENCE_LABELS, EvidenceRow

BOTTOM_LINE = "Bottom line"
GUIDELINES = "From the Guidelines"
RESEARCH = "From the Research"
KEY_CONSIDERATIONS = "Key considerations"
ADDITIONAL_CONTEXT = "Additional context"

TOPIC_OTHER = "Other findings"
TOPIC_POPULATIONS = "Special populations"
FACET_TOPICS: dict[str, str] = {
    "definition": "Overview",
    "symptoms": "Symptoms",
    "causes": "Causes",
    "risk": "Risk factors",
    "diagnosis": "Diagnosis",
    "treatment": "Treatment and efficacy",
    "comparison": "Comparisons",
    "dosing": "Dosing",
    "safety": "Safety and side effects",
    "complications": "Complications",
    "prognosis": "Outcomes and prognosis",
    "prevention": "Prevention",
    "frequency": "How common it is",
    "genetics": "Genetics and inheritance",
    "mechanism": "How it works",
    "recommendation": "Recommendations",
    "timing": "Timing",
}
"""Research sub-headings, in their default order; the question's own facets come first."""
TOPIC_ORDER = [*FACET_TOPICS.values(), TOPIC_POPULATIONS, TOPIC_OTHER]

PATIENT_HEADINGS = {
    BOTTOM_LINE: "In short",
    GUIDELINES: "What expert guidance says",
    RESEARCH: "What studies found",
    KEY_CONSIDERATIONS: "Things to know",
    ADDITIONAL_CONTEXT: "More background",
    "Treatment and efficacy": "How well treatments work",
    "Safety and side effects": "Side effects and safety",
    "Dosing": "How it is given",
    "Diagnosis": "How it is found",
    "Outcomes and prognosis": "What to expect",
    "Genetics and inheritance": "Genes and family",
    "Comparisons": "How the options compare",
    TOPIC_POPULATIONS: "Particular groups of people",
}


def display_heading(heading: str, audience: str) -> str:
    if audience != "patient":
        return heading
    return PATIENT_HEADINGS.get(heading, heading)


def design_label(evidence_type: str) -> str:
    return EVIDENCE_LABELS.get(evidence_type, EVIDENCE_LABELS["other"])


@dataclass
class DraftCitation:
    source_id: str
    chunk_id: str
    sentence: str
    """The exact text of the source this bullet rests on (highlighted under the reference)."""


@dataclass
class DraftBullet:
    text: str
    citations: list[DraftCitation] = field(default_factory=list)
    generated: bool = False
    """Written by our code from stored evidence records (not a source's own sentence): its
    numbers are checked against the record spans it cites like any other number."""


@dataclass
class DraftSection:
    heading: str
    kind: str
    bullets: list[DraftBullet] = field(default_factory=list)
    subsections: list[DraftSection] = field(default_factory=list)

    def is_empty(self) -> bool:
        return not self.bullets and all(s.is_empty() for s in self.subsections)


@dataclass
class Draft:
    sections: list[DraftSection] = field(default_factory=list)
    abstained: bool = False
    notice: str | None = None
    composer: str = "extractive"
    certainty: dict[str, object] | None = None
    evidence_rows: list[EvidenceRow] = field(default_factory=list)


def guidelines_section(bullets: list[DraftBullet]) -> DraftSection:
    """'From the Guidelines': the first three bullets are the key considerations, the rest
    additional context (empty parts left out)."""
    parts = [
        DraftSection(KEY_CONSIDERATIONS, "key-considerations", bullets[:3]),
        DraftSection(ADDITIONAL_CONTEXT, "additional-context", bullets[3:]),
    ]
    return DraftSection(GUIDELINES, "guidelines", subsections=[p for p in parts if p.bullets])


def research_section(topics: dict[str, list[DraftBullet]], order: list[str]) -> DraftSection:
    subsections = [DraftSection(t, "research-topic", topics[t]) for t in order if topics.get(t)]
    return DraftSection(RESEARCH, "research", subsections=subsections)


def bottom_line_section(bullets: list[DraftBullet]) -> DraftSection:
    return DraftSection(BOTTOM_LINE, "bottom-line", bullets)
