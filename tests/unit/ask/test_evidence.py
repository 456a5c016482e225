"""Sentence-level evidence and the extractive composer on hand-built evidence (no model):
fragments are never quoted, roles and coverage order the candidates, selection merges
near-duplicates and keeps within its caps, the bottom line comes first."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest

from assistant.ask.compose import compose_extractive
from assistant.ask.evidence import candidate_units, score_candidates
from assistant.ask.gate import check
from assistant.ask.question import QuestionProfile
from assistant.config import ComposeSettings

Analyze = Callable[[str], QuestionProfile]
E = np.eye(8, dtype=np.float32)


@pytest.fixture
def chunk(evidence_kit):  # noqa: ANN001, ANN201
    return evidence_kit.chunk


@pytest.fixture
def build(evidence_kit):  # noqa: ANN001, ANN201
    return evidence_kit.build


@pytest.fixture
def near(evidence_kit):  # noqa: ANN001, ANN201
    return evidence_kit.near


def test_fragments_are_never_quoted_and_anaphora_is_restored(chunk, build) -> None:  # noqa: ANN001
    evidence, units = build(
        chunk(
            "a",
            title="A long article title about glaucoma in older people and its care",
            lines=[
                "They are rare in adults.",  # an unresolved opener with nothing before it
                "Table 2. Baseline characteristics of the cohort",
                "Glaucoma damages the optic nerve over many years.",
                "It is a leading cause of blindness in older people.",
                "Symptoms include:",  # a lead-in left without its list
            ],
        )
    )
    texts = [c.text for c in candidate_units(evidence, units)]
    assert not any(t.startswith(("They", "Table", "It is")) for t in texts), texts
    assert not any(t.endswith(":") for t in texts)
    assert (
        "Glaucoma damages the optic nerve over many years. It is a leading cause of blindness in "
        "older people."
    ) in texts


def test_a_pronoun_after_a_lead_in_is_restored_and_a_chain_of_two_goes_back_two(
    chunk,  # noqa: ANN001
    build,  # noqa: ANN001
) -> None:
    first = "Cyclosporine is a prescription eye drop for some kinds of dry eye."
    second = "In people with dry eye, it may reduce damage to the cornea."
    third = "It may take three to six months of twice-daily use to work."
    evidence, units = build(
        chunk(
            "a",
            title="A long article title about dry eye in older people and its care",
            lines=[first, second, third, "In children, it is important to check the eyes."],
        )
    )
    by_text = {c.text: c for c in candidate_units(evidence, units)}
    assert second not in by_text  # "it" after a lead-in is as unresolved as an opening "It"
    assert f"{first} {second}" in by_text
    chained = by_text[f"{first} {second} {third}"]
    assert chained.quote == f"{first}\n{second}\n{third}"
    assert chained.restored
    # "it is important to ..." refers to nothing: quoted as it stands
    assert "In children, it is important to check the eyes." in by_text


def test_on_a_page_about_one_topic_an_opener_refers_to_the_topic(chunk, build) -> None:  # noqa: ANN001
    evidence, units = build(chunk("glaucoma", ["It often has no symptoms at first."]))
    [candidate] = candidate_units(evidence, units)
    assert candidate.text == "glaucoma: It often has no symptoms at first."
    assert candidate.quote == "It often has no symptoms at first."  # what the source says


def test_a_list_with_its_lead_in_is_one_unit_and_not_anaphoric(chunk, build) -> None:  # noqa: ANN001
    line = "These resources address the management of glaucoma: eye drops; laser surgery."
    evidence, units = build(chunk("a", [line]))
    assert [c.text for c in candidate_units(evidence, units)] == [line]


def test_results_outrank_objectives_and_other_subjects(analyze: Analyze, chunk, build) -> None:  # noqa: ANN001
    evidence, units = build(
        chunk(
            "a",
            [
                "To determine whether anakinra is effective in secondary HLH.",
                "Anakinra was effective in 19 of 21 patients with secondary HLH.",
                "Etoposide therapy improved survival in adults with secondary HLH.",
            ],
            roles=["objective", "results", "results"],
        )
    )
    q = analyze("Is anakinra effective in secondary HLH?")
    ranked = score_candidates(q, candidate_units(evidence, units), E[0])
    assert ranked[0].text.startswith("Anakinra was effective")
    assert ranked[-1].role == "objective"
    etoposide = next(c for c in ranked if c.text.startswith("Etoposide"))
    assert etoposide.parts["cover"] < ranked[0].parts["cover"]


def test_semantic_similarity_counts(analyze: Analyze, chunk, build) -> None:  # noqa: ANN001
    lines = [
        "Anakinra was effective in patients with secondary HLH in one series.",
        "Anakinra was effective in patients with secondary HLH in another series.",
    ]
    evidence, units = build(chunk("a", lines, vectors=[E[1], E[0]]))
    q = analyze("Is anakinra effective in secondary HLH?")
    ranked = score_candidates(q, candidate_units(evidence, units), E[0])
    assert ranked[0].text == lines[1]
    assert ranked[0].parts["cosine"] == 1.0 and ranked[1].parts["cosine"] == 0.0


def test_compose_merges_near_duplicates_and_leads_with_the_bottom_line(
    analyze: Analyze,
    chunk,
    build,
    near,  # noqa: ANN001
) -> None:
    same = "Anakinra was effective in 19 of 21 patients with secondary HLH."
    evidence, units = build(
        chunk(
            "series",
            [same, "Fever resolved within a day of starting anakinra in secondary HLH."],
            vectors=[near(1), near(2)],
            rank=1,
        ),
        chunk(
            "review",
            [same.replace("was effective", "proved effective")],
            vectors=[near(1)],
            rank=2,
            evidence_type="systematic-review",
        ),
        chunk(
            "guide",
            ["Guidelines recommend anakinra for secondary HLH when steroids fail."],
            vectors=[near(3)],
            rank=3,
            evidence_type="guideline",
        ),
    )
    q = analyze("Is anakinra effective in secondary HLH?")
    ranked = score_candidates(q, candidate_units(evidence, units), E[0])
    settings = ComposeSettings()
    draft = compose_extractive(q, ranked, settings, check(q, ranked, settings))
    kinds = [s.kind for s in draft.sections]
    assert kinds[0] == "bottom-line" and "guidelines" in kinds and "research" in kinds
    bullets = [
        b for s in draft.sections for b in s.bullets + [x for t in s.subsections for x in t.bullets]
    ]
    texts = [b.text for b in bullets]
    assert len(texts) == len(set(texts))
    merged = [b for b in bullets if {c.source_id for c in b.citations} >= {"series", "review"}]
    assert merged, "a near-duplicate from another source is an extra citation, not a bullet"


def test_headings_are_never_quoted_and_directories_rank_low(chunk, build) -> None:  # noqa: ANN001
    directory = (
        "These resources address the management of glaucoma: Glaucoma Research Foundation: "
        "Treatment Options; Genetic Testing Registry: Primary open angle glaucoma; Eye Health "
        "Institute: Living With Low Vision."
    )
    evidence, units = build(
        chunk(
            "page",
            [
                "For People Who Take Acarbose (Precose) or Miglitol (Glyset)",  # a heading
                "Only glucose tablets raise the level quickly enough with acarbose.",
                directory,
                "Risk factors include: older age; a family history of glaucoma; diabetes.",
            ],
        )
    )
    candidates = {c.text: c.role for c in candidate_units(evidence, units)}
    assert list(candidates) == [
        "Only glucose tablets raise the level quickly enough with acarbose.",
        directory,
        "Risk factors include: older age; a family history of glaucoma; diabetes.",
    ]
    # where to read more: quotable when it is all a page says, ranked like a methods sentence
    assert candidates[directory] == "directory"
    assert candidates[
        "Risk factors include: older age; a family history of glaucoma; diabetes."
    ] != ("directory")


def test_sentences_reporting_different_figures_are_both_kept(
    analyze: Analyze,
    chunk,
    build,
    near,  # noqa: ANN001
) -> None:
    """Two sentences worded alike that report different doses are two findings, not one said
    twice: the second is not merged away as a near-duplicate."""
    mild = "In 2 milder cases of HLH, anakinra was given on its own at 2-8 mg/kg/day."
    severe = "In 3 severe cases of HLH, anakinra was added at 2-5 mg/kg/day."
    evidence, units = build(chunk("series", [mild, severe], vectors=[near(1), near(1)]))
    q = analyze("What dose of anakinra is used in HLH?")
    ranked = score_candidates(q, candidate_units(evidence, units), E[0])
    settings = ComposeSettings()
    draft = compose_extractive(q, ranked, settings, check(q, ranked, settings))
    texts = [
        b.text
        for s in draft.sections
        for b in s.bullets + [x for t in s.subsections for x in t.bullets]
    ]
    assert any("2-8 mg/kg/day" in t for t in texts) and any("2-5 mg/kg/day" in t for t in texts)


def test_the_sections_prefer_a_result_to_a_methods_sentence(
    analyze: Analyze,
    chunk,
    build,
    near,  # noqa: ANN001
) -> None:
    """A methods sentence that restates the question's words outscores the result on words
    alone; given room for one more bullet, the sections take the result."""
    lines = [
        "Anakinra was the first treatment given to 30 patients with secondary HLH.",
        "A series of 30 patients with secondary HLH treated with anakinra was reviewed.",
        "Fever settled within two days in most patients with secondary HLH on anakinra.",
    ]
    evidence, units = build(
        chunk(
            "series",
            lines,
            roles=["results", "methods", "results"],
            vectors=[near(1), near(2), near(3)],
        )
    )
    q = analyze("Is anakinra effective in secondary HLH?")
    ranked = score_candidates(q, candidate_units(evidence, units), E[0])
    methods = next(c for c in ranked if c.role == "methods")
    result = next(c for c in ranked if c.text.startswith("Fever"))
    assert methods.score > result.score  # the words favour the methods sentence
    settings = ComposeSettings(max_research_bullets=1)
    draft = compose_extractive(q, ranked, settings, check(q, ranked, settings))
    research = [
        b.text
        for s in draft.sections
        if s.kind == "research"
        for t in s.subsections
        for b in t.bullets
    ]
    assert research == [lines[2]]
