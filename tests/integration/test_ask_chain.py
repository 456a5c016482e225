"""The ask chain end to end: real MiniLM, real Chroma and BM25 over the built-in corpus.

The corpus is ingested once per module into a temp data dir. Answer wording is being tuned, so
these tests check structure and invariants (sections, citations, numbering, abstention,
disclaimer), plus the seed question's required content.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from assistant.ask.chain import MAX_QUESTION_CHARS, AskChain, validate_question
from assistant.ask.citations import check_answer_citations
from assistant.ask.compose import _DESIGN_CUE
from assistant.ask.glossary import STUDY_TERMS
from assistant.ask.render import render_html, render_json
from assistant.ask.retrieve import Filters
from assistant.ask.session import Conversation
from assistant.config import Settings, VocabularySettings
from assistant.errors import InvalidQuestion
from assistant.ingest.pipeline import ingest
from assistant.ingest.store import Library
from assistant.prompts import CANNOT_ANSWER_PHRASE, disclaimer
from assistant.types import (
    EVIDENCE_LABELS,
    EVIDENCE_RANK,
    GUIDANCE_TYPES,
    Answer,
    AnswerSection,
    Bullet,
)

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]
CORPUS = REPO / "corpus"
SEED = "What is the efficacy of anakinra in HLH?"
SERIES = "baverez-2022-anakinra-21-cases"
PEDIATRIC = {"eloseily-2020-anakinra-pediatric-shlh", "bami-2020-anakinra-secondary-hlh"}
OUT_OF_SCOPE = "What is the recommended tocilizumab dose for cytokine release syndrome?"
STAGES = {"condense", "retrieve", "compose", "cite", "suggest", "render", "total"}


@pytest.fixture(scope="module")
def chain(tmp_path_factory: pytest.TempPathFactory, embeddings: Any) -> Iterator[AskChain]:
    settings = Settings(data_dir=tmp_path_factory.mktemp("ask-chain") / "data")
    library = Library(settings, embeddings=embeddings)
    report = ingest([CORPUS], settings, library=library, progress=False)
    assert report.added and not report.skipped
    yield AskChain(settings, library=library)
    library.close()


@pytest.fixture(scope="module")
def seed(chain: AskChain) -> Answer:
    return chain.ask(SEED)


# -- helpers --------------------------------------------------------------------------------


def section(answer: Answer, kind: str) -> AnswerSection:
    found = [s for s in answer.sections if s.kind == kind]
    assert found, f"no {kind} section in {[s.heading for s in answer.sections]}"
    return found[0]


def bullets_citing(bullets: list[Bullet], answer: Answer, source_id: str) -> list[Bullet]:
    n = {r.source_id: r.n for r in answer.references}.get(source_id)
    return [b for b in bullets if n in b.citations]


def cited_sources(bullets: list[Bullet], answer: Answer) -> set[str]:
    by_n = {r.n: r.source_id for r in answer.references}
    return {by_n[n] for b in bullets for n in b.citations}


def assert_sound(answer: Answer, fresh: bool = True) -> None:
    """Invariants of every answer: citations resolve, disclaimer last, stages timed."""
    check_answer_citations(answer.sections, answer.references)
    assert answer.disclaimer == disclaimer()
    last = answer.markdown.rstrip().splitlines()[-1]
    assert last.startswith("*") and last.endswith("*")
    assert disclaimer()[:40] in answer.markdown.replace("\\", "")
    assert STAGES <= set(answer.timings_ms)
    assert all(v >= 0 for v in answer.timings_ms.values())
    if answer.abstained:
        assert not answer.all_bullets() and not answer.references
        assert answer.notice and answer.notice.startswith(CANNOT_ANSWER_PHRASE)
    else:
        assert answer.all_bullets() and answer.references
    if fresh:  # numbering by first appearance: 1, 2, 3, ... in reading order
        order = list(dict.fromkeys(n for b in answer.all_bullets() for n in b.citations))
        assert order == list(range(1, len(order) + 1))
        assert [r.n for r in answer.references] == order
    html = render_html(answer)
    for n in {n for b in answer.all_bullets() for n in b.citations}:
        assert f'href="#ref-{n}"' in html and f'id="ref-{n}"' in html
    assert disclaimer()[:40] in html


def retrieved_sources(chain: AskChain, answer: Answer) -> list[Any]:
    chunks = chain.library.manifest.chunks(answer.retrieved_ids)
    return [chain.retriever.sources[c.source_id] for c in chunks.values()]


# -- the seed question ----------------------------------------------------------------------


def test_seed_question_is_answered_bottom_line_first(seed: Answer) -> None:
    assert not seed.abstained
    kinds = [s.kind for s in seed.sections]
    assert kinds[0] == "bottom-line" and "research" in kinds
    assert set(kinds) <= {"bottom-line", "guidelines", "research"}
    assert_sound(seed)


def seed_phrasings() -> list[str]:
    return [
        SEED,
        "What is the efficacy of Anakinra in Hemophagocytic Lymphohistiocytosis (HLH)?",
        "does anakinra work for HLH?",
    ]


@pytest.mark.parametrize("question", seed_phrasings())
def test_seed_in_any_phrasing_cites_the_21_case_series(chain: AskChain, question: str) -> None:
    answer = chain.ask(question)
    assert not answer.abstained, answer.notice
    series = bullets_citing(answer.all_bullets(), answer, SERIES)
    text = " ".join(b.text for b in series)
    assert "90.5%" in text and "14.3%" in text, [b.text for b in series]
    assert_sound(answer)


def test_seed_bottom_line_synthesises_the_evidence(seed: Answer) -> None:
    line = section(seed, "bottom-line").bullets
    profile = next(b for b in line if b.text.startswith("Evidence in the library"))
    assert profile.generated and profile.inline
    assert "no randomised trial" in profile.text
    assert re.search(r"\b(?:cohorts?|case series|reviews?)\b", profile.text)
    assert re.search(r"\b(?:a|an|one|two|three|four|five|six|seven|eight|nine|ten)\b", profile.text)
    figures = [b for b in line if b.text.startswith("Reported")]
    assert figures and "%" in figures[0].text and figures[0].citations
    # the library holds one response figure for anakinra in HLH: the sentence goes on to the
    # other outcomes the cited studies report, each with its own citation
    assert "response: 90.5%" in figures[0].text and figures[0].text.count("[") >= 2
    assert seed.certainty is not None and seed.certainty.label in ("low", "very low")
    assert seed.certainty.reasons
    # the evidence table: one row per cited study, strongest design first
    ranks = [EVIDENCE_RANK[row.design] for row in seed.evidence_table]
    assert seed.evidence_table and ranks == sorted(ranks)
    assert {row.n for row in seed.evidence_table} <= {r.n for r in seed.references}
    assert "## Evidence at a glance" in seed.markdown


def test_guidance_only_when_it_matches(seed: Answer) -> None:
    types = {r.source_id: r.evidence_type for r in seed.references}
    for found in [s for s in seed.sections if s.kind == "guidelines"]:
        assert {types[s] for s in cited_sources(found.all_bullets(), seed)} <= GUIDANCE_TYPES
        # guidance on the condition that does not name the medicine asked about stays out
        for bullet in found.all_bullets():
            assert "anakinra" in bullet.text.lower(), bullet.text
    research = section(seed, "research")
    assert research.subsections and not research.bullets  # topical sub-headings
    assert not {types[s] for s in cited_sources(research.all_bullets(), seed)} & GUIDANCE_TYPES


def test_research_bullets_state_the_study_design(seed: Answer) -> None:
    labels = tuple(EVIDENCE_LABELS.values())
    for bullet in section(seed, "research").all_bullets():
        assert bullet.text.startswith(labels) or _DESIGN_CUE.search(bullet.text), bullet.text


def test_the_domain_overlay_is_optional(chain: AskChain) -> None:
    """The engine answers from the library's own vocabulary; prompts/lexicon.yaml only adds."""
    settings = chain.settings.model_copy(
        update={"vocabulary": VocabularySettings(overlay=REPO / "prompts" / "lexicon.yaml")}
    )
    with_overlay = AskChain(settings, library=chain.library)
    assert with_overlay.overlay.entities and not chain.overlay.entities
    answer = with_overlay.ask(SEED)
    series = bullets_citing(answer.all_bullets(), answer, SERIES)
    assert "90.5%" in " ".join(b.text for b in series)
    assert_sound(answer)


