"""The extractive composer (default, offline, no LLM).

It picks the retrieved sentences that answer the question and arranges them: guidance sources
(guideline, consensus, policy) give a bottom line, key considerations and additional context;
research sources are grouped under topical sub-headings. Each bullet is a sentence of a source,
so its citation and its numbers are right by construction (and checked again downstream).
"""

from __future__ import annotations

import re

from assistant.ask.draft import (
    COMPARATOR_NAMES,
    FACET_TOPICS,
    RESEARCH,
    TOPIC_COMPARISON_PREFIX,
    TOPIC_DIAGNOSIS,
    TOPIC_DOSING,
    TOPIC_EFFICACY,
    TOPIC_FINDINGS,
    TOPIC_ORDER,
    TOPIC_OTHER,
    TOPIC_OUTCOMES,
    TOPIC_POPULATIONS,
    TOPIC_SAFETY,
    Draft,
    DraftBullet,
    DraftCitation,
    DraftSection,
    design_label,
    guidelines_section,
)
from assistant.ask.evidence import DOSE_RE, Candidate, QuestionProfile, jaccard
from assistant.config import ComposeSettings
from assistant.types import GUIDANCE_TYPES

_DESIGN_CUE = re.compile(
    r"\b(series|cohort|trial|study|studies|review|meta-analys\w*|guideline|consensus|report|"
    r"retrospective|prospective|analysis|survey|label|policy|criteria|recommend\w*|protocol|"
    r"task force|panel|registry|audit|abstract|summary|appraisal)\b",
    re.IGNORECASE,
)
_ADJUNCT_DRUGS = {"corticosteroids", "IVIG"}
DUPLICATE_JACCARD = 0.6
"""Sentences sharing this much vocabulary say the same thing: one bullet, both citations."""
GUIDANCE_LEVEL_WEIGHT = 0.2
"""How much the kind of guidance (guideline > consensus > policy) counts in their order."""
MAX_BULLETS_PER_TOPIC = 2
"""Research sub-headings other than the question's own topic stay short."""
TOP_SOURCE_EXTRA = 2
"""Extra bullets allowed from the source of the best sentence."""
SAME_SOURCE_TOPIC_PENALTY = 0.08
"""Second sentence of a source on the same topic: prefer another angle of that source."""


def _topic(c: Candidate, q: QuestionProfile) -> str:
    """The research sub-heading of a sentence: a comparison the question asks for, another
    population than the question's, the question's own facet, then the sentence's facet.
    Outside the domain lexicon's reach, facet words mean little: one "Findings" heading."""
    if not q.in_domain:
        return TOPIC_FINDINGS
    main = q.entities.get("drug", [])
    drugs = [d for d in c.entities.get("drug", []) if d not in _ADJUNCT_DRUGS]
    others = [d for d in drugs if d not in main]
    if main and others and ("comparison" in q.facets or any(o in q.text for o in others)):
        other = others[0]
        return TOPIC_COMPARISON_PREFIX + COMPARATOR_NAMES.get(other, other)
    question_populations = set(q.entities.get("population", []))
    populations = set(c.entities.get("population", [])) - question_populations - {"adults"}
    if populations and TOPIC_POPULATIONS not in _facet_topics(q):
        return TOPIC_POPULATIONS
    dose = bool(DOSE_RE.search(c.text))
    for facet in q.facets:
        if facet in c.facets and facet in FACET_TOPICS and facet != "comparison":
            if facet != "dosing" or dose:
                return FACET_TOPICS[facet]
    if dose and "dosing" in c.facets:
        return TOPIC_DOSING
    for facet, topic in (
        ("safety", TOPIC_SAFETY),
        ("diagnosis", TOPIC_DIAGNOSIS),
        ("ferritin", TOPIC_DIAGNOSIS),
        ("efficacy", TOPIC_EFFICACY),
        ("prognosis", TOPIC_OUTCOMES),
    ):
        if facet in c.facets:
            return topic
    return TOPIC_OTHER


def _angle(c: Candidate, q: QuestionProfile) -> object:
    """What a sentence is about, for 'another angle of the same source': its research topic,
    or for guidance its facets."""
    if c.evidence.source.evidence_type in GUIDANCE_TYPES:
        return frozenset(c.facets)
    return _topic(c, q)


def _facet_topics(q: QuestionProfile) -> list[str]:
    return [FACET_TOPICS[f] for f in q.facets if f in FACET_TOPICS]


def _topic_rank(topic: str, q: QuestionProfile) -> tuple[int, int]:
    base = TOPIC_COMPARISON_PREFIX if topic.startswith(TOPIC_COMPARISON_PREFIX) else topic
    wanted = _facet_topics(q)
    first = wanted.index(base) if base in wanted else len(wanted)
    return first, TOPIC_ORDER.index(base) if base in TOPIC_ORDER else len(TOPIC_ORDER)


