"""The extractive composer (default, offline, no LLM).

It picks the retrieved sentences that answer the question and arranges them: a bottom line
(the passage that answers most directly), guidance that matches the question (guideline,
consensus, policy sources) as key considerations, and research sentences under one sub-heading
per clinical facet. Each bullet is a sentence of a source, so its citation and its numbers are
right by construction (and checked again downstream).
"""

from __future__ import annotations

import re

from assistant.ask.draft import (
    FACET_TOPICS,
    TOPIC_ORDER,
    TOPIC_OTHER,
    TOPIC_POPULATIONS,
    Draft,
    DraftBullet,
    DraftCitation,
    DraftSection,
    bottom_line_section,
    design_label,
    guidelines_section,
    research_section,
)
from assistant.ask.evidence import Candidate, cosine, coverage
from assistant.ask.gate import Answerability
from assistant.ask.glossary import plain_design
from assistant.ask.question import QuestionProfile
from assistant.ask.synthesis import (
    certainty,
    conflict,
    evidence_profile,
    evidence_rows,
    key_results,
    result_range,
    study_label,
)
from assistant.config import ComposeSettings
from assistant.ingest.records import EvidenceRecord
from assistant.types import GUIDANCE_TYPES
from assistant.vocab.general import general_vocabulary

_DESIGN_CUE = re.compile(
    r"\b(series|cohort|trial|study|studies|review|meta-analys\w*|guideline|consensus|report|"
    r"retrospective|prospective|analysis|survey|label|policy|criteria|recommend\w*|protocol|"
    r"task force|panel|registry|audit|abstract|summary|appraisal|we)\b",
    re.IGNORECASE,
)
UNLABELLED_TYPES = frozenset({"other", "patient-information"})
"""Evidence types a bullet is not prefixed with (they say nothing about a study's design)."""
DUPLICATE_COSINE = 0.9
DUPLICATE_JACCARD = 0.6
"""Sentences this close say the same thing: one bullet, both citations."""
SAME_SOURCE_PENALTY = 0.06
"""A source's second sentence on the same topic: prefer another angle or another source."""
TOP_SOURCE_EXTRA = 2
MAX_BULLETS_PER_SIDE_TOPIC = 2
MIN_SELECT_COVER = 0.34
"""A sentence must cover this share of what the question names (not be about something else)."""
DIRECT_ROLE_BONUS = 0.08
"""Preference of the bottom line for conclusions, results and recommendations."""
GUIDANCE_MIN_COVER = 0.4
"""Share of what the question names that guidance must cover to fill "From the Guidelines"
(its own bar: calibrating the gate's cover threshold must not change which guidance shows)."""
BOTTOM_LINE_COVER_SLACK = 0.25
"""... unless the preferred passage covers this much less of the question than another."""
SELECT_ROLE_SHIFT = {
    "results": 0.04,
    "conclusions": 0.04,
    "background": -0.03,
    "methods": -0.06,
    "directory": -0.06,
}
"""In the sections, what a study found goes before how it was done: a methods sentence that
restates the question's words ("a case series of 5 children treated with X") must not push out
the result ("all 5 improved within 24-48 hours")."""


def is_guidance(c: Candidate) -> bool:
    return c.evidence.source.evidence_type in GUIDANCE_TYPES


def topic_of(c: Candidate, q: QuestionProfile) -> str:
    """A research sentence's sub-heading: another population than the question's, else the
    question's own facet when the sentence speaks to it, else the sentence's first facet."""
    others = c.info.populations - set(q.populations) - {"adults"}
    if others and q.populations:
        return TOPIC_POPULATIONS
    for facet in q.facets:
        if facet in c.facets and facet in FACET_TOPICS:
            return FACET_TOPICS[facet]
    for facet in FACET_TOPICS:
        if facet in c.facets:
            return FACET_TOPICS[facet]
    for facet in FACET_TOPICS:
        if facet in c.context.facets:
            return FACET_TOPICS[facet]
    return TOPIC_OTHER


def _topic_rank(topic: str, q: QuestionProfile) -> tuple[int, int]:
    wanted = [FACET_TOPICS[f] for f in q.facets if f in FACET_TOPICS]
    first = wanted.index(topic) if topic in wanted else len(wanted)
    return first, TOPIC_ORDER.index(topic) if topic in TOPIC_ORDER else len(TOPIC_ORDER)


