"""Chunking: word cap, section boundaries, headings, skipped sections, stable ids, overlap.

The documents are synthetic (numbered filler sentences), so every sentence is recognisable.
"""

from __future__ import annotations

import pytest

from assistant.config import ChunkingSettings
from assistant.ingest.chunking import chunk_document, chunk_id, embedding_text
from assistant.text import normalize, sentences
from assistant.types import Chunk, DocSection, SourceDoc


def sentence(tag: str, n_words: int) -> str:
    """A sentence of exactly ``n_words`` words that starts with a unique tag."""
    assert n_words >= 2
    return f"{tag.capitalize()} " + " ".join(["filler"] * (n_words - 2)) + " end."


def paragraph(prefix: str, lengths: list[int]) -> str:
    return " ".join(sentence(f"{prefix}s{k}", n) for k, n in enumerate(lengths))


def make_doc(sections: list[tuple[str, str]], source_id: str = "doc-1") -> SourceDoc:
    return SourceDoc(
        source_id=source_id,
        title="A synthetic test article",
        sections=[DocSection(heading=h, text=t) for h, t in sections],
    )


def n_words(text: str) -> int:
    return len(text.split())


def tags(chunk: Chunk) -> list[str]:
    """The tags of the sentences of a chunk, in order."""
    return [s.split()[0].lower() for s in sentences(chunk.text)]


SETTINGS = ChunkingSettings(max_words=60, overlap_sentences=1)


# --------------------------------------------------------------------------- size


@pytest.mark.parametrize("max_words", [20, 60, 140])
def test_word_cap_respected(max_words: int) -> None:
    lengths = [7, 12, 25, 3, 18, 9, 15, 19, 4, 11, 8, 17, 6, 10, 13]
    doc = make_doc([("Results", paragraph("a", lengths)), ("Methods", paragraph("b", lengths))])
    settings = ChunkingSettings(max_words=max_words, overlap_sentences=1)
    chunks = chunk_document(doc, settings)
    assert chunks
    assert all(n_words(c.text) <= max_words for c in chunks)


def test_overlong_sentence_is_cut_into_capped_pieces() -> None:
    long_one = sentence("huge", 150)
    text = f"{sentence('before', 10)} {long_one} {sentence('after', 10)}"
    chunks = chunk_document(make_doc([("Body", text)]), SETTINGS)
    assert all(n_words(c.text) <= SETTINGS.max_words for c in chunks)
    assert len(chunks) >= 3
    # no word is lost: the pieces together hold all 8 + 148 + 8 filler words (overlap may repeat)
    joined = " ".join(c.text for c in chunks)
    assert "Huge" in joined and joined.count("filler") >= 8 + 148 + 8
    assert chunks[0].text.startswith("Before") and "After" in chunks[-1].text


def test_short_section_is_one_chunk() -> None:
    text = paragraph("a", [8, 9, 10])
    chunks = chunk_document(make_doc([("Summary", text)]), SETTINGS)
    assert len(chunks) == 1
    assert chunks[0].text.split() == normalize(text).split()


# --------------------------------------------------------------------------- sections


def test_section_boundaries_never_crossed() -> None:
    sections = [
        ("Background", paragraph("bg", [12, 20, 9, 14])),
        ("Methods", paragraph("me", [30, 25, 8])),
        ("Results", paragraph("re", [15] * 9)),
    ]
    doc = make_doc(sections)
    chunks = chunk_document(doc, SETTINGS)
    by_heading = {h: normalize(t) for h, t in sections}
    prefix = {"Background": "bg", "Methods": "me", "Results": "re"}
    seen_sections = set()
    for chunk in chunks:
        section_text = by_heading[chunk.heading]
        assert doc.sections[chunk.section_index].heading == chunk.heading
        assert all(tag.startswith(prefix[chunk.heading]) for tag in tags(chunk))
        for s in sentences(chunk.text):
            assert s in section_text
        # offsets point into the normalised section text
        assert section_text[chunk.start : chunk.end].split() == chunk.text.split()
        seen_sections.add(chunk.heading)
    assert seen_sections == set(by_heading)
    # ordinals run through the document in order
    assert [c.ordinal for c in chunks] == list(range(len(chunks)))
    assert [c.section_index for c in chunks] == sorted(c.section_index for c in chunks)


def test_every_sentence_is_in_some_chunk() -> None:
    lengths = [5, 40, 22, 9, 31, 18, 3, 27]
    text = paragraph("x", lengths)
    chunks = chunk_document(make_doc([("Results", text)]), SETTINGS)
    covered = {t for c in chunks for t in tags(c)}
    assert covered == {f"xs{k}" for k in range(len(lengths))}


def test_heading_and_source_kept_on_each_chunk() -> None:
    doc = make_doc([("Results", paragraph("r", [20] * 8)), ("", paragraph("n", [20] * 3))])
    chunks = chunk_document(doc, SETTINGS)
    assert {c.heading for c in chunks} == {"Results", ""}
    assert all(c.source_id == "doc-1" for c in chunks)
    for chunk in chunks:
        embedded = embedding_text(chunk, doc.title)
        assert embedded.startswith(doc.title)
        assert chunk.heading in embedded.split("\n")[0]
        assert embedded.endswith(chunk.text)