def _bullet_text(c: Candidate) -> str:
    """The sentence, prefixed with the study design when the sentence does not say it."""
    kind = c.evidence.source.evidence_type
    if kind == "other" or _DESIGN_CUE.search(c.text):
        return c.text
    return f"{design_label(kind)}: {c.text}"


def select(
    q: QuestionProfile,
    ranked: list[Candidate],
    settings: ComposeSettings,
    min_score: float,
    relative: float,
) -> list[Candidate]:
    """Greedy selection: good enough, not a near-duplicate, within per-source and section caps.

    A near-duplicate from another source is kept as an extra citation of the bullet it repeats.
    """
    if not ranked:
        return []
    floor = max(min_score, relative * ranked[0].score)
    top = ranked[0].source_id
    chosen: list[Candidate] = []
    per_source: dict[str, list[Candidate]] = {}
    caps = {True: settings.max_guideline_bullets, False: settings.max_research_bullets}
    counts = {True: 0, False: 0}
    topics: dict[str, int] = {}
    # when the question asks about something (efficacy, dosing...), research sentences that
    # speak to none of it are left out, however well they match its words
    faceted = q.in_domain and bool(set(q.facets) & set(FACET_TOPICS))
    pool = [
        c
        for c in ranked
        if c.score >= floor
        and (
            not faceted
            or c.parts.get("facet", 0) > 0
            or c.evidence.source.evidence_type in GUIDANCE_TYPES
        )
    ]
    while pool:
        best, best_value = None, -1.0
        for c in pool:
            value = c.score
            same = per_source.get(c.source_id, [])
            if any(c.facets and c.facets == s.facets for s in same):
                value -= SAME_SOURCE_TOPIC_PENALTY
            if value > best_value:
                best, best_value = c, value
        assert best is not None
        pool.remove(best)
        guidance = best.evidence.source.evidence_type in GUIDANCE_TYPES
        same_source = per_source.get(best.source_id, [])
        # the most relevant source may say more; any source gets one extra slot for another angle
        cap = settings.max_bullets_per_source + (TOP_SOURCE_EXTRA if best.source_id == top else 0)
        if len(same_source) >= cap + 1:
            continue
        topic = None if guidance else _topic(best, q)
        if len(same_source) >= cap and any(_angle(best, q) == _angle(s, q) for s in same_source):
            continue
        if counts[guidance] >= caps[guidance]:
            continue
        side_topic = topic is not None and _topic_rank(topic, q)[0] >= len(_facet_topics(q))
        if side_topic and topics.get(topic or "", 0) >= MAX_BULLETS_PER_TOPIC:
            continue
        if any(jaccard(best.terms, c.terms) >= DUPLICATE_JACCARD for c in chosen):
            continue
        chosen.append(best)
        counts[guidance] += 1
        if topic is not None:
            topics[topic] = topics.get(topic, 0) + 1
        per_source.setdefault(best.source_id, []).append(best)
    return chosen


def _cite(c: Candidate) -> DraftCitation:
    return DraftCitation(c.source_id, c.evidence.chunk.chunk_id, c.text)


def _bullets(chosen: list[Candidate], ranked: list[Candidate]) -> list[DraftBullet]:
    """One bullet per chosen sentence; near-duplicates from other sources add their citation."""
    out: list[DraftBullet] = []
    for c in chosen:
        bullet = DraftBullet(_bullet_text(c), [_cite(c)])
        cited = {c.source_id}
        for other in ranked:
            if other.source_id in cited or other is c:
                continue
            if jaccard(other.terms, c.terms) >= DUPLICATE_JACCARD and other.score >= 0.5 * c.score:
                bullet.citations.append(_cite(other))
                cited.add(other.source_id)
        out.append(bullet)
    return out


def compose_extractive(
    q: QuestionProfile,
    ranked: list[Candidate],
    settings: ComposeSettings,
    *,
    min_score: float,
    relative: float,
) -> Draft:
    chosen = select(q, ranked, settings, min_score, relative)
    guidance = [c for c in chosen if c.evidence.source.evidence_type in GUIDANCE_TYPES]
    research = [c for c in chosen if c.evidence.source.evidence_type not in GUIDANCE_TYPES]
    sections: list[DraftSection] = []

    if guidance:
        # the bottom line comes from the strongest kind of guidance among near-equals
        guidance.sort(key=lambda c: -(c.score + GUIDANCE_LEVEL_WEIGHT * c.parts.get("level", 0)))
        bullets = _bullets(guidance, ranked)
        sections.append(guidelines_section(bullets))

    if research:
        by_topic: dict[str, list[Candidate]] = {}
        for c in research:
            by_topic.setdefault(_topic(c, q), []).append(c)
        ordered = sorted(by_topic, key=lambda t: _topic_rank(t, q))
        subsections = [
            DraftSection(topic, "research-topic", _bullets(by_topic[topic], ranked))
            for topic in ordered
        ]
        sections.append(DraftSection(RESEARCH, "research", subsections=subsections))
    return Draft(sections=sections)