def test_seed_references_are_complete(seed: Answer) -> None:
    series = next(r for r in seed.references if r.source_id == SERIES)
    assert series.pmid and series.doi and series.year == 2022 and series.authors
    assert series.passages and any(p.highlights for p in series.passages)
    for ref in seed.references:
        for passage in ref.passages:
            assert all(h in passage.text for h in passage.highlights)
    assert "https://pubmed.ncbi.nlm.nih.gov/" in seed.markdown


def test_seed_follow_ups_are_answerable(chain: AskChain, seed: Answer) -> None:
    assert len(seed.follow_ups) == 3
    assert len(set(seed.follow_ups)) == 3 and SEED not in seed.follow_ups
    for question in seed.follow_ups:
        answer = chain.ask(question)
        assert not answer.abstained, (question, answer.notice)
        assert_sound(answer)


def test_every_stage_is_timed(seed: Answer) -> None:
    assert STAGES <= set(seed.timings_ms)
    stages = sum(seed.timings_ms[s] for s in STAGES - {"total"})
    assert stages <= seed.timings_ms["total"] + 1.0


# -- conversations --------------------------------------------------------------------------


def test_follow_up_conversation_keeps_numbers(chain: AskChain) -> None:
    conversation = Conversation()
    first = conversation.ask(chain, SEED)
    second = conversation.ask(chain, "and in children?")
    assert not second.abstained
    assert "children" in second.standalone_question.lower()
    assert "anakinra" in second.standalone_question.lower()
    assert set(second.cited_source_ids()) & PEDIATRIC
    assert_sound(second, fresh=False)
    before = first.citation_map
    assert {k: second.citation_map[k] for k in before} == before  # old numbers never move
    for ref in second.references:
        if ref.source_id in before:
            assert ref.n == before[ref.source_id]
        else:
            assert ref.n > max(before.values())
    assert len(conversation.turns) == 4 and conversation.last is second


