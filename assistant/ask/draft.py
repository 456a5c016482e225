"""The composer's output before citation numbering: bullets that point at sources, not numbers.

Both composers (extractive and LLM) produce a ``Draft``; ``citations.finalize`` turns it into
numbered bullets and references, checking every citation on the way.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from assistant.types import EVIDENCE_LABELS

GUIDELINES = "From the Guidelines"
RESEARCH = "From the Research"
BOTTOM_LINE = "Bottom line"
KEY_CONSIDERATIONS = "Key considerations"
ADDITIONAL_CONTEXT = "Additional context"

# Research topics, in their default order; a question's own facet is moved to the front.
TOPIC_EFFICACY = "Efficacy"
TOPIC_SAFETY = "Safety and tolerability"
TOPIC_DOSING = "Dosing"
TOPIC_DIAGNOSIS = "Diagnosis"
TOPIC_POPULATIONS = "Special populations"
TOPIC_OUTCOMES = "Outcomes and survival"
TOPIC_OTHER = "Other findings"
TOPIC_FINDINGS = "Findings"
TOPIC_COMPARISON_PREFIX = "Comparison with "
TOPIC_ORDER = [
    TOPIC_EFFICACY,
    TOPIC_COMPARISON_PREFIX,
    TOPIC_SAFETY,
    TOPIC_DOSING,
    TOPIC_DIAGNOSIS,
    TOPIC_POPULATIONS,
    TOPIC_OUTCOMES,
    TOPIC_FINDINGS,
    TOPIC_OTHER,
]
FACET_TOPICS = {
    "efficacy": TOPIC_EFFICACY,
    "safety": TOPIC_SAFETY,
    "dosing": TOPIC_DOSING,
    "diagnosis": TOPIC_DIAGNOSIS,
    "ferritin": TOPIC_DIAGNOSIS,
    "prognosis": TOPIC_OUTCOMES,
    "comparison": TOPIC_COMPARISON_PREFIX,
}
COMPARATOR_NAMES = {"etoposide": "etoposide-based therapy"}

PATIENT_HEADINGS = {
    GUIDELINES: "What expert guidance says",
    RESEARCH: "What studies found",
    BOTTOM_LINE: "In short",
    KEY_CONSIDERATIONS: "Things to know",
    ADDITIONAL_CONTEXT: "More background",
    TOPIC_EFFICACY: "How well it works",
    TOPIC_SAFETY: "Side effects and safety",
    TOPIC_DOSING: "How it is given",
    TOPIC_DIAGNOSIS: "How it is recognised",
    TOPIC_POPULATIONS: "Particular groups of patients",
    TOPIC_OUTCOMES: "Survival and outcomes",
    TOPIC_OTHER: "Other findings",
    TOPIC_FINDINGS: "What the studies report",
}


def display_heading(heading: str, audience: str) -> str:
    if audience != "patient":
        return heading
    if heading.startswith(TOPIC_COMPARISON_PREFIX):
        return "Compared with " + heading[len(TOPIC_COMPARISON_PREFIX) :]
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


def guidelines_section(bullets: list[DraftBullet]) -> DraftSection:
    """'From the Guidelines': the first bullet is the bottom line, the next three the key
    considerations, the rest additional context (empty parts left out)."""
    parts = [
        DraftSection(BOTTOM_LINE, "bottom-line", bullets[:1]),
        DraftSection(KEY_CONSIDERATIONS, "key-considerations", bullets[1:4]),
        DraftSection(ADDITIONAL_CONTEXT, "additional-context", bullets[4:]),
    ]
    return DraftSection(GUIDELINES, "guidelines", subsections=[p for p in parts if p.bullets])
