"""The answerability gate on hand-built evidence from a small two-topic library (no model): the
near misses it must refuse, the answerable questions it must not, and the typed reasons."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest

from assistant.ask.evidence import candidate_units, score_candidates
from assistant.ask.gate import Reason, check, stated_spans
from assistant.ask.question import QuestionProfile
from assistant.config import ComposeSettings
from assistant.types import Chunk, Evidence, SourceRef

Analyze = Callable[[str], QuestionProfile]
DIM = 8


def evidence_of(texts: dict[str, list[str]]) -> tuple[list[Evidence], dict]:
    """One chunk per source (one unit a line), ranked in order; every unit's vector equals the
    query vector, so the semantic part never decides these tests."""
    out, units = [], {}
    vector = np.eye(DIM, dtype=np.float32)[0]
    for rank, (sid, lines) in enumerate(texts.items(), start=1):
        chunk = Chunk(chunk_id=f"{sid}#0", source_id=sid, text="\n".join(lines), heading="")
        ref = SourceRef(source_id=sid, title=sid.replace("-", " "))
        out.append(Evidence(chunk=chunk, source=ref, rank=rank))
        units[chunk.chunk_id] = [("results", vector) for _ in lines]
    return out, units


def decide(  # noqa: ANN201
    analyze: Analyze,
    question: str,
    texts: dict[str, list[str]],
    chunk_cosine: float | None = None,
    settings: ComposeSettings | None = None,
):
    """The gate's verdict on ``texts``; ``chunk_cosine`` sets every chunk's dense score."""
    evidence, units = evidence_of(texts)
    if chunk_cosine is not None:
        evidence = [e.model_copy(update={"dense_score": chunk_cosine}) for e in evidence]
    q = analyze(question)
    ranked = score_candidates(q, candidate_units(evidence, units), np.eye(DIM)[0])
    return check(q, ranked, settings or ComposeSettings())


LIBRARY = {
    "anakinra-hlh": [
        "Anakinra was effective in 19 of 21 patients with secondary HLH.",
        "Anakinra therapy was stopped for adverse effects in 3 patients with secondary HLH.",
        "Survival at 1 year was 80% with anakinra in secondary HLH.",
    ],
    "pregabalin": [
        "Patients with neuropathic pain treated with pregabalin reported dizziness.",
        "Pregabalin therapy is used in patients with neuropathic pain.",
    ],
    "glaucoma": [
        "People with glaucoma are treated with eye drops or laser surgery.",
        "Glaucoma often has no symptoms at first, so regular eye exams matter.",
    ],
    "emapalumab-hlh": [
        "Emapalumab therapy gave an overall response of 63% in children with primary HLH.",
    ],
}


@pytest.mark.parametrize(
    "question",
    [
        "Is anakinra effective in secondary HLH?",
        "How often was anakinra stopped for adverse effects in secondary HLH?",
        "My aunt has glaucoma. Is it treated with eye drops?",  # "aunt" is an ordinary word
        "Compare emapalumab and anakinra in HLH.",  # each side from its own passage
    ],
)
def test_answerable_questions_pass(analyze: Analyze, question: str) -> None:
    verdict = decide(analyze, question, LIBRARY)
    assert verdict.answerable, (question, verdict.reason, verdict.detail)
    assert verdict.supporting


@pytest.mark.parametrize(
    ("question", "reason", "named"),
    [
        ("Is pregabalin safe in pregnancy?", Reason.POPULATION_MISSING, "pregnancy"),
        (
            "How many minutes does anakinra take to work in HLH?",
            Reason.ANSWER_TYPE_MISSING,
            "anakinra",
        ),
        ("How much does a course of emapalumab cost?", Reason.ANSWER_TYPE_MISSING, "emapalumab"),
        ("Is tocilizumab effective in HLH?", Reason.UNKNOWN_TERM, "tocilizumab"),
        ("What was the 10-year survival with anakinra in HLH?", Reason.QUANTITY_MISSING, "10-year"),
        (
            "What dose of pregabalin is used for neuropathic pain?",
            Reason.ANSWER_TYPE_MISSING,
            "pregabalin",
        ),
        (
            "How is pregabalin given to people with neuropathic pain?",
            Reason.FACET_MISSING,
            "pregabalin",
        ),
    ],
)
def test_near_misses_are_refused_with_a_typed_reason(
    analyze: Analyze, question: str, reason: Reason, named: str
) -> None:
    verdict = decide(analyze, question, LIBRARY)
    assert not verdict.answerable
    assert verdict.reason is reason, (verdict.reason, verdict.detail)
    assert named in verdict.detail
    assert verdict.as_json()["reason"] == reason.value


def test_no_evidence_at_all(analyze: Analyze) -> None:
    verdict = check(analyze("Is anakinra effective in HLH?"), [], ComposeSettings())
    assert not verdict.answerable and verdict.reason is Reason.NO_EVIDENCE


def test_the_support_threshold_applies_only_with_semantic_scores(analyze: Analyze) -> None:
    evidence, units = evidence_of(LIBRARY)
    q = analyze("Is anakinra effective in secondary HLH?")
    orthogonal = np.eye(DIM, dtype=np.float32)[1]  # cosine 0 with every unit
    ranked = score_candidates(q, candidate_units(evidence, units), orthogonal)
    strict = ComposeSettings(gate_min_cosine=0.5)
    assert check(q, ranked, strict).reason is Reason.LOW_SUPPORT
    assert check(q, ranked, strict, semantic=False).answerable


CLOSE_AT_06 = ComposeSettings(gate_close_chunk_cosine=0.6)


def _with_chunk_cosine(
    analyze: Analyze, question: str, texts: dict[str, list[str]], chunk_cosine: float
):  # noqa: ANN202
    return decide(analyze, question, texts, chunk_cosine, CLOSE_AT_06)


STUDY = {
    "pregabalin-pain": [
        "Pregabalin therapy eased neuropathic pain in 120 patients over 12 weeks.",
        "Patients treated with pregabalin reported dizziness.",
    ]
}


def test_a_study_close_as_a_whole_answers_a_population_it_never_spells_out(
    analyze: Analyze,
) -> None:
    """A question naming a population ("women") its study never spells out is refused on words
    alone, and answered when the study's chunk as a whole is close to the question."""
    question = "Does pregabalin ease neuropathic pain in women?"
    far = _with_chunk_cosine(analyze, question, STUDY, 0.4)
    assert not far.answerable and far.reason is Reason.POPULATION_MISSING
    close = _with_chunk_cosine(analyze, question, STUDY, 0.8)
    assert close.answerable, (close.reason, close.detail)


