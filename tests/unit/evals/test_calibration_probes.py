"""The gate's calibration probes (evals/calibration/*-probes.jsonl): every file the calibration
names loads, holds both kinds of item, and stays off the test splits it must never see: no
real-text probe rewords a real-text test question, and every PubMedQA probe is written on a dev
abstract (checked against ../shared, skipped without it)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from evals.calibration.gate import HERE, PROBES, probes
from evals.datasets import read_jsonl

ROOT = Path(__file__).resolve().parents[3]
REALTEXT_GOLD = ROOT / "evals" / "gold" / "realtext-gold.jsonl"


def _words(text: str) -> set[str]:
    return set(re.findall(r"[a-z0-9]+", text.lower()))


def _jaccard(a: str, b: str) -> float:
    x, y = _words(a), _words(b)
    return len(x & y) / len(x | y) if x | y else 0.0


@pytest.mark.parametrize("library", sorted(PROBES))
def test_probe_file_loads_with_both_kinds(library: str) -> None:
    rows = read_jsonl(HERE / PROBES[library])
    for i, row in enumerate(rows):
        assert isinstance(row.get("question"), str) and len(row["question"].split()) >= 3, (i, row)
        assert isinstance(row.get("should_abstain"), bool), (i, row)
        if library != "hlh":  # the first probes predate notes; later ones say what was checked
            assert isinstance(row.get("note"), str) and row["note"].strip(), (i, row)
    items = probes(library)
    assert len(items) == len(rows) >= 40
    assert any(it.should_abstain for it in items)
    questions = [" ".join(it.question.lower().split()) for it in items]
    assert len(set(questions)) == len(questions), "a probe is repeated"


def test_realtext_probes_do_not_reword_a_test_question() -> None:
    tests = [r["question"] for r in read_jsonl(REALTEXT_GOLD) if r["split"] == "test"]
    assert tests
    close = [
        (p.question, t) for p in probes("realtext") for t in tests if _jaccard(p.question, t) >= 0.4
    ]
    assert not close, close


def test_pubmedqa_probes_are_written_on_dev_abstracts(shared_dir: Path) -> None:
    rows = read_jsonl(shared_dir / "datasets" / "pubmedqa" / "pqal.jsonl")
    split = {str(r["pmid"]): r.get("split") for r in rows}
    probes_rows = read_jsonl(HERE / PROBES["pubmedqa"])
    off = [r["pmid"] for r in probes_rows if split.get(str(r["pmid"])) != "dev"]
    assert not off, f"probes on abstracts that are not in the dev split: {off}"
    tests = [r["question"] for r in rows if r.get("split") == "test"]
    close = [r["question"] for r in probes_rows for t in tests if _jaccard(r["question"], t) >= 0.4]
    assert not close, close