def bullet_text(
    c: Candidate,
    record: EvidenceRecord | None = None,
    audience: str = "clinician",
    retrieved: frozenset[str] | None = None,
) -> str:
    """The sentence, led by the study's design and size from its evidence record
    ("Retrospective cohort, 44 children: ..."; for a patient "A study of past patient records,
    44 children: ...") unless the sentence states both itself."""
    kind = record.design if record else c.evidence.source.evidence_type
    span = record.participants_span if record else None
    if (
        record is not None
        and span is not None
        and retrieved is not None
        and (span.chunk_id not in retrieved)
    ):  # its size stands in a chunk the answer cannot cite: the design alone
        record = record.model_copy(update={"participants": None, "participants_span": None})
    if kind in GUIDANCE_TYPES or (
        kind in UNLABELLED_TYPES and not (record and record.participants)
    ):
        return c.text
    label = study_label(record, kind)
    if audience == "patient" and (plain := plain_design(kind)) is not None:
        label = label.replace(design_label(kind), plain[0].upper() + plain[1:], 1)
    size = record.participants_span.text if record and record.participants_span else ""
    states_size = not size or bool(
        record and re.search(rf"\b{re.escape(str(record.participants))}\b", c.text)
    )
    if not label or (_DESIGN_CUE.search(c.text) and states_size):
        return c.text
    return f"{label}: {c.text}"


def _duplicate(a: Candidate, b: Candidate) -> bool:
    """Whether ``b`` says what ``a`` says: a close paraphrase or mostly the same words. Two
    sentences that report different figures ("2-8 mg/kg/day" in milder cases, "2-5 mg/kg/day"
    in severe ones) are different findings however alike their wording."""
    figures_a, figures_b = a.info.figures, b.info.figures
    if figures_a and figures_b and not (figures_a <= figures_b or figures_b <= figures_a):
        return False
    if a.vector is not None and b.vector is not None:
        if cosine(a.vector, b.vector) >= DUPLICATE_COSINE:
            return True
    keys_a, keys_b = a.keys, b.keys
    union = keys_a | keys_b
    return bool(union) and len(keys_a & keys_b) / len(union) >= DUPLICATE_JACCARD


def bottom_line(q: QuestionProfile, answerability: Answerability) -> Candidate | None:
    """The passage that answers most directly: the best-supported candidate, with a preference
    for conclusions, results and guidance recommendations."""
    if not answerability.supporting:
        return None
    pool = answerability.supporting[:10]
    widest = max(c.parts.get("cover", 0.0) for c in pool)

    def value(c: Candidate) -> float:
        direct = c.role in ("conclusions", "results") or (
            is_guidance(c) and "recommendation" in c.facets
        )
        # a result that leaves out much of what is asked does not outrank the passage that
        # covers it all
        narrower = c.parts.get("cover", 0.0) < widest - BOTTOM_LINE_COVER_SLACK
        return c.score + (DIRECT_ROLE_BONUS if direct and not narrower else 0.0)

    return max(pool, key=value)


