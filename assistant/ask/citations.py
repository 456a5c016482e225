"""Citations as a pipeline of values: raw markers -> resolved sources -> numbered references.

Nothing here trusts a composer. A marker that does not resolve to a retrieved source is dropped;
a sentence left without a resolving citation is dropped; a sentence with a number that its cited
passages do not contain is dropped. Numbers are assigned by first appearance and stay stable
across the turns of a conversation (``citation_map``: source_id -> n).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from assistant.ask.draft import Draft, DraftBullet, DraftCitation, DraftSection
from assistant.text import numbers
from assistant.types import AnswerSection, Bullet, Evidence, Passage, Reference

_DASHES = "-\u2010\u2011\u2012\u2013\u2014\u2015\u2212"
"""Hyphen-minus, the Unicode hyphens and dashes, and the minus sign: all mean a range."""
MARKER_RE = re.compile(rf"\[(\s*\d+(?:\s*(?:[,;]|[{_DASHES}])\s*\d+)*\s*)\]")
"""An inline citation marker: [3], [1, 4], [2-4], [2\u20134], [1;2]."""
_EMPTY_BRACKETS = re.compile(r"\[[\s,;]*\]")
"""What a nested marker leaves behind: "[[1], [2]]" -> "[, ]"."""
_RANGE_LIMIT = 20


def parse_marker(body: str) -> list[int]:
    """'1, 3-5' -> [1, 3, 4, 5]; absurd ranges are ignored."""
    out: list[int] = []
    for part in re.split(r"[,;]", body):
        part = part.strip()
        if not part:
            continue
        bounds = re.split(rf"\s*[{_DASHES}]\s*", part)
        if len(bounds) == 2 and bounds[0].isdigit() and bounds[1].isdigit():
            lo, hi = int(bounds[0]), int(bounds[1])
            if lo <= hi and hi - lo <= _RANGE_LIMIT:
                out.extend(range(lo, hi + 1))
        elif part.isdigit():
            out.append(int(part))
    return list(dict.fromkeys(out))


def split_markers(text: str) -> tuple[str, list[int]]:
    """Remove the markers from ``text``; return the clean text and the cited numbers in order."""
    cited: list[int] = []
    for match in MARKER_RE.finditer(text):
        cited.extend(parse_marker(match.group(1)))
    clean = _EMPTY_BRACKETS.sub("", MARKER_RE.sub("", text))
    clean = re.sub(r"\s+([.,;:!?])", r"\1", clean)
    return " ".join(clean.split()), list(dict.fromkeys(cited))


def unsupported_numbers(sentence: str, passages: list[str]) -> set[str]:
    """Numbers written in ``sentence`` that none of ``passages`` contains."""
    available: set[str] = set()
    for passage in passages:
        available |= numbers(passage)
    return numbers(sentence) - available


@dataclass
class Verification:
    """What the checks removed, for logs, tests and the eval harness."""

    dropped_markers: list[int] = field(default_factory=list)
    dropped_sentences: list[str] = field(default_factory=list)
    reasons: list[str] = field(default_factory=list)


def resolve_bullet(
    text: str, sources_by_marker: dict[int, list[Evidence]], report: Verification
) -> DraftBullet | None:
    """A model sentence with raw markers -> a bullet citing retrieved chunks, or None.

    ``sources_by_marker`` maps the numbers shown to the model to the retrieved chunks of that
    source. The sentence must cite at least one resolving marker, and every number in it must
    appear in the chunks it cites.
    """
    clean, cited = split_markers(text)
    if not clean:
        return None
    citations: list[DraftCitation] = []
    passages: list[str] = []
    wanted = numbers(clean)
    words = set(clean.lower().split())
    for n in cited:
        chunks = sources_by_marker.get(n)
        if not chunks:
            report.dropped_markers.append(n)
            continue
        # the chunk of that source that best carries the sentence: its numbers, then its words
        best = max(
            chunks,
            key=lambda e: (
                len(wanted & numbers(e.chunk.text)),
                len(words & set(e.chunk.text.lower().split())),
            ),
        )
        passages.append(best.chunk.text)
        citations.append(DraftCitation(best.source.source_id, best.chunk.chunk_id, ""))
    if not citations:
        report.dropped_sentences.append(clean)
        report.reasons.append("no citation that resolves to a retrieved source")
        return None
    missing = unsupported_numbers(clean, passages)
    if missing:
        report.dropped_sentences.append(clean)
        report.reasons.append(f"numbers not in the cited sources: {', '.join(sorted(missing))}")
        return None
    return DraftBullet(clean, citations)


PLACEHOLDER_RE = re.compile(r"\{\{([^{}]+)\}\}")
"""Where a generated sentence wants the marker of a source: ``{{source_id}}``."""


def finalize(
    draft: Draft,
    evidence: list[Evidence],
    citation_map: dict[str, int] | None = None,
    report: Verification | None = None,
) -> tuple[list[AnswerSection], list[Reference], dict[str, int]]:
    """Number the draft's citations and build the reference list.

    Citations to sources that were not retrieved are dropped (and so are bullets left with
    none); a bullet with a number that none of the chunks it cites contains is dropped (and
    recorded in ``report``). Sources keep the numbers they had earlier in the conversation; new
    ones continue after the highest number used so far.
    """
    by_chunk = {e.chunk.chunk_id: e for e in evidence}
    by_source: dict[str, list[Evidence]] = {}
    for e in evidence:
        by_source.setdefault(e.source.source_id, []).append(e)
    numbering = dict(citation_map or {})
    next_n = max(numbering.values(), default=0) + 1
    references: dict[str, Reference] = {}
    highlights: dict[str, dict[str, list[str]]] = {}

    def number_of(citation: DraftCitation) -> int | None:
        nonlocal next_n
        if citation.source_id not in by_source:
            return None
        if citation.source_id not in numbering:
            numbering[citation.source_id] = next_n
            next_n += 1
        n = numbering[citation.source_id]
        if citation.source_id not in references:
            ref = by_source[citation.source_id][0].source
            references[citation.source_id] = Reference(n=n, **ref.model_dump())
        chunk_id = (
            citation.chunk_id
            if citation.chunk_id in by_chunk
            else (by_source[citation.source_id][0].chunk.chunk_id)
        )
        marks = highlights.setdefault(citation.source_id, {}).setdefault(chunk_id, [])
        if citation.sentence and citation.sentence not in marks:
            marks.append(citation.sentence)
        return n

    def supported(bullet: DraftBullet) -> bool:
        """Every number of the bullet (markers aside) is in a chunk it cites."""
        texts = []
        for c in bullet.citations:
            if c.source_id not in by_source:
                continue
            chosen = by_chunk.get(c.chunk_id) or by_source[c.source_id][0]  # as it will be shown
            texts.append(chosen.chunk.text)
        clean = PLACEHOLDER_RE.sub("", bullet.text)
        missing = unsupported_numbers(clean, texts)
        if missing and report is not None:
            report.dropped_sentences.append(clean)
            report.reasons.append(f"numbers not in the cited sources: {', '.join(sorted(missing))}")
        return not missing

    def convert(section: DraftSection) -> AnswerSection | None:
        bullets: list[Bullet] = []
        for bullet in section.bullets:
            if not supported(bullet):
                continue
            ns = [n for n in (number_of(c) for c in bullet.citations) if n is not None]
            ns = list(dict.fromkeys(ns))
            if not ns:
                continue
            text, inline = bullet.text, False
            if PLACEHOLDER_RE.search(text):
                text = PLACEHOLDER_RE.sub(
                    lambda m: f"[{numbering[m.group(1)]}]" if m.group(1) in numbering else "", text
                )
                inline = True
            bullets.append(
                Bullet(text=text, citations=ns, inline=inline, generated=bullet.generated)
            )
        subsections = [s for s in (convert(sub) for sub in section.subsections) if s]
        if not bullets and not subsections:
            return None
        return AnswerSection(
            heading=section.heading, kind=section.kind, bullets=bullets, subsections=subsections
        )

    sections = [s for s in (convert(section) for section in draft.sections) if s]
    for sid, ref in references.items():
        for chunk_id, marks in highlights.get(sid, {}).items():
            chunk = by_chunk.get(chunk_id)
            if chunk is not None:
                ref.passages.append(
                    Passage(
                        chunk_id=chunk_id,
                        heading=chunk.chunk.heading,
                        text=chunk.chunk.text,
                        highlights=marks,
                    )
                )
        if not ref.passages:
            first = by_source[sid][0].chunk
            ref.passages.append(
                Passage(chunk_id=first.chunk_id, heading=first.heading, text=first.text)
            )
    ordered = sorted(references.values(), key=lambda r: r.n)
    return sections, ordered, numbering


def check_answer_citations(sections: list[AnswerSection], references: list[Reference]) -> None:
    """Invariant of every answer: each bullet cites, each citation resolves, numbers are sourced."""
    refs = {r.n: r for r in references}
    stack = list(sections)
    while stack:
        section = stack.pop()
        stack.extend(section.subsections)
        for bullet in section.bullets:
            if not bullet.citations:
                raise AssertionError(f"uncited bullet: {bullet.text!r}")
            missing = [n for n in bullet.citations if n not in refs]
            if missing:
                raise AssertionError(f"unresolved citations {missing} in {bullet.text!r}")
            passages = [p.text for n in bullet.citations for p in refs[n].passages]
            extra = unsupported_numbers(split_markers(bullet.text)[0], passages)
            if extra:
                raise AssertionError(
                    f"numbers {sorted(extra)} not in cited sources: {bullet.text!r}"
                )