def test_a_close_study_does_not_answer_another_population_or_quantity(analyze: Analyze) -> None:
    """Closeness never waives a population the study names otherwise ("in children" against a
    study of adults) nor a quantity the question asks for."""
    adults = {
        "adult-pain": [
            "In 40 adults with neuropathic pain, pregabalin therapy eased pain in 30 patients.",
            "Pregabalin was stopped for dizziness in 4 adults with neuropathic pain.",
        ]
    }
    children = _with_chunk_cosine(
        analyze, "Does pregabalin ease neuropathic pain in children?", adults, 0.8
    )
    assert not children.answerable and children.reason is Reason.POPULATION_MISSING
    minutes = _with_chunk_cosine(
        analyze, "How many minutes does pregabalin take to ease neuropathic pain?", adults, 0.8
    )
    assert not minutes.answerable and minutes.reason is Reason.ANSWER_TYPE_MISSING


def test_a_dose_of_another_treatment_in_the_same_source_does_not_answer(analyze: Analyze) -> None:
    """The source names anakinra, but its dose sentence is about etoposide: "what dose of
    anakinra?" is not answered by it."""
    series = {
        "salvage-series": [
            "Etoposide was given at 150 mg/m2 twice weekly in adults with secondary HLH.",
            "Anakinra had been tried before in 5 adults with secondary HLH.",
        ]
    }
    verdict = decide(analyze, "What dose of anakinra is used in adults with secondary HLH?", series)
    assert not verdict.answerable and verdict.reason is Reason.ANSWER_TYPE_MISSING
    regimen = decide(analyze, "What is the anakinra regimen in adults with secondary HLH?", series)
    assert not regimen.answerable and regimen.reason is Reason.FACET_MISSING
    etoposide = decide(
        analyze, "What dose of etoposide is used in adults with secondary HLH?", series
    )
    assert etoposide.answerable, (etoposide.reason, etoposide.detail)


