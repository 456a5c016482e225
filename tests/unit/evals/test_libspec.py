"""Library specs (evals/libspec.py) and the documents they build, on a synthetic ../shared:
one source per MedQuAD page, whole PubMed abstracts, gold files paired with a spec."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from evals.__main__ import main
from evals.datasets import (
    DatasetUnavailable,
    load_gold,
    medquad_page_doc,
    medquad_page_id,
    pubmedqa_doc,
)
from evals.libspec import load_library, read_spec

REAL_GOLD = Path(__file__).resolve().parents[3] / "evals" / "gold" / "realtext-gold.jsonl"
PAGE = "http://www.niddk.nih.gov/health-information/health-topics/Diabetes/x-topic/Pages/index.aspx"


def qa(uid: str, qtype: str, answer: str, url: str = PAGE) -> dict[str, Any]:
    return {
        "uid": uid,
        "url": url,
        "focus": "X Topic",
        "source": "NIDDK",
        "qtype": qtype,
        "question": f"What is (are) X Topic ? ({qtype})",
        "answer": answer,
    }


def pqa(pmid: str) -> dict[str, Any]:
    return {
        "pmid": pmid,
        "question": f"Does thing {pmid} work?",
        "contexts": ["Why we looked.", "It worked in 7 of 9."],
        "context_labels": ["BACKGROUND", "RESULTS"],
        "meshes": ["Humans"],
        "year": 2010,
        "long_answer": "It works.",
        "final_decision": "yes",
        "split": "dev",
    }


def write_jsonl(path: Path, rows: list[dict[str, Any]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")


@pytest.fixture
def shared(tmp_path: Path) -> Path:
    base = tmp_path / "datasets"
    rows = [
        qa("5_NIDDK_QA/1#10", "treatment", "Treat it with rest."),
        qa("5_NIDDK_QA/1#2", "symptoms", "It makes you tired."),
        qa("5_NIDDK_QA/1#3", "susceptibility", "It makes you tired."),  # repeated answer
        qa("5_NIDDK_QA/1#1", "information", "X is a condition."),
        qa("7_SeniorHealth_QA/2#1", "causes", "Age.", "http://nihseniorhealth.gov/xtopic/toc.html"),
    ]
    write_jsonl(base / "medquad" / "medquad.jsonl", rows)
    write_jsonl(base / "pubmedqa" / "pqal.jsonl", [pqa("101"), pqa("102")])
    return base


def write_spec(folder: Path, urls: list[str], pmids: list[str], name: str = "mini") -> Path:
    spec = {
        "name": name,
        "description": "A two-page test library.",
        "medquad": [{"group": "pages", "chosen": "by hand", "urls": urls}],
        "pubmedqa": [{"group": "abstracts", "chosen": "by hand", "pmids": pmids}],
    }
    path = folder / f"{name}-library.yaml"
    path.write_text(json.dumps(spec), encoding="utf-8")  # JSON is YAML
    return path


def test_page_ids_are_readable_slugs() -> None:
    assert medquad_page_id(PAGE) == "niddk-diabetes-x-topic"
    assert (
        medquad_page_id("http://nihseniorhealth.gov/glaucoma/toc.html")
        == "nihseniorhealth-glaucoma"
    )
    assert medquad_page_id("https://www.nlm.nih.gov/medlineplus/cataract.html") == (
        "medlineplus-cataract"
    )
    assert medquad_page_id(
        "https://rarediseases.info.nih.gov/gard/10268/diabetes-mellitus-type-1"
    ) == ("gard-diabetes-mellitus-type-1")
    assert medquad_page_id("http://www.ninds.nih.gov/disorders/diabetic/diabetic.htm") == (
        "ninds-diabetic"
    )


def test_a_page_is_one_source_with_question_type_headings(shared: Path) -> None:
    rows = [json.loads(x) for x in (shared / "medquad" / "medquad.jsonl").read_text().splitlines()]
    doc = medquad_page_doc([r for r in rows if r["url"] == PAGE])
    assert doc.source_id == "niddk-diabetes-x-topic" and doc.title == "X Topic"
    assert doc.link == PAGE and doc.evidence_type == "patient-information"
    # uid order (#1, #2, #3, #10), the repeated answer kept once, headings from the type
    assert [s.heading for s in doc.sections] == ["Information", "Symptoms", "Treatment"]
    assert "What is" not in " ".join(s.text for s in doc.sections) + doc.title


def test_a_library_abstract_keeps_its_conclusion_the_benchmark_one_does_not() -> None:
    whole = pubmedqa_doc(pqa("101"), conclusion=True)
    assert [s.heading for s in whole.sections] == ["BACKGROUND", "RESULTS", "CONCLUSIONS"]
    assert whole.sections[-1].text == "It works." and whole.title == "PubMed 101"
    assert [s.heading for s in pubmedqa_doc(pqa("101")).sections] == ["BACKGROUND", "RESULTS"]


def test_load_library_builds_the_selected_documents(shared: Path, tmp_path: Path) -> None:
    spec = write_spec(tmp_path, [PAGE], ["102"])
    lib = load_library(spec, shared)
    assert [d.source_id for d in lib.docs] == ["niddk-diabetes-x-topic", "102"]
    assert lib.groups == {"niddk-diabetes-x-topic": "pages", "102": "abstracts"}
    assert lib.digest == load_library(spec, shared).digest
    other = load_library(write_spec(tmp_path, [PAGE], ["101"], name="other"), shared)
    assert other.digest != lib.digest


@pytest.mark.parametrize(
    "urls,pmids,message",
    [
        (["http://example.org/absent"], [], "1 MedQuAD url"),
        ([], ["999"], "1 PubMedQA pmid"),
        ([PAGE, PAGE], [], "listed more than once"),
    ],
)
def test_bad_selections_are_named(
    shared: Path, tmp_path: Path, urls: list[str], pmids: list[str], message: str
) -> None:
    with pytest.raises(DatasetUnavailable, match=message):
        load_library(write_spec(tmp_path, urls, pmids), shared)


def test_a_malformed_spec_says_what_is_wrong(tmp_path: Path) -> None:
    path = tmp_path / "x-library.yaml"
    path.write_text("name: x\nmedquad:\n  - group: a\n    urls: not-a-list\n")
    with pytest.raises(DatasetUnavailable, match="needs 'group', 'chosen' and a list 'urls'"):
        read_spec(path)


def test_a_gold_file_with_a_spec_gets_its_own_index(shared: Path, tmp_path: Path) -> None:
    write_spec(tmp_path, [PAGE], ["101"])
    gold = tmp_path / "mini-gold.jsonl"
    item = {"id": "q", "question": "How is X treated?", "expected_sources": ["101"]}
    write_jsonl(gold, [item])
    data = load_gold(gold, shared)
    assert data.docs is not None and len(data.docs) == 2
    assert data.index_key == "gold-mini" and data.index_params["docs"]
    assert any("mini" in n for n in data.notes)


def test_without_shared_the_real_text_set_exits_2(
    tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    code = main(["--gold", str(REAL_GOLD), "--datasets-dir", str(tmp_path), "--no-progress"])
    assert code == 2
    err = capsys.readouterr().err
    assert "medquad.jsonl is absent" in err and "--datasets-dir" in err
