"""The library vocabulary, built from hand-made sources the way ingest builds it: terms and
their classes come from how the texts speak of them, acronyms get their long forms, lookups
are longest-first and typo-tolerant, and the file round-trips."""

from __future__ import annotations

from pathlib import Path

import pytest

from assistant.config import ChunkingSettings
from assistant.ingest.chunking import chunk_document
from assistant.types import DocSection, SourceDoc
from assistant.vocab.extract import define_acronyms, extract_terms, source_terms_json, term_key
from assistant.vocab.general import commonness, general_vocabulary
from assistant.vocab.library import LibraryVocabulary, build_vocabulary

SOURCES = {
    "s1": (
        "Diabetic eye disease",
        [
            "People with diabetic retinopathy (DR) may lose vision.",
            "Patients with diabetic retinopathy are treated with laser surgery or ranibizumab.",
            "Ranibizumab injections were given monthly.",
        ],
    ),
    "s2": (
        "Eye injections",
        [
            "Ranibizumab therapy improved vision in patients with diabetic retinopathy.",
            "Patients with macular edema were treated with ranibizumab.",
        ],
    ),
}


def sources() -> list[tuple[SourceDoc, list]]:
    out = []
    for sid, (title, lines) in SOURCES.items():
        doc = SourceDoc(
            source_id=sid,
            title=title,
            mesh=["Diabetic Retinopathy"],
            sections=[DocSection(text="\n".join(lines))],
        )
        out.append((doc, chunk_document(doc, ChunkingSettings())))
    return out


def vocabulary() -> LibraryVocabulary:
    return build_vocabulary([(d.source_id, source_terms_json(d, c), "{}") for d, c in sources()])


def test_acronyms_are_defined_by_the_text() -> None:
    assert define_acronyms("People with diabetic retinopathy (DR) may lose vision.") == {
        "DR": "diabetic retinopathy"
    }
    assert define_acronyms("the result (p < 0.05) and (n = 21)") == {}


def test_terms_of_a_source_carry_kinds_and_context_cues() -> None:
    doc, chunks = sources()[0]
    terms = extract_terms(doc, chunks)
    retinopathy = terms[term_key("diabetic retinopathy")]
    assert {"mesh", "longform"} <= retinopathy.kinds
    assert retinopathy.condition_cues >= 2  # "people with", "patients with"
    assert terms[term_key("ranibizumab")].intervention_cues >= 1  # "treated with"
    assert term_key("vision") not in terms  # a common word is no term on its own


def test_classes_come_from_the_library_not_from_a_word_list() -> None:
    vocab = vocabulary()
    assert vocab.get(term_key("ranibizumab")).cls == "intervention"
    assert vocab.get(term_key("diabetic retinopathy")).cls == "condition"
    assert vocab.get(term_key("DR")).cls == "condition"  # the acronym speaks like its long form
    assert vocab.get(term_key("diabetic retinopathy")).df == 2
    assert vocab.synonyms_of(term_key("DR")) == ["diabetic retinopathy"]


def test_match_is_longest_first_and_fuzzy_finds_typos() -> None:
    vocab = vocabulary()
    found = [
        (m.surface, m.term.cls)
        for m in vocab.match("Is ranibizumab used for diabetic retinopathy?")
    ]
    assert ("ranibizumab", "intervention") in found
    assert ("diabetic retinopathy", "condition") in found
    assert vocab.fuzzy("ranibizumb").key == term_key("ranibizumab")
    assert vocab.fuzzy("vision") is None and vocab.fuzzy("xylophone") is None


def test_the_vocabulary_file_round_trips(tmp_path: Path) -> None:
    vocab = vocabulary()
    vocab.generation = "rev-1"
    vocab.save(tmp_path / "vocabulary.json")
    loaded = LibraryVocabulary.load(tmp_path / "vocabulary.json")
    assert loaded is not None and loaded.terms == vocab.terms and loaded.generation == "rev-1"
    (tmp_path / "broken.json").write_text("{not json")
    assert LibraryVocabulary.load(tmp_path / "broken.json") is None


def test_general_vocabulary_knows_facets_populations_and_word_frequency() -> None:
    g = general_vocabulary()
    assert "safety" in g.facets_of("What are the side effects of this drug?")
    assert g.facets_of("How is glaucoma diagnosed?") == ["diagnosis"]
    assert g.populations_of("Is it safe for pregnant women and kids?") == [
        "pregnancy",
        "women",
        "children",
    ]
    assert commonness("door") > 4.5 > commonness("glaucoma") > commonness("ranibizumab")
    kinds = {t.name for t in g.answer_types if t.expected("How many minutes does it take?")}
    assert kinds == {"duration"}


def test_a_schedule_question_naming_its_period_needs_a_schedule_of_that_period() -> None:
    schedule = next(t for t in general_vocabulary().answer_types if t.name == "schedule")
    per_day = schedule.expected("How many times a day do the drops have to be used?")
    assert per_day is not None
    for text in ("Use one drop twice a day.", "Take it every 8 hours.", "Use the drops daily."):
        assert per_day.search(text), text
    for text in ("Have an eye exam at least once a year.", "Injections may be given monthly."):
        assert not per_day.search(text), text
    any_period = schedule.expected("How often should the injections be given?")
    assert any_period is not None and any_period.search("Injections may be given monthly.")


@pytest.mark.parametrize(
    ("text", "older"),
    [
        ("men aged >/= 65 years with localized disease", True),
        ("patients aged 75 years or older", True),
        ("women older than 70 years", True),
        ("children aged 6 to 65 months", False),
        ("adults aged 65", False),
        ("infusions over 60 minutes", False),
    ],
)
def test_an_age_threshold_names_older_adults(text: str, older: bool) -> None:
    assert ("older adults" in general_vocabulary().populations_of(text)) is older


def test_how_often_asks_for_a_schedule_only_of_something_done() -> None:
    """ "How often are the injections given?" asks for a schedule; "how often do children have
    X?" asks how common X is, which no schedule answers."""
    kinds = general_vocabulary().answer_types

    def asked(question: str) -> set[str]:
        return {t.name for t in kinds if t.expected(question) is not None}

    assert asked("How often are the eye injections given?") == {"schedule"}
    assert asked("How often do I need to check my blood sugar?") == {"schedule"}
    assert asked("How often should I get my eyes checked?") == {"schedule"}
    assert asked("How often do young children have retinal bleeding after a seizure?") == set()
