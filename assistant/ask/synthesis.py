"""Evidence synthesis: the parts of the bottom line our code writes from the evidence records.

Beside the passage that answers most directly, the bottom line states what kind of evidence the
answer rests on ("Evidence in the library: one systematic review [1], three retrospective
cohorts [2][3][4] (21 to 87 patients each); no randomised trial among them."), the range of the
figures the studies report for one outcome ("Reported response: 50% to 90.5% [2][4]."), and
whether the studies point in different directions. Every number in these sentences is the text
of a stored record span (a participant count, a reported figure) inside a chunk the sentence
cites, so the citation checks find it there; counts of studies are written as words and are the
number of markers that follow them. A GRADE-like certainty label and the "Evidence at a glance"
table come from the same records.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from assistant.ask.draft import DraftBullet, DraftCitation, design_label
from assistant.ask.evidence import Candidate
from assistant.ask.glossary import plain_design
from assistant.ask.question import QuestionProfile
from assistant.ingest.records import Effect, EvidenceRecord
from assistant.text import NUMBER_WORDS
from assistant.types import EVIDENCE_RANK, GUIDANCE_TYPES, EvidenceRow
from assistant.vocab.general import general_vocabulary

NOT_STUDIES = frozenset({"patient-information", *GUIDANCE_TYPES})
OBSERVATIONAL = frozenset(
    {
        "systematic-review",
        "meta-analysis",
        "non-randomised-trial",
        "prospective-cohort",
        "retrospective-cohort",
        "case-control",
        "cross-sectional",
        "observational",
    }
)
VERY_LOW_START = frozenset(
    {"case-series", "review", "animal", "laboratory", "patient-information", "other"}
)
LEVELS = ("very low", "low", "moderate", "high")
SMALL_STUDY = 100
"""Studies with fewer participants than this are small (GRADE's imprecision)."""
PLURALS = {
    "Case series": "case series",
    "Meta-analysis": "meta-analyses",
    "Systematic review": "systematic reviews",
    "Patient information": "patient information pages",
    "Other": "sources of unstated design",
}


def placeholder(source_id: str) -> str:
    """Where a citation marker of ``source_id`` goes inside a generated sentence (numbered by
    ``citations.finalize``)."""
    return f"{{{{{source_id}}}}}"


def count_word(n: int) -> str:
    if n == 0:
        return "no"
    return NUMBER_WORDS[n] if n < len(NUMBER_WORDS) else str(n)


def design_phrase(design: str, n: int, audience: str = "clinician") -> str:
    if audience == "patient" and (plain := plain_design(design, plural=n > 1)) is not None:
        return plain if n == 1 else f"{count_word(n)} {plain}"
    label = design_label(design)
    if n == 1:
        return ("a " if label[0].lower() not in "aeiou" else "an ") + label[0].lower() + label[1:]
    plural = PLURALS.get(label) or (label[0].lower() + label[1:] + "s")
    return f"{count_word(n)} {plural}"


def study_label(record: EvidenceRecord | None, fallback_design: str) -> str:
    """ "Retrospective cohort, 44 children" (the design and the size the record states)."""
    design = record.design if record else fallback_design
    label = design_label(design) if design not in ("other",) else ""
    size = record.participants_span.text if record and record.participants_span else ""
    size = re.sub(r"^(?:a total of|in all|overall,)\s+", "", size, flags=re.IGNORECASE)
    return ", ".join(x for x in (label, size) if x)


@dataclass
class Synthesis:
    bullets: list[DraftBullet]
    certainty: dict[str, object]
    rows: list[EvidenceRow]


def evidence_profile(
    records: dict[str, EvidenceRecord],
    cited: Sequence[str],
    quotes: dict[tuple[str, int], str],
    audience: str = "clinician",
    retrieved: set[str] | None = None,
) -> DraftBullet | None:
    """'Evidence in the library: ...' over the cited sources' designs and sizes (a size only
    when the chunk stating it was retrieved, so the answer can cite it)."""
    studies = [
        records[s] for s in cited if s in records and records[s].design not in GUIDANCE_TYPES
    ]
    if not studies:
        return None
    by_design: dict[str, list[EvidenceRecord]] = {}
    for record in sorted(studies, key=lambda r: r.strength):
        by_design.setdefault(record.design, []).append(record)
    parts: list[str] = []
    citations: list[DraftCitation] = []
    for design, group in by_design.items():
        markers = "".join(placeholder(r.source_id) for r in group)
        parts.append(f"{design_phrase(design, len(group), audience)} {markers}")
        for r in group:
            first = next(iter(r.effects), None)
            chunk_id = (
                r.participants_span.chunk_id
                if r.participants_span
                else first.span.chunk_id
                if first
                else ""
            )
            citations.append(DraftCitation(r.source_id, chunk_id, ""))
    sized = [
        r
        for r in studies
        if r.participants_span
        and r.participants is not None
        and (retrieved is None or r.participants_span.chunk_id in retrieved)
    ]
    size = ""
    if len(sized) >= 2:
        low = min(sized, key=lambda r: r.participants or 0)
        high = max(sized, key=lambda r: r.participants or 0)
        if low.participants != high.participants:
            who = _who(low) if _who(low) == _who(high) else "participants"
            size = f" ({low.participants} to {high.participants} {who} each)"
            for r in (low, high):
                span = r.participants_span
                assert span is not None
                quote = quotes.get((span.chunk_id, span.unit), "")
                citations.append(DraftCitation(r.source_id, span.chunk_id, quote))
    elif len(sized) == 1 and len(studies) == 1:
        span = sized[0].participants_span
        assert span is not None
        size = f" ({span.text})"
        citations.append(
            DraftCitation(
                sized[0].source_id, span.chunk_id, quotes.get((span.chunk_id, span.unit), "")
            )
        )
    if any(_randomised(r) for r in studies) or all(r.design in NOT_STUDIES for r in studies):
        tail = ""
    elif all(r.design in NOT_RANDOMISED for r in studies):
        tail = "; all observational, no randomised trial among them"
    else:
        tail = "; no randomised trial among them"
    listing = _join(parts)
    text = f"Evidence in the library: {listing}{size}{tail}."
    return DraftBullet(text, _dedupe(citations), generated=True)


NOT_RANDOMISED = (OBSERVATIONAL - {"non-randomised-trial"}) | {"case-series"}
"""Designs that, without a randomised trial pooled, are observational evidence (what the
evidence profile calls "all observational"; a non-randomised trial is an experiment)."""


def _randomised(record: EvidenceRecord) -> bool:
    return record.design == "rct" or record.pools_randomised


def _who(record: EvidenceRecord) -> str:
    span = record.participants_span
    words = span.text.split() if span else []
    return words[-1].lower() if words and words[-1].isalpha() else "participants"


def _join(parts: list[str]) -> str:
    if len(parts) <= 2:
        return " and ".join(parts)
    return ", ".join(parts[:-1]) + " and " + parts[-1]


def _dedupe(citations: list[DraftCitation]) -> list[DraftCitation]:
    seen: dict[tuple[str, str], DraftCitation] = {}
    for c in citations:
        key = (c.source_id, c.chunk_id)
        if key not in seen or (c.sentence and not seen[key].sentence):
            seen[key] = c
    return list(seen.values())


def _relevant_effects(
    q: QuestionProfile, record: EvidenceRecord, about: set[tuple[str, int]]
) -> list[Effect]:
    """Figures of a record stated in a unit about the question's subject (``about``: chunk id
    and unit index of the candidates that cover it) and, for a faceted question, its facet."""
    related = general_vocabulary().related_facets
    wanted = set(q.facets)
    for facet in q.facets:
        wanted |= {f for f, credit in related.get(facet, {}).items() if credit >= 0.5}
    out = []
    for effect in record.effects:
        if (effect.span.chunk_id, effect.span.unit) not in about:
            continue
        if wanted and not wanted & set(effect.facets):
            continue
        out.append(effect)
    return out


def _cited_effects(
    q: QuestionProfile,
    records: dict[str, EvidenceRecord],
    cited: Sequence[str],
    about: set[tuple[str, int]],
) -> Iterator[tuple[EvidenceRecord, Effect]]:
    """The relevant figures of each cited source that has a record, in citation order."""
    for sid in cited:
        record = records.get(sid)
        if record is not None:
            for effect in _relevant_effects(q, record, about):
                yield record, effect


def result_range(
    q: QuestionProfile,
    records: dict[str, EvidenceRecord],
    cited: Sequence[str],
    about: set[tuple[str, int]],
    quotes: dict[tuple[str, int], str],
) -> DraftBullet | None:
    """'Reported response across two studies: 50% to 90.5% [2][4].' for the outcome most often
    reported as a percentage by the cited studies, not guidance (each figure the span's own
    text), followed by the next outcomes (up to ``MAX_OUTCOMES`` in all: "Reported response:
    90.5% in one study [1]; survival: 63% to 83% in one study [3].") so that a library holding
    one response figure still shows the range of what was measured.
    None for a question that asks for another kind of quantity (a dose, a duration, a cost):
    percentages do not answer it."""
    if any(name != "share" for name, _ in q.answer_types):
        return None
    general = general_vocabulary()
    by_outcome: dict[str, list[tuple[float, Effect, EvidenceRecord]]] = {}
    for record, effect in _cited_effects(q, records, cited, about):
        if effect.kind != "percent" or record.design in GUIDANCE_TYPES:
            continue  # a guideline's figures (a survey of services) are not study results
        outcome = general.outcome_before(effect.sentence, effect.span.start)
        value = _value(effect.span.text)
        if outcome is None or value is None:
            continue
        by_outcome.setdefault(outcome, []).append((value, effect, record))
    if not by_outcome:
        return None
    # most sources first; the sort is stable, so among outcomes reported as often the first
    # reported stays first
    ranked = sorted(by_outcome.items(), key=lambda kv: -len({r.source_id for _, _, r in kv[1]}))[
        :MAX_OUTCOMES
    ]
    citations: list[DraftCitation] = []
    parts: list[str] = []
    for outcome, figures in ranked:
        figures.sort(key=lambda f: f[0])
        sources = list(dict.fromkeys(r.source_id for _, _, r in figures))
        citations += [
            DraftCitation(
                r.source_id, e.span.chunk_id, quotes.get((e.span.chunk_id, e.span.unit), "")
            )
            for _, e, r in figures
        ]
        low, high = figures[0], figures[-1]
        lo_text, hi_text = _figure(low[1].span.text), _figure(high[1].span.text)
        figure = hi_text if low[0] == high[0] else f"{lo_text} to {hi_text}"
        n = len(sources)
        scope = "in one study" if n == 1 else f"across {count_word(n)} studies"
        if len(ranked) == 1:
            parts.append(f"{outcome} {scope}: {figure}")
        else:
            markers = "".join(placeholder(sid) for sid in sources)
            parts.append(f"{outcome}: {figure} {scope} {markers}")
    text = "Reported " + "; ".join(parts) + "."
    return DraftBullet(text, _dedupe(citations), generated=True)


MAX_OUTCOMES = 3
"""Outcomes the result sentence reports, most often reported first."""


def _value(text: str) -> float | None:
    m = re.search(r"\d+(?:\.\d+)?", text)
    return float(m.group(0)) if m else None


def _figure(text: str) -> str:
    """The percentage as the source writes it, without a trailing "(19/21)"."""
    return re.sub(r"\s*\(.*$", "", text).strip()


def conflict(
    q: QuestionProfile,
    records: dict[str, EvidenceRecord],
    cited: Sequence[str],
    about: set[tuple[str, int]],
    quotes: dict[tuple[str, int], str],
) -> DraftBullet | None:
    """'The studies point in different directions: ...' when, about the question's subject and
    facet, one cited study reports a benefit and another no difference."""
    sides: dict[str, list[tuple[EvidenceRecord, Effect]]] = {"benefit": [], "no-difference": []}
    for record, effect in _cited_effects(q, records, cited, about):
        if effect.direction in sides and not any(r is record for r, _ in sides[effect.direction]):
            sides[effect.direction].append((record, effect))
    if not (sides["benefit"] and sides["no-difference"]):
        return None
    for_ = {r.source_id for r, _ in sides["benefit"]}
    against = {r.source_id for r, _ in sides["no-difference"]} - for_
    if not against:
        return None
    citations = [
        DraftCitation(r.source_id, e.span.chunk_id, quotes.get((e.span.chunk_id, e.span.unit), ""))
        for r, e in sides["benefit"] + sides["no-difference"]
        if r.source_id in for_ | against
    ]
    text = (
        "The studies point in different directions: "
        + "".join(placeholder(s) for s in sorted(for_))
        + " report a benefit, "
        + "".join(placeholder(s) for s in sorted(against))
        + " no difference."
    )
    return DraftBullet(text, _dedupe(citations), generated=True)


def certainty(
    records: dict[str, EvidenceRecord], cited: Sequence[str], conflicting: bool
) -> dict[str, object]:
    """A GRADE-like label from the designs and sizes behind the answer.

    Start: high when a randomised trial, or a systematic review/meta-analysis that says it
    pooled randomised trials, is among the cited studies; low for other reviews and
    comparative or observational designs; very low for case series,
    narrative reviews, patient information, laboratory and animal work or an unstated design.
    Then one level down for each: every study small (fewer than SMALL_STUDY participants, or no
    size stated); a single study; studies pointing in different directions. Answers resting only
    on guidance or patient information are not graded.
    """
    studies = [records[s] for s in cited if s in records and records[s].design not in NOT_STUDIES]
    if not studies:
        return {
            "label": "not graded",
            "reasons": ["the answer rests on guidance or patient information, not on studies"],
        }
    designs = {r.design for r in studies}
    reasons: list[str] = []
    if any(_randomised(r) for r in studies):
        level = 3
        reasons.append("randomised evidence among the cited studies")
    elif designs & OBSERVATIONAL:
        level = 1
        reasons.append("no randomised evidence among the cited studies")
    else:
        level = 0
        reasons.append("case series, reviews or sources of unstated design only")
    if all((r.participants or 0) < SMALL_STUDY for r in studies):
        level -= 1
        reasons.append("small studies only")
    if len(studies) == 1:
        level -= 1
        reasons.append("a single study")
    if conflicting:
        level -= 1
        reasons.append("results in different directions")
    return {"label": LEVELS[max(level, 0)], "reasons": reasons}


def evidence_rows(
    records: dict[str, EvidenceRecord],
    cited: Sequence[str],
    years: dict[str, int | None],
    design_of: dict[str, str],
    results: dict[str, str],
) -> list[EvidenceRow]:
    """One row per cited study, strongest design first (numbered after citation)."""
    rows = []
    for sid in cited:
        record = records.get(sid)
        design = record.design if record else design_of.get(sid, "other")
        participants = (
            record.participants_span.text if record and record.participants_span else None
        )
        rows.append(
            EvidenceRow(
                source_id=sid,
                design=design,
                design_label=design_label(design),
                participants=participants,
                year=years.get(sid),
                result=results.get(sid, ""),
            )
        )
    return sorted(rows, key=lambda r: (EVIDENCE_RANK.get(r.design, 99), -(r.year or 0)))


def key_results(chosen: Sequence[Candidate], records: dict[str, EvidenceRecord]) -> dict[str, str]:
    """Per source, the chosen sentence that reports a result (else the first chosen one)."""
    out: dict[str, str] = {}
    for c in chosen:
        if c.source_id not in out or (c.info.reports_result and not _reports(out[c.source_id])):
            out[c.source_id] = c.text
    return out


def _reports(text: str) -> bool:
    from assistant.ask.evidence import unit_info

    return unit_info(text).reports_result