def test_history_argument_works_like_a_conversation(chain: AskChain, seed: Answer) -> None:
    conversation = Conversation()
    conversation.record(seed)
    answer = chain.ask("what dose?", conversation.turns)
    assert "anakinra" in answer.standalone_question.lower()
    assert answer.standalone_question != "what dose?"
    assert_sound(answer, fresh=False)
    for ref in answer.references:  # numbers come from the assistant turn's citations
        if ref.source_id in seed.citation_map:
            assert ref.n == seed.citation_map[ref.source_id]


# -- filters --------------------------------------------------------------------------------


@pytest.mark.parametrize("question", ["What are the HLH-2004 diagnostic criteria?", SEED])
def test_evidence_type_filter(chain: AskChain, question: str) -> None:
    answer = chain.ask(question, filters=Filters(("guideline",)))
    assert_sound(answer)
    sources = retrieved_sources(chain, answer)
    assert sources and all(s.evidence_type == "guideline" for s in sources)
    assert all(r.evidence_type == "guideline" for r in answer.references)
    assert all(s.evidence_type == "guideline" for s in answer.closest_sources)


def test_the_criteria_question_is_answered_from_guidelines_only(chain: AskChain) -> None:
    answer = chain.ask(
        "What are the HLH-2004 diagnostic criteria?", filters=Filters(("guideline",))
    )
    assert not answer.abstained
    assert {s.kind for s in answer.sections} <= {"bottom-line", "guidelines"}


@pytest.mark.parametrize(("lo", "hi"), [(2019, 2021), (2005, 2010)])
def test_year_range_filter(chain: AskChain, lo: int, hi: int) -> None:
    answer = chain.ask(SEED, filters=Filters((), lo, hi))
    assert_sound(answer)
    sources = retrieved_sources(chain, answer)
    assert sources and all(s.year is not None and lo <= s.year <= hi for s in sources)
    for ref in [*answer.references, *answer.closest_sources]:
        assert ref.year is not None and lo <= ref.year <= hi


def test_impossible_filters_are_refused() -> None:
    with pytest.raises(ValueError):
        Filters(("not-a-type",))
    with pytest.raises(ValueError):
        Filters((), 2020, 2010)


