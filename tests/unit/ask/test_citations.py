"""Citation markers, resolution, numbering and the answer invariant, on hand-built evidence."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from assistant.ask.citations import (
    MARKER_RE,
    Verification,
    check_answer_citations,
    finalize,
    parse_marker,
    resolve_bullet,
    split_markers,
)
from assistant.ask.draft import Draft, DraftBullet, DraftCitation, DraftSection
from assistant.types import AnswerSection, Bullet, Evidence, Passage, Reference

EvFactory = Callable[..., Evidence]

# -- markers --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "clean", "cited"),
    [
        ("Anakinra helped [1", "Anakinra helped [1", []),  # unclosed: not a marker
        ("Anakinra helped [a].", "Anakinra helped [a].", []),  # letters: not a marker
        ("Anakinra helped [3, x].", "Anakinra helped [3, x].", []),  # mixed: not a marker
        ("Anakinra helped [1][2].", "Anakinra helped.", [1, 2]),
        ("Anakinra helped [1, 2-4].", "Anakinra helped.", [1, 2, 3, 4]),
        ("Anakinra helped [2; 5].", "Anakinra helped.", [2, 5]),
        ("Anakinra helped [ 2 ] today.", "Anakinra helped today.", [2]),
        ("Anakinra helped [1][1, 1].", "Anakinra helped.", [1]),  # duplicates collapse
        ("Anakinra helped [3-1].", "Anakinra helped.", []),  # reversed range
        ("Anakinra helped [1-100].", "Anakinra helped.", []),  # absurd range ignored
        ("Anakinra helped [1-3-5].", "Anakinra helped.", []),  # not a range
        ("ana[2]kinra helped", "anakinra helped", [2]),  # marker mid-word
        ("Anakinra helped [1\u20133].", "Anakinra helped.", [1, 2, 3]),  # en dash
        ("Anakinra helped [1\u20143].", "Anakinra helped.", [1, 2, 3]),  # em dash
        ("Anakinra helped [1\u22123].", "Anakinra helped.", [1, 2, 3]),  # minus sign
        ("Anakinra helped [1\u20103].", "Anakinra helped.", [1, 2, 3]),  # unicode hyphen
        ("Anakinra helped [[1]].", "Anakinra helped.", [1]),  # nested: no stray brackets
        ("Anakinra helped [[1], [2]].", "Anakinra helped.", [1, 2]),
        ("", "", []),
    ],
)
def test_split_markers_on_malformed_input(text: str, clean: str, cited: list[int]) -> None:
    assert split_markers(text) == (clean, cited)


def test_marker_zero_and_huge_numbers_parse_without_crashing() -> None:
    assert split_markers("Zero [0].") == ("Zero.", [0])
    big = "9" * 30
    assert split_markers(f"Big [{big}].") == ("Big.", [int(big)])


def test_marker_re_finds_each_marker() -> None:
    found = [m.group(1) for m in MARKER_RE.finditer("a [1] b [2,3] c [x] d [4-5]")]
    assert found == ["1", "2,3", "4-5"]


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("1", [1]),
        ("1, 3-5", [1, 3, 4, 5]),
        ("5,1,5", [5, 1]),
        ("", []),
        (" , ; ", []),
        ("1-2-3", []),
        ("2-1", []),
        ("1-22", []),  # a span of 21 is over the limit
        ("1-21", list(range(1, 22))),  # span of 20 is the limit
        ("x", []),
    ],
)
def test_parse_marker(body: str, expected: list[int]) -> None:
    assert parse_marker(body) == expected


# -- resolve_bullet -------------------------------------------------------------------------


@pytest.fixture
def numbered(ev: EvFactory) -> dict[int, list[Evidence]]:
    return {
        1: [
            ev("series", "Background of the series without figures.", ordinal=0),
            ev("series", "Anakinra was effective in 19 of 21 patients (90.5%).", ordinal=1),
        ],
        2: [ev("review", "The review pooled 2,400 patients treated with anakinra.")],
    }


def test_resolve_keeps_resolving_markers_and_drops_the_others(
    numbered: dict[int, list[Evidence]],
) -> None:
    report = Verification()
    bullet = resolve_bullet("Anakinra was effective in most patients [1][9].", numbered, report)
    assert bullet is not None
    assert bullet.text == "Anakinra was effective in most patients."
    assert [c.source_id for c in bullet.citations] == ["series"]
    assert report.dropped_markers == [9]
    assert report.dropped_sentences == []


def test_resolve_picks_the_chunk_that_carries_the_numbers(
    numbered: dict[int, list[Evidence]],
) -> None:
    bullet = resolve_bullet("Anakinra worked in 90.5% [1].", numbered, Verification())
    assert bullet is not None
    assert bullet.citations[0].chunk_id == "series#1"


def test_resolve_drops_an_uncited_sentence(numbered: dict[int, list[Evidence]]) -> None:
    report = Verification()
    assert resolve_bullet("Anakinra is a miracle drug.", numbered, report) is None
    assert report.dropped_sentences == ["Anakinra is a miracle drug."]
    assert "no citation" in report.reasons[0]


def test_resolve_drops_a_sentence_whose_markers_all_fail(
    numbered: dict[int, list[Evidence]],
) -> None:
    report = Verification()
    assert resolve_bullet("Anakinra is effective [0][7].", numbered, report) is None
    assert report.dropped_markers == [0, 7]
    assert report.dropped_sentences


def test_resolve_drops_a_number_missing_from_the_cited_chunk(
    numbered: dict[int, list[Evidence]],
) -> None:
    report = Verification()
    assert resolve_bullet("Anakinra worked in 95% of patients [1].", numbered, report) is None
    assert "95" in report.reasons[0]
    # the number exists, but in the other source: citing the wrong source does not help
    assert resolve_bullet("The review pooled 90.5% [2].", numbered, Verification()) is None


def test_resolve_accepts_numbers_across_multiple_citations(
    numbered: dict[int, list[Evidence]],
) -> None:
    text = "Anakinra helped 19 of 21 patients, and a review pooled 2400 patients [1, 2]."
    bullet = resolve_bullet(text, numbered, Verification())
    assert bullet is not None
    assert [c.source_id for c in bullet.citations] == ["series", "review"]
    assert "[" not in bullet.text


def test_resolve_marker_only_text_is_nothing(numbered: dict[int, list[Evidence]]) -> None:
    assert resolve_bullet("[1]", numbered, Verification()) is None
    assert resolve_bullet("   ", numbered, Verification()) is None


# -- finalize -------------------------------------------------------------------------------


def _bullet(text: str, *cites: tuple[str, str, str]) -> DraftBullet:
    return DraftBullet(text, [DraftCitation(s, c, sentence) for s, c, sentence in cites])


@pytest.fixture
def evidence(ev: EvFactory) -> list[Evidence]:
    return [
        ev("a", "Alpha found 10 responders. Alpha second sentence here.", ordinal=0),
        ev("a", "Alpha later chunk with 20 cases.", ordinal=1, rank=2),
        ev("b", "Beta reports 30 deaths in total.", rank=3, evidence_type="guideline"),
        ev("c", "Gamma describes 40 patients.", rank=4),
    ]


def test_numbering_follows_first_appearance(evidence: list[Evidence]) -> None:
    draft = Draft(
        sections=[
            DraftSection(
                "Research",
                "research",
                [
                    _bullet("Beta reports 30 deaths.", ("b", "b#0", "Beta reports 30 deaths")),
                    _bullet(
                        "Alpha found 10 responders.",
                        ("a", "a#0", "Alpha found 10 responders."),
                        ("b", "b#0", ""),
                    ),
                ],
            )
        ]
    )
    sections, refs, numbering = finalize(draft, evidence)
    assert numbering == {"b": 1, "a": 2}
    assert [b.citations for b in sections[0].bullets] == [[1], [2, 1]]
    assert [(r.n, r.source_id) for r in refs] == [(1, "b"), (2, "a")]
    assert refs[0].evidence_type == "guideline" and refs[0].pmid == "123456"
    check_answer_citations(sections, refs)


def test_numbering_is_stable_with_an_existing_map(evidence: list[Evidence]) -> None:
    earlier = {"a": 1, "z": 2}  # z was cited in an earlier turn, not retrieved now
    draft = Draft(
        sections=[
            DraftSection(
                "Research",
                "research",
                [
                    _bullet("Gamma describes 40 patients.", ("c", "c#0", "")),
                    _bullet("Alpha found 10 responders.", ("a", "a#0", "")),
                    _bullet("Beta reports 30 deaths.", ("b", "b#0", "")),
                ],
            )
        ]
    )
    sections, refs, numbering = finalize(draft, evidence, earlier)
    assert numbering == {"a": 1, "z": 2, "c": 3, "b": 4}
    assert [b.citations for b in sections[0].bullets] == [[3], [1], [4]]
    assert [r.n for r in refs] == [1, 3, 4]
    assert earlier == {"a": 1, "z": 2}  # the caller's map is not mutated


def test_citations_to_sources_not_retrieved_are_dropped(evidence: list[Evidence]) -> None:
    draft = Draft(
        sections=[
            DraftSection(
                "Guidance",
                "guidelines",
                [_bullet("Made up.", ("ghost", "ghost#0", "Made up."))],
            ),
            DraftSection(
                "Research",
                "research",
                subsections=[
                    DraftSection(
                        "Efficacy",
                        "research-topic",
                        [
                            _bullet(
                                "Alpha found 10 responders.",
                                ("ghost", "ghost#0", ""),
                                ("a", "a#0", ""),
                            ),
                            _bullet("Only a ghost.", ("ghost", "ghost#1", "")),
                        ],
                    ),
                    DraftSection("Empty", "research-topic", [_bullet("No cites.")]),
                ],
            ),
        ]
    )
    sections, refs, numbering = finalize(draft, evidence)
    assert [s.heading for s in sections] == ["Research"]  # empty sections are left out
    assert [s.heading for s in sections[0].subsections] == ["Efficacy"]
    assert [(b.text, b.citations) for b in sections[0].subsections[0].bullets] == [
        ("Alpha found 10 responders.", [1])
    ]
    assert "ghost" not in numbering
    assert [r.source_id for r in refs] == ["a"]


def test_passages_and_highlights(evidence: list[Evidence]) -> None:
    draft = Draft(
        sections=[
            DraftSection(
                "Research",
                "research",
                [
                    _bullet("Alpha found 10.", ("a", "a#0", "Alpha found 10 responders.")),
                    _bullet("Alpha had 20.", ("a", "a#1", "Alpha later chunk with 20 cases.")),
                    _bullet("Again 10.", ("a", "a#0", "Alpha found 10 responders.")),
                    _bullet("Gamma 40.", ("c", "c#unknown", "Gamma describes 40 patients.")),
                    _bullet("Beta 30.", ("b", "b#0", "")),
                ],
            )
        ]
    )
    _, refs, _ = finalize(draft, evidence)
    by_source = {r.source_id: r for r in refs}
    a = by_source["a"]
    assert [(p.chunk_id, p.highlights) for p in a.passages] == [
        ("a#0", ["Alpha found 10 responders."]),
        ("a#1", ["Alpha later chunk with 20 cases."]),
    ]
    assert a.passages[0].text == evidence[0].chunk.text
    assert a.passages[0].heading == "Findings"
    # an unknown chunk id falls back to the source's first retrieved chunk
    assert [p.chunk_id for p in by_source["c"].passages] == ["c#0"]
    # a citation without a sentence still shows the passage, with nothing highlighted
    assert [(p.chunk_id, p.highlights) for p in by_source["b"].passages] == [("b#0", [])]


def test_duplicate_citations_in_one_bullet_collapse(evidence: list[Evidence]) -> None:
    draft = Draft(
        sections=[
            DraftSection(
                "Research",
                "research",
                [_bullet("Alpha 10 and 20.", ("a", "a#0", ""), ("a", "a#1", ""))],
            )
        ]
    )
    sections, refs, _ = finalize(draft, evidence)
    assert sections[0].bullets[0].citations == [1]
    assert len(refs) == 1
    check_answer_citations(sections, refs)


def test_an_abstained_draft_finalizes_to_nothing(evidence: list[Evidence]) -> None:
    sections, refs, numbering = finalize(Draft(abstained=True), evidence, {"a": 4})
    assert sections == [] and refs == [] and numbering == {"a": 4}


# -- check_answer_citations -----------------------------------------------------------------


def _ref(n: int, text: str) -> Reference:
    return Reference(
        n=n,
        source_id=f"s{n}",
        title=f"Source {n}",
        passages=[Passage(chunk_id=f"s{n}#0", text=text)],
    )


def _answer(*bullets: Bullet, nested: bool = False) -> list[AnswerSection]:
    if nested:
        inner = AnswerSection(heading="Efficacy", bullets=list(bullets))
        return [AnswerSection(heading="Research", subsections=[inner])]
    return [AnswerSection(heading="Research", bullets=list(bullets))]


REFS = [_ref(1, "Anakinra worked in 19 of 21 patients."), _ref(2, "No numbers here.")]


@pytest.mark.parametrize("nested", [False, True])
def test_check_passes_a_valid_answer(nested: bool) -> None:
    check_answer_citations(
        _answer(Bullet(text="It worked in 19 of 21.", citations=[1, 2]), nested=nested), REFS
    )


@pytest.mark.parametrize("nested", [False, True])
@pytest.mark.parametrize(
    ("bullet", "message"),
    [
        (Bullet(text="Uncited claim.", citations=[]), "uncited"),
        (Bullet(text="Cites a missing source.", citations=[1, 3]), "unresolved"),
        (Bullet(text="It worked in 95% of patients.", citations=[1]), "not in cited"),
        (Bullet(text="It worked in 19 of 21.", citations=[2]), "not in cited"),
    ],
)
def test_check_raises_on_each_violation(bullet: Bullet, message: str, nested: bool) -> None:
    ok = Bullet(text="It worked.", citations=[1])
    with pytest.raises(AssertionError, match=message):
        check_answer_citations(_answer(ok, bullet, nested=nested), REFS)
