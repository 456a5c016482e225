"""Reading a question against a small library: which of its words the library knows."""

from __future__ import annotations

from collections import Counter

from assistant.ask.question import Idf, QuestionProfile, profile_question
from assistant.config import ChunkingSettings
from assistant.ingest.chunking import chunk_document
from assistant.text import lexical_tokens
from assistant.types import DocSection, SourceDoc
from assistant.vocab.extract import source_terms_json
from assistant.vocab.library import build_vocabulary

LINES = [
    "HLH after CAR T-cell therapy was reported in 4 of 60 patients.",
    "Patients given CAR T cells for lymphoma were followed for 12 months.",
    "IL-1 blockade with anakinra was used when HLH followed CAR T therapy.",
]


def _profile(question: str) -> QuestionProfile:
    doc = SourceDoc(
        source_id="s", title="HLH after CAR T", sections=[DocSection(text="\n".join(LINES))]
    )
    chunks = chunk_document(doc, ChunkingSettings())
    vocabulary = build_vocabulary([("s", source_terms_json(doc, chunks), "{}")])
    df: Counter[str] = Counter()
    for chunk in chunks:
        df.update(set(lexical_tokens(chunk.text)))
    return profile_question(question, vocabulary, Idf(dict(df), len(chunks)))


def test_a_hyphenated_name_with_a_one_letter_part_is_known_by_its_other_part() -> None:
    """The library writes "CAR T"; the question "CAR-T": the same name, not an unknown one."""
    q = _profile("Can HLH occur after CAR-T therapy?")
    assert "CAR-T" not in q.unknown
    [car_t] = [s for s in q.subjects if s.surface == "CAR-T"]
    assert car_t.known and ("car",) in car_t.alternatives


def test_a_number_in_a_hyphenated_name_still_tells_names_apart() -> None:
    """A library on IL-1 knows nothing of IL-6: the number is part of the name."""
    q = _profile("Does IL-6 blockade help HLH after CAR T therapy?")
    assert "IL-6" in q.unknown