# -- abstention -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "question", [OUT_OF_SCOPE, "How do you repair a bicycle tyre?", "What dose of metformin?"]
)
def test_out_of_scope_questions_abstain(chain: AskChain, question: str) -> None:
    answer = chain.ask(question)
    assert answer.abstained, answer.markdown
    assert_sound(answer)
    assert answer.sections == [] and answer.follow_ups == []
    assert answer.closest_sources and len(answer.closest_sources) <= 3
    assert CANNOT_ANSWER_PHRASE in answer.markdown
    assert "## From the" not in answer.markdown and "## References" not in answer.markdown
    # nothing but the notice, the closest sources and the disclaimer
    bullets = [line for line in answer.markdown.splitlines() if line.startswith("- ")]
    assert len(bullets) == len(answer.closest_sources)


# -- audiences ------------------------------------------------------------------------------


def test_patient_mode_changes_the_wording_not_the_evidence(chain: AskChain, seed: Answer) -> None:
    patient = chain.ask(SEED, audience="patient")
    assert patient.audience == "patient" and not patient.abstained
    assert_sound(patient)
    headings = [line for line in patient.markdown.splitlines() if line.startswith("#")]
    assert "## In short" in headings and "## What studies found" in headings
    assert not [h for h in headings if "From the" in h]
    assert patient.glossary and "## Terms used" in patient.markdown
    assert all(term and text for term, text in patient.glossary.items())
    # designs in plain words, statistics moved into the details
    text = " ".join(b.text for b in patient.all_bullets())
    assert "Retrospective cohort" not in text and "patient records" in text
    main = [b for s in patient.sections if s.kind != "details" for b in s.all_bullets()]
    assert not any(re.search(r"\bp\s*[<=]\s*0?\.\d", b.text, re.I) for b in main)
    # no page for patients in this library: said so
    assert patient.notice and "written for patients" in patient.notice
    assert set(patient.cited_source_ids()) & set(seed.cited_source_ids())


def test_student_mode_explains_design_terms(chain: AskChain) -> None:
    student = chain.ask(SEED, audience="student")
    assert_sound(student)
    assert student.glossary and set(student.glossary) <= STUDY_TERMS
    assert "## From the Research" in student.markdown


def test_clinician_mode_has_no_glossary(seed: Answer) -> None:
    assert seed.audience == "clinician" and seed.glossary == {}


def test_unknown_audience_is_refused(chain: AskChain) -> None:
    with pytest.raises(InvalidQuestion, match="audience"):
        chain.ask(SEED, audience="robot")


# -- bad input ------------------------------------------------------------------------------


@pytest.mark.parametrize("question", ["", "   ", "\n\t  \r\n", "\x00\x07\x1b"])
def test_empty_questions_are_refused(chain: AskChain, question: str) -> None:
    with pytest.raises(InvalidQuestion, match="empty"):
        chain.ask(question)


def test_long_questions_are_refused(chain: AskChain) -> None:
    with pytest.raises(InvalidQuestion, match=str(MAX_QUESTION_CHARS)):
        chain.ask("anakinra " * 300)
    assert validate_question("a" * MAX_QUESTION_CHARS) == "a" * MAX_QUESTION_CHARS
    with pytest.raises(InvalidQuestion):
        validate_question("a" * (MAX_QUESTION_CHARS + 1))


@pytest.mark.parametrize(
    "question",
    [
        "\x00anakinra\x07 in \x1b[31mHLH\x1b[0m?",
        "anakinra 💊🔥 for HLH? 🙏",
        "阿那白滞素治疗噬血细胞综合征的疗效如何？",
        "ما هي فعالية أناكينرا في علاج متلازمة البلعمة؟",
        "\u202eHLH anakinra\u202c \ufeff\u200b?",
        "Was ist die Wirksamkeit von Anakinra bei HLH?",
        "<script>alert(1)</script> anakinra [1] [x](javascript:alert(1))",
        "??? !!! ...",
    ],
)
def test_any_text_gets_an_answer_or_an_abstention(chain: AskChain, question: str) -> None:
    answer = chain.ask(question)
    assert_sound(answer)
    assert render_json(answer)
    html = render_html(answer)
    assert "<script>" not in html and 'href="javascript:' not in html
    assert re.search(r"(?<!\\)<script", answer.markdown) is None