def test_skip_sections_honoured_case_insensitively() -> None:
    doc = make_doc(
        [
            ("Results", paragraph("r", [10, 10])),
            ("references", paragraph("ref", [10, 10])),
            ("Provenance", paragraph("prov", [10])),
            ("Extra", paragraph("ex", [10])),
        ]
    )
    default = chunk_document(doc, ChunkingSettings())
    assert {c.heading for c in default} == {"Results", "Extra"}
    custom = chunk_document(doc, ChunkingSettings(skip_sections=["extra"]))
    assert {c.heading for c in custom} == {"Results", "references", "Provenance"}
    # section_index still points at the section in the document
    assert all(doc.sections[c.section_index].heading == c.heading for c in custom)


def test_empty_sections_give_no_chunk() -> None:
    doc = make_doc([("Empty", "   \n  "), ("Body", paragraph("b", [10]))])
    chunks = chunk_document(doc, SETTINGS)
    assert [c.heading for c in chunks] == ["Body"]


# --------------------------------------------------------------------------- ids


def test_ids_are_stable_and_unique() -> None:
    sections = [("Background", paragraph("bg", [20] * 6)), ("Results", paragraph("re", [20] * 6))]
    first = chunk_document(make_doc(sections), SETTINGS)
    second = chunk_document(make_doc(sections), SETTINGS)
    assert [c.chunk_id for c in first] == [c.chunk_id for c in second]
    assert len({c.chunk_id for c in first}) == len(first)
    other_source = chunk_document(make_doc(sections, source_id="doc-2"), SETTINGS)
    assert not {c.chunk_id for c in first} & {c.chunk_id for c in other_source}


def test_change_in_one_section_changes_only_its_ids() -> None:
    background = paragraph("bg", [20] * 6)
    results = paragraph("re", [20] * 6)
    before = chunk_document(make_doc([("Background", background), ("Results", results)]), SETTINGS)
    changed = results.replace("Res3", "Changed", 1)
    assert changed != results
    after = chunk_document(make_doc([("Background", background), ("Results", changed)]), SETTINGS)

    def ids(chunks: list[Chunk], heading: str) -> list[str]:
        return [c.chunk_id for c in chunks if c.heading == heading]

    assert ids(before, "Background") == ids(after, "Background")
    assert ids(before, "Results") != ids(after, "Results")
    # chunks of the changed section that do not hold the changed sentence keep their ids
    untouched = [c.chunk_id for c in before if c.heading == "Results" and "Res3" not in c.text]
    assert untouched and set(untouched) <= set(ids(after, "Results"))


def test_repeated_text_gets_distinct_ids() -> None:
    same = paragraph("dup", [10])
    chunks = chunk_document(make_doc([("Notes", same), ("Notes", same)]), SETTINGS)
    assert len(chunks) == 2
    assert chunks[0].text == chunks[1].text
    assert chunks[0].chunk_id != chunks[1].chunk_id


def test_chunk_id_shape() -> None:
    cid = chunk_id("s", "h", "some text", 0)
    assert len(cid) == 24 and int(cid, 16) >= 0
    assert cid != chunk_id("s", "h", "some text", 1)


# --------------------------------------------------------------------------- overlap


@pytest.mark.parametrize("overlap", [0, 1, 2])
def test_overlap_sentences(overlap: int) -> None:
    settings = ChunkingSettings(max_words=60, overlap_sentences=overlap)
    chunks = chunk_document(make_doc([("Results", paragraph("o", [12] * 20))]), settings)
    assert len(chunks) > 2
    for prev, nxt in zip(chunks, chunks[1:], strict=False):
        prev_tags, next_tags = tags(prev), tags(nxt)
        if overlap == 0:
            assert not set(prev_tags) & set(next_tags)
        else:
            assert next_tags[:overlap] == prev_tags[-overlap:]
        # every chunk brings at least one sentence the previous one did not have
        assert set(next_tags) - set(prev_tags)


def test_overlap_never_makes_a_chunk_that_only_repeats() -> None:
    # 10 + 45 words fill the first chunk; the 45-word sentence cannot sit beside the next one
    text = " ".join([sentence("a", 10), sentence("b", 45), sentence("c", 45), sentence("d", 5)])
    chunks = chunk_document(make_doc([("Body", text)]), SETTINGS)
    assert [tags(c) for c in chunks] == [["a", "b"], ["c", "d"]]
    for prev, nxt in zip(chunks, chunks[1:], strict=False):
        assert set(tags(nxt)) - set(tags(prev))


def test_overlap_does_not_cross_sections() -> None:
    doc = make_doc([("One", paragraph("p", [25, 25, 25])), ("Two", paragraph("q", [25, 25]))])
    chunks = chunk_document(doc, SETTINGS)
    first_of_two = next(c for c in chunks if c.heading == "Two")
    assert tags(first_of_two)[0] == "qs0"