def select(
    q: QuestionProfile,
    ranked: list[Candidate],
    settings: ComposeSettings,
    exclude: Candidate | None = None,
) -> list[Candidate]:
    """Greedy selection: good enough, about the question, not a near-duplicate, within the
    per-source and per-section caps."""
    if not ranked:
        return []
    floor = max(settings.min_sentence_score, settings.relative_sentence_score * ranked[0].score)
    pool = [
        c
        for c in ranked
        if c is not exclude
        and c.score >= floor
        and c.role != "objective"
        and coverage(q, c) >= MIN_SELECT_COVER
        and (not q.focused or c.parts.get("facet", 0.0) > 0 or is_guidance(c))
    ]
    top_source = ranked[0].source_id
    chosen: list[Candidate] = [exclude] if exclude is not None else []
    per_source: dict[str, list[Candidate]] = {}
    if exclude is not None:
        per_source[exclude.source_id] = [exclude]
    caps = {True: settings.max_guideline_bullets, False: settings.max_research_bullets}
    counts = {True: 0, False: 0}
    side_topics: dict[str, int] = {}
    wanted = {FACET_TOPICS[f] for f in q.facets if f in FACET_TOPICS}
    topics: dict[int, str] = {}  # topic_of per candidate, memoised: the loop asks every pass

    def topic(c: Candidate) -> str:
        if id(c) not in topics:
            topics[id(c)] = topic_of(c, q)
        return topics[id(c)]

    while pool and (counts[True] < caps[True] or counts[False] < caps[False]):
        best, best_value = pool[0], -1.0
        for c in pool:
            value = c.score + SELECT_ROLE_SHIFT.get(c.role, 0.0)
            if any(topic(c) == topic(s) for s in per_source.get(c.source_id, [])):
                value -= SAME_SOURCE_PENALTY
            if value > best_value:
                best, best_value = c, value
        pool.remove(best)
        guidance = is_guidance(best)
        same = per_source.get(best.source_id, [])
        cap = settings.max_bullets_per_source + (
            TOP_SOURCE_EXTRA if best.source_id == top_source else 0
        )
        if len(same) >= cap or counts[guidance] >= caps[guidance]:
            continue
        best_topic = topic(best)
        if (
            not guidance
            and best_topic not in wanted
            and side_topics.get(best_topic, 0) >= (MAX_BULLETS_PER_SIDE_TOPIC)
        ):
            continue
        if any(_duplicate(best, c) for c in chosen):
            continue
        chosen.append(best)
        counts[guidance] += 1
        if not guidance:
            side_topics[best_topic] = side_topics.get(best_topic, 0) + 1
        per_source.setdefault(best.source_id, []).append(best)
    picked = [c for c in chosen if c is not exclude]
    return picked + companions(q, ranked, settings, chosen)


COMPANIONS_PER_FACET = 2


def companions(
    q: QuestionProfile, ranked: list[Candidate], settings: ComposeSettings, chosen: list[Candidate]
) -> list[Candidate]:
    """What an answer on the question's facet should also report (a treatment's harms beside
    its benefits, prompts/vocabulary.yaml companion_facets): the best sentences on that facet
    about the question's main subject, from the sources already cited first."""
    main = q.main
    wanted = [
        f
        for facet in q.facets
        for f in general_vocabulary().companion_facets.get(facet, [])
        if f not in q.facets
    ]
    if main is None or not wanted:
        return []
    order = list(dict.fromkeys(c.source_id for c in chosen))  # the bottom line's source first
    out: list[Candidate] = []
    for facet in dict.fromkeys(wanted):
        have = sum(1 for c in chosen if facet in c.facets)
        pool = [
            c
            for c in ranked
            if facet in c.facets
            and c.names(main)
            and c.score >= settings.min_sentence_score
            and c.role != "objective"
            and c not in chosen
        ]
        pool.sort(
            key=lambda c: (order.index(c.source_id) if c.source_id in order else 99, -c.score)
        )
        for c in pool:
            if have >= COMPANIONS_PER_FACET:
                break
            if any(_duplicate(c, x) for x in [*chosen, *out]) or any(
                x.source_id == c.source_id and facet in x.facets for x in [*chosen, *out]
            ):
                continue
            out.append(c)
            have += 1
    return out


def cite(c: Candidate) -> DraftCitation:
    return DraftCitation(c.source_id, c.evidence.chunk.chunk_id, c.quote or c.text)


def bullets_for(
    chosen: list[Candidate],
    ranked: list[Candidate],
    records: dict[str, EvidenceRecord] | None = None,
    audience: str = "clinician",
) -> list[DraftBullet]:
    """One bullet per chosen sentence; near-duplicates from other sources add their citation.
    A bullet led by its study's size also cites the chunk that states the size."""
    records = records or {}
    retrieved = frozenset(c.evidence.chunk.chunk_id for c in ranked)
    out: list[DraftBullet] = []
    for c in chosen:
        record = records.get(c.source_id)
        text = bullet_text(c, record, audience, retrieved)
        citations = [cite(c)]
        span = record.participants_span if record else None
        if span is not None and text != c.text and span.chunk_id != c.evidence.chunk.chunk_id:
            citations.append(DraftCitation(c.source_id, span.chunk_id, ""))
        bullet = DraftBullet(text, citations)
        cited = {c.source_id}
        for other in ranked:
            if other.source_id in cited or other.score < 0.6 * c.score:
                continue
            if _duplicate(other, c):
                bullet.citations.append(cite(other))
                cited.add(other.source_id)
        out.append(bullet)
    return out


