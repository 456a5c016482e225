"""Evidence synthesis on hand-built evidence and records (no model): the evidence profile and
result range are written from record spans, a planted wrong number is dropped by the citation
checks, the certainty rule, and the evidence table."""

from __future__ import annotations

from collections.abc import Callable

from assistant.ask.citations import Verification, check_answer_citations, finalize
from assistant.ask.compose import compose_extractive
from assistant.ask.evidence import candidate_units, score_candidates
from assistant.ask.gate import check
from assistant.ask.question import QuestionProfile
from assistant.ask.synthesis import certainty, result_range
from assistant.config import ComposeSettings
from assistant.ingest.records import EvidenceRecord, Span, evidence_record
from assistant.types import Chunk, DocSection, SourceDoc

Analyze = Callable[[str], QuestionProfile]
QUESTION = "Is anakinra effective in secondary HLH?"
STUDIES = {
    "series": (
        "retrospective-cohort",
        [
            "We reviewed 21 patients with secondary HLH treated with anakinra.",
            "Anakinra was effective in 19 of 21 patients with secondary HLH (90.5%).",
        ],
    ),
    "children": (
        "case-series",
        [
            "We describe 6 children with secondary HLH given anakinra.",
            "Anakinra was effective in 3 of 6 children with secondary HLH (50%).",
        ],
    ),
}


def setup(analyze: Analyze, kit, plant: str | None = None):  # noqa: ANN001, ANN201
    parts, records = [], {}
    for rank, (sid, (design, lines)) in enumerate(STUDIES.items(), start=1):
        ev, units = kit.chunk(
            sid,
            lines,
            roles=["methods", "results"],
            vectors=[kit.near(rank), kit.near(rank + 2)],
            rank=rank,
            evidence_type=design,
        )
        parts.append((ev, units))
        doc = SourceDoc(
            source_id=sid,
            title=sid,
            evidence_type=design,
            sections=[DocSection(text="\n".join(lines))],
        )
        chunk = Chunk(chunk_id=ev.chunk.chunk_id, source_id=sid, text=ev.chunk.text)
        records[sid] = evidence_record(doc, [chunk])
    if plant is not None:  # a wrong number in a stored record
        rec = records["series"]
        assert rec.participants_span is not None
        wrong = Span(**{**rec.participants_span.model_dump(), "text": plant})
        records["series"] = EvidenceRecord(
            **{**rec.model_dump(), "participants_span": wrong.model_dump()}
        )
    evidence, units = kit.build(*parts)
    q = analyze(QUESTION)
    ranked = score_candidates(q, candidate_units(evidence, units), kit.E[0])
    settings = ComposeSettings()
    draft = compose_extractive(q, ranked, settings, check(q, ranked, settings), records)
    return draft, evidence, records


def bottom_line_texts(draft) -> list[str]:  # noqa: ANN001
    return [b.text for s in draft.sections if s.kind == "bottom-line" for b in s.bullets]


def test_profile_and_range_come_from_record_spans_and_pass_the_checks(
    analyze: Analyze,
    evidence_kit,  # noqa: ANN001
) -> None:
    draft, evidence, _ = setup(analyze, evidence_kit)
    texts = bottom_line_texts(draft)
    profile = next(t for t in texts if t.startswith("Evidence in the library"))
    assert (
        "a retrospective cohort {{series}}" in profile and "a case series {{children}}" in profile
    )
    assert "(6 to 21" in profile and "all observational, no randomised trial among them" in profile
    figures = next(t for t in texts if t.startswith("Reported response"))
    assert "50% to 90.5%" in figures
    sections, references, _ = finalize(draft, evidence)
    check_answer_citations(sections, references)  # every number is in a cited chunk
    line = [b for s in sections if s.kind == "bottom-line" for b in s.bullets]
    assert any(b.inline and b.generated and "[1]" in b.text for b in line)


def test_a_planted_wrong_number_is_dropped(analyze: Analyze, evidence_kit) -> None:  # noqa: ANN001
    draft, evidence, _ = setup(analyze, evidence_kit, plant="45 patients")
    assert any("45" in t for t in bottom_line_texts(draft))  # the record's number was used...
    report = Verification()
    sections, references, _ = finalize(draft, evidence, report=report)
    kept = [b.text for s in sections for b in s.bullets]
    assert not any("45" in t for t in kept)  # ...and the check dropped the sentence
    assert any("45" in t for t in report.dropped_sentences)
    check_answer_citations(sections, references)


def test_certainty_rule() -> None:
    def rec(sid: str, design: str, n: int | None, pools: bool = False) -> EvidenceRecord:
        return EvidenceRecord(source_id=sid, design=design, participants=n, pools_randomised=pools)

    records = {
        "rct": rec("rct", "rct", 400),
        "small-rct": rec("small-rct", "rct", 40),
        "cohort": rec("cohort", "retrospective-cohort", 300),
        "series": rec("series", "case-series", 6),
        "sr": rec("sr", "systematic-review", None, pools=True),
        "page": rec("page", "patient-information", None),
    }
    assert certainty(records, ["rct", "cohort"], False)["label"] == "high"
    assert certainty(records, ["rct", "cohort"], True)["label"] == "moderate"
    assert certainty(records, ["small-rct"], False)["label"] == "low"  # small and single
    assert certainty(records, ["cohort", "series"], False)["label"] == "low"
    assert certainty(records, ["series"], False)["label"] == "very low"
    assert certainty(records, ["sr", "cohort"], False)["label"] == "high"
    assert certainty(records, ["page"], False)["label"] == "not graded"


def _record(sid: str, design: str, lines: list[str]) -> EvidenceRecord:
    doc = SourceDoc(
        source_id=sid, title=sid, evidence_type=design, sections=[DocSection(text="\n".join(lines))]
    )
    return evidence_record(doc, [Chunk(chunk_id=f"{sid}-c", source_id=sid, text="\n".join(lines))])


def test_the_result_sentence_reports_several_outcomes_and_no_guideline_figures(
    analyze: Analyze,
) -> None:
    records = {
        "series": _record(
            "series",
            "retrospective-cohort",
            [
                "Anakinra was effective in 19 of 21 patients with secondary HLH (90.5%).",
                "Anakinra was stopped for adverse effects in 3 of 21 patients (14.3%).",
            ],
        ),
        "review": _record(
            "review",
            "systematic-review",
            ["Children given anakinra for HLH survived more often (83%) than adults (63%)."],
        ),
        "policy": _record(
            "policy",
            "guideline",
            ["Of the trusts surveyed on anakinra for HLH, 20% had an agreed HLH protocol."],
        ),
    }
    about = {(e.span.chunk_id, e.span.unit) for r in records.values() for e in r.effects}
    line = result_range(analyze(QUESTION), records, list(records), about, {})
    assert line is not None
    assert line.text.startswith("Reported response: 90.5% in one study {{series}}")
    assert "survival: 63% to 83% in one study {{review}}" in line.text
    assert "20%" not in line.text and "{{policy}}" not in line.text
    assert {c.source_id for c in line.citations} == {"series", "review"}
