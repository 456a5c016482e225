"""Evidence records on hand-made sources: design from front matter, publication types or the
text's own cues; participants; effect statements with exact spans."""

from __future__ import annotations

from assistant.config import ChunkingSettings
from assistant.ingest.chunking import chunk_document
from assistant.ingest.records import evidence_record, load_record, record_json
from assistant.types import DocSection, SourceDoc


def record(sections: list[tuple[str, str]], **meta):  # noqa: ANN003, ANN201
    doc = SourceDoc(
        source_id="s",
        title="PubMed 1",
        sections=[DocSection(heading=h, text=t) for h, t in sections],
        **meta,
    )
    chunks = chunk_document(doc, ChunkingSettings())
    return evidence_record(doc, chunks), chunks


ABSTRACT = [
    ("BACKGROUND", "Previous randomized trials of this drug were small."),
    ("METHODS", "We retrospectively reviewed 44 children treated between 2008 and 2016."),
    (
        "RESULTS",
        "Remission occurred in 19 of 21 patients (90.5%). Mortality was lower with early "
        "treatment (OR 0.31, 95% CI 0.12-0.80; p = 0.02). There was no difference in relapse.",
    ),
]


def test_design_comes_from_the_text_but_not_from_its_background() -> None:
    rec, _ = record(ABSTRACT)
    assert rec.design == "retrospective-cohort"  # "randomized" is only in the background
    assert "retrospectively" in rec.design_basis


def test_front_matter_and_publication_types_come_first() -> None:
    assert record(ABSTRACT, evidence_type="case-series")[0].design == "case-series"
    rec, _ = record(ABSTRACT, publication_types=["Randomized Controlled Trial", "Journal Article"])
    assert (rec.design, rec.design_basis) == ("rct", "publication type")


def test_participants_and_effects_carry_their_exact_spans() -> None:
    rec, chunks = record(ABSTRACT)
    assert rec.participants == 44 and rec.participants_span is not None
    by_id = {c.chunk_id: c for c in chunks}
    for span in [rec.participants_span, *(e.span for e in rec.effects)]:
        line = by_id[span.chunk_id].text.split("\n")[span.unit]
        assert line[span.start : span.end] == span.text
    kinds = {e.kind: e for e in rec.effects}
    assert kinds["percent"].span.text.startswith("90.5%")
    assert kinds["ratio"].span.text.startswith("OR 0.31")
    assert kinds["fraction"].span.text == "19 of 21"
    assert kinds["p-value"].span.text == "p = 0.02"
    assert "95%" not in {e.span.text for e in rec.effects}  # a confidence level is no result
    directions = {e.sentence.split()[0]: e.direction for e in rec.effects}
    assert directions["Mortality"] == "benefit"


def test_records_round_trip_and_stale_versions_are_ignored() -> None:
    rec, chunks = record(ABSTRACT)
    doc = SourceDoc(
        source_id="s",
        title="PubMed 1",
        sections=[DocSection(heading=h, text=t) for h, t in ABSTRACT],
    )
    again = load_record(record_json(doc, chunks))
    assert again == rec
    assert load_record('{"version": 0}') is None and load_record("") is None
    assert load_record("not json") is None