PATIENT_SOURCE_BONUS = 0.1
"""For a patient, a sentence of a page written for patients is preferred to an equally good
sentence of a research paper."""
STATISTICS_RE = re.compile(
    r"\bp\s*[<=>\u2264\u2265]\s*0?\.\d|\b95\s*%\s*CI\b|\bconfidence interval\b|"
    r"\b(?-i:a?OR|a?HR|RR|IRR|AUC)\b\s*[=:]?\s*\d|\b(?:odds|hazard|risk) ratio\b|"
    r"\bscore of\s+\d|\bscored?\s+\d",
    re.IGNORECASE,
)
"""Statistics a patient does not need in the answer itself (they go into the details)."""
DETAILS = "Details for health professionals"
NO_LAY_SOURCE = (
    "The library has no page written for patients on this question: the answer below comes "
    "from sources written for health professionals."
)


def compose_extractive(
    q: QuestionProfile,
    ranked: list[Candidate],
    settings: ComposeSettings,
    answerability: Answerability,
    records: dict[str, EvidenceRecord] | None = None,
    audience: str = "clinician",
) -> Draft:
    records = records or {}
    if audience == "patient":
        for c in ranked:
            if c.evidence.source.evidence_type == "patient-information":
                c.score += PATIENT_SOURCE_BONUS
        ranked = sorted(ranked, key=lambda c: -c.score)
    lead = bottom_line(q, answerability)
    chosen = select(q, ranked, settings, exclude=lead)
    guidance = [c for c in chosen if is_guidance(c) and _matching_guidance(q, c, settings)]
    research = [c for c in chosen if not is_guidance(c)]
    cited = list(
        dict.fromkeys(c.source_id for c in [*([lead] if lead else []), *guidance, *research])
    )
    quotes = {(c.evidence.chunk.chunk_id, c.index): c.quote or c.text for c in ranked}
    about = {
        (c.evidence.chunk.chunk_id, c.index) for c in ranked if q.main is None or c.names(q.main)
    }
    sections: list[DraftSection] = []
    summary: list[DraftBullet] = []
    if lead is not None:
        summary.extend(bullets_for([lead], ranked, records, audience))
    contrary = conflict(q, records, cited, about, quotes)
    for extra in (
        evidence_profile(records, cited, quotes, audience, {cid for cid, _ in quotes}),
        result_range(q, records, cited, about, quotes),
        contrary,
    ):
        if extra is not None:
            summary.append(extra)
    if summary:
        sections.append(bottom_line_section(summary))
    if guidance:
        sections.append(guidelines_section(bullets_for(guidance, ranked, records, audience)))
    details: list[DraftBullet] = []
    if research:
        by_topic: dict[str, list[DraftBullet]] = {}
        for c in research:
            bullet = bullets_for([c], ranked, records, audience)[0]
            if audience == "patient" and STATISTICS_RE.search(c.text):
                details.append(bullet)  # the statistics go into the details
                continue
            by_topic.setdefault(topic_of(c, q), []).append(bullet)
        order = sorted(by_topic, key=lambda t: _topic_rank(t, q))
        if order:
            sections.append(research_section(by_topic, order))
    if details:
        sections.append(DraftSection(DETAILS, "details", details))
    sources = {c.source_id: c.evidence.source for c in ranked}
    rows = evidence_rows(
        records,
        [s for s in cited if sources[s].evidence_type not in GUIDANCE_TYPES],
        {s: sources[s].year for s in cited},
        {s: sources[s].evidence_type for s in cited},
        key_results([c for c in [lead, *research] if c is not None], records),
    )
    lay = any(sources[s].evidence_type == "patient-information" for s in cited)
    return Draft(
        sections=sections,
        notice=NO_LAY_SOURCE if audience == "patient" and cited and not lay else None,
        certainty=certainty(records, cited, conflicting=contrary is not None),
        evidence_rows=rows,
    )


def _matching_guidance(q: QuestionProfile, c: Candidate, settings: ComposeSettings) -> bool:
    """Guidance fills its section only when it is about the question's subject and facet: it
    names the treatment the question asks about (a guideline on the condition that does not
    name the medicine asked about is not guidance on that medicine) and covers enough of the
    rest."""
    main = q.main
    if main is not None and main.cls == "intervention" and not c.names(main):
        return False
    return coverage(q, c) >= GUIDANCE_MIN_COVER and (
        not q.facets or c.parts.get("facet", 0.0) >= 0.6
    )