def test_a_number_bound_to_a_unit_must_be_in_the_source(analyze: Analyze) -> None:
    """A near miss that changes a span, an age or a dose ("after eight weeks", "aged 75") is
    refused when no source states that number; the same question on the span the source states
    passes, and a bare number (the asker's own age) asks for nothing."""
    weeks = decide(analyze, "Did pregabalin ease neuropathic pain over eight weeks?", STUDY)
    assert not weeks.answerable and weeks.reason is Reason.QUANTITY_MISSING
    assert "8 weeks" in weeks.detail
    stated = decide(analyze, "Did pregabalin ease neuropathic pain over twelve weeks?", STUDY)
    assert stated.answerable, (stated.reason, stated.detail)
    own_age = decide(analyze, "I'm 68. Does pregabalin ease neuropathic pain?", STUDY)
    assert own_age.answerable, (own_age.reason, own_age.detail)


@pytest.mark.parametrize(
    ("text", "spans"),
    [
        ("in patients aged 75 years or older", {"75"}),
        ("taken for eight weeks or longer", {"8"}),
        ("the five-year recurrence of tumours larger than 7 cm", {"5", "7"}),
        ("doses above 500 mg/day", {"500"}),
        ("my sugar is 60, what should I eat?", set()),
        ("type 2 diabetes and COVID-19", set()),
        ("HLH-2004 criteria at 1 year", {"1"}),
    ],
)
def test_stated_spans(text: str, spans: set[str]) -> None:
    assert set(stated_spans(text)) == spans


def test_every_population_the_question_names_must_be_spoken_of(analyze: Analyze) -> None:
    """ "pregnant women" is not answered by a study of women, nor "Asian and white people" by a
    study of white people; a population implies the ones it belongs to (pregnancy: women)."""
    women = {
        "pregabalin-women": [
            "In 60 women with neuropathic pain, pregabalin therapy eased pain in 41 patients.",
        ]
    }
    pregnant = decide(analyze, "Does pregabalin ease neuropathic pain in pregnant women?", women)
    assert not pregnant.answerable and pregnant.reason is Reason.POPULATION_MISSING
    assert decide(analyze, "Does pregabalin ease neuropathic pain in women?", women).answerable
    pregnancy = {
        "pregabalin-pregnancy": [
            "In 60 pregnant patients with neuropathic pain, pregabalin therapy eased pain in 41.",
        ]
    }
    verdict = decide(analyze, "Does pregabalin ease neuropathic pain in pregnant women?", pregnancy)
    assert verdict.answerable, (verdict.reason, verdict.detail)
    white = {
        "glaucoma-race": [
            "Glaucoma is more common in African Americans than in white people.",
        ]
    }
    asian = decide(
        analyze, "Is glaucoma more common in Asian Americans than in white people?", white
    )
    assert not asian.answerable and asian.reason is Reason.POPULATION_MISSING
    black = decide(analyze, "Is glaucoma more common in African Americans than in whites?", white)
    assert black.answerable, (black.reason, black.detail)


def _pages() -> dict[str, list[str]]:
    pages = {
        "metformin": [
            "Metformin lowers the amount of glucose the liver makes in people with diabetes.",
            "People taking metformin seldom have low blood sugar from it alone.",
        ],
        "nerve-damage": [
            "Nerve damage in the gut can cause diarrhea or constipation.",
            "Diarrhea at night is common in people with nerve damage from diabetes.",
        ],
    }
    # enough other pages that a word of one page is specific (IDF above 3)
    for i in range(30):
        pages[f"page-{i}"] = [f"Regular exercise helps people with diabetes stay well, part {i}."]
    return pages


def test_a_treatment_and_a_condition_must_be_named_together(
    analyze_in: Callable[[dict[str, list[str]]], Analyze],
) -> None:
    """Every word of "can metformin give me diarrhea?" is in the library, on two pages that never
    meet; a chunk naming both answers it, and so does one close to the question as a whole."""
    pages = _pages()
    ask = analyze_in(pages)
    question = "Can metformin give me diarrhea or an upset stomach?"
    apart = decide(ask, question, pages)
    assert not apart.answerable and apart.reason is Reason.SUBJECTS_APART
    assert "metformin and diarrhea" in apart.detail
    together = dict(pages, both=["Metformin can cause diarrhea or an upset stomach at first."])
    verdict = decide(ask, question, together)
    assert verdict.answerable, (verdict.reason, verdict.detail)
    close = decide(ask, question, pages, chunk_cosine=0.7)
    assert close.answerable, (close.reason, close.detail)
