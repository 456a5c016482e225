"""Dataset adapters, item selection, index directory naming and the Markdown round trip."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from assistant.config import ChunkingSettings, IngestSettings, Settings
from assistant.ingest.loaders import load_file
from evals.datasets import (
    DatasetUnavailable,
    EvalItem,
    load_dataset,
    load_gold,
    pubmedqa_doc,
    select,
)
from evals.library import index_dir, markdown_file, write_documents

GOLD = Path(__file__).resolve().parents[3] / "evals" / "gold" / "hlh-gold.jsonl"


def pqa_row(pmid: str, split: str = "test") -> dict[str, Any]:
    return {
        "pmid": pmid,
        "question": f"Does treatment {pmid} help?",
        "contexts": [
            f"Background of study {pmid}.",
            f"Results of study {pmid}: 12 of 30 improved.",
        ],
        "context_labels": ["BACKGROUND", "RESULTS"],
        "meshes": ["Humans"],
        "year": 2001,
        "long_answer": f"Conclusion {pmid}: it helps.",
        "final_decision": "yes",
        "split": split,
    }


def write_jsonl(path: Path, rows: list[dict[str, Any]]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


@pytest.fixture
def shared(tmp_path: Path) -> Path:
    base = tmp_path / "datasets"
    rows = [pqa_row("101"), pqa_row("102", "dev"), pqa_row("103")]
    write_jsonl(base / "pubmedqa" / "pqal.jsonl", rows)
    mirage = [
        {"id": "101", "question": "Q101?", "answer_text": "yes", "pmids": ["101"]},
        {"id": "999", "question": "Q999?", "answer_text": "no", "pmids": ["999"]},
    ]
    write_jsonl(base / "mirage" / "pubmedqa.jsonl", mirage)
    medquad = [
        {
            "uid": f"S/{i}#1",
            "url": f"https://example.org/{i % 3}",
            "focus": f"Disease {i % 3}",
            "qtype": "symptoms",
            "question": f"What are the symptoms of Disease {i % 3} ?",
            "answer": f"Answer text number {i}.",
        }
        for i in range(6)
    ]
    write_jsonl(base / "medquad" / "medquad.jsonl", medquad)
    return base


def test_gold_set_loads_with_splits() -> None:
    data = load_gold(GOLD)
    assert data.docs is None and len(data.items) == 108
    dev, test = select(data.items, "dev", None, 0), select(data.items, "test", None, 0)
    assert len(dev) + len(test) == 108 and dev and test
    conv = [it for it in data.items if it.turns]
    assert conv and all(it.category == "conversation" for it in conv)
    assert all(not it.gold_sources for it in data.items if it.should_abstain)


def test_select_is_a_seeded_sample_in_file_order() -> None:
    items = [EvalItem(id=str(i), question=f"q{i}", split="test") for i in range(50)]
    a = select(items, None, 10, seed=3)
    assert a == select(items, None, 10, seed=3)
    assert a != select(items, None, 10, seed=4)
    assert [int(x.id) for x in a] == sorted(int(x.id) for x in a)
    assert select(items, None, 500, 0) == items
    assert select(items, "dev", None, 0) == []


def test_pubmedqa_docs_hold_contexts_only(shared: Path) -> None:
    data = load_dataset("pubmedqa", shared)
    assert len(data.docs or []) == 3  # every item indexed, whatever the split
    doc = pubmedqa_doc(pqa_row("101"))
    assert doc.source_id == "101" and doc.title == "PubMed 101" and doc.pmid == "101"
    assert [s.heading for s in doc.sections] == ["BACKGROUND", "RESULTS"]
    body = " ".join(s.text for s in doc.sections)
    assert "Conclusion" not in body and "Does treatment" not in body + doc.title
    item = next(it for it in data.items if it.id == "102")
    assert item.gold_sources == ("102",) and item.gold_answer == "Conclusion 102: it helps."
    assert item.split == "dev" and item.category == "yes"


def test_mirage_keeps_questions_with_indexed_gold(shared: Path) -> None:
    data = load_dataset("mirage-pubmedqa", shared)
    assert [it.id for it in data.items] == ["101"]
    assert data.index_key == "pubmedqa"
    assert any("much easier" in n for n in data.notes)


def test_mirage_bioasq_is_absent_by_design(shared: Path) -> None:
    with pytest.raises(DatasetUnavailable, match="BioASQ"):
        load_dataset("mirage-bioasq", shared)


def test_medquad_subset_and_grouped_questions(shared: Path) -> None:
    data = load_dataset("medquad", shared, seed=0, sources=4)
    assert len(data.docs or []) == 4
    indexed = {d.source_id for d in data.docs or []}
    for item in data.items:
        assert set(item.gold_sources) <= indexed
    assert sum(len(it.gold_sources) for it in data.items) == 4
    doc = (data.docs or [])[0]
    assert doc.link and doc.link.startswith("https://example.org/")
    assert doc.title.endswith("symptoms")
    again = load_dataset("medquad", shared, seed=0, sources=4)
    assert again.items == data.items
    assert {it.split for it in data.items} <= {"dev", "test"}


def test_index_dir_follows_inputs_and_settings(shared: Path, tmp_path: Path) -> None:
    data = load_dataset("pubmedqa", shared)
    base = Settings(data_dir=tmp_path / "d")
    first = index_dir(base, data)
    assert first.parent == tmp_path / "d" / "eval" and first.name.startswith("pubmedqa-")
    assert index_dir(base, data) == first
    other = Settings(data_dir=tmp_path / "d", chunking=ChunkingSettings(max_words=60))
    assert index_dir(other, data) != first


def test_markdown_round_trip_through_the_loader(shared: Path, tmp_path: Path) -> None:
    data = load_dataset("pubmedqa", shared)
    folder = tmp_path / "docs"
    assert write_documents(data, folder) == 3
    loaded = [d for p in sorted(folder.glob("*.md")) for d in load_file(p, IngestSettings())]
    by_id = {d.source_id: d for d in loaded}
    original = pubmedqa_doc(pqa_row("101"))
    got = by_id["101"]
    assert got.title == original.title and got.year == 2001 and got.mesh == ["Humans"]
    assert [(s.heading, s.text) for s in got.sections] == [
        (s.heading, s.text) for s in original.sections
    ]


def test_heading_like_lines_stay_text(tmp_path: Path) -> None:
    path = tmp_path / "x.md"
    path.write_text(markdown_file({"source_id": "x", "title": "X"}, [("", "# not a heading\nok")]))
    doc = load_file(path, IngestSettings())[0]
    assert len(doc.sections) == 1 and "not a heading" in doc.sections[0].text
