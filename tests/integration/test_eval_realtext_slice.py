"""The harness on a 10-item slice of the real-text gold set: real chain, real MiniLM, real Chroma,
the library built from ../shared by the normal pipeline. To keep the build small the slice is
asked against a cut-down spec: the slice's expected sources plus eight distractors from the full
spec (about 100 chunks instead of 2,900). It checks wiring, not quality: its numbers are not
reported anywhere."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from evals.__main__ import main

pytestmark = pytest.mark.slow

GOLD_DIR = Path(__file__).resolve().parents[2] / "evals" / "gold"
# 4 single questions (NIH pages and PubMed), 2 conversations, 2 near misses, 1 out of scope
SLICE = (
    "rt-sym-03",
    "rt-sym-04",
    "rt-prev-02",
    "rt-num-03",
    "rt-num-07",
    "rt-conv-06",
    "rt-conv-14",
    "rt-nm-04",
    "rt-nm-08",
    "rt-oos-01",
)
DISTRACTORS = (
    "https://www.nlm.nih.gov/medlineplus/eyediseases.html",
    "https://www.nlm.nih.gov/medlineplus/maculardegeneration.html",
    "https://www.nlm.nih.gov/medlineplus/diabeticeyeproblems.html",
    "https://www.nlm.nih.gov/medlineplus/retinaldetachment.html",
    "https://ghr.nlm.nih.gov/condition/early-onset-glaucoma",
    "21190419",
    "16241924",
    "12145243",
)


def records(out: Path) -> list[dict[str, Any]]:
    return [json.loads(x) for x in (out / "records.jsonl").read_text().splitlines()]


def cut_down(folder: Path, items: list[dict[str, Any]]) -> Path:
    """The slice and a spec holding its expected sources plus DISTRACTORS, as a gold pair."""
    from evals.datasets import medquad_page_id

    spec = yaml.safe_load((GOLD_DIR / "realtext-library.yaml").read_text(encoding="utf-8"))
    needed = {s for it in items for s in it["expected_sources"]}
    urls = [u for g in spec["medquad"] for u in g["urls"] if medquad_page_id(u) in needed] + [
        d for d in DISTRACTORS if d.startswith("http")
    ]
    pmids = [p for g in spec["pubmedqa"] for p in g["pmids"] if p in needed]
    pmids += [d for d in DISTRACTORS if d.isdigit()]
    small = {
        "name": "realtext-slice",
        "description": "Slice test: expected sources of 10 items plus 8 distractors.",
        "medquad": [{"group": "slice", "chosen": "expected sources + distractors", "urls": urls}],
        "pubmedqa": [
            {"group": "slice", "chosen": "expected sources + distractors", "pmids": pmids}
        ],
    }
    (folder / "slice-library.yaml").write_text(yaml.safe_dump(small), encoding="utf-8")
    gold = folder / "slice-gold.jsonl"
    gold.write_text("".join(json.dumps(it) + "\n" for it in items), encoding="utf-8")
    return gold


@pytest.fixture(scope="module")
def runs(
    tmp_path_factory: pytest.TempPathFactory, shared_dir: Path, embeddings: Any
) -> tuple[Path, Path, Path, list[dict[str, Any]]]:
    root = tmp_path_factory.mktemp("eval-realtext")
    rows = [json.loads(x) for x in (GOLD_DIR / "realtext-gold.jsonl").read_text().splitlines()]
    items = [r for r in rows if r["id"] in SLICE]
    assert len(items) == len(SLICE), "a slice id is missing from the gold set"
    gold = cut_down(root, items)
    data, first, second = root / "data", root / "run1", root / "run2"
    args = ["--gold", str(gold), "--datasets-dir", str(shared_dir / "datasets")]
    args += ["--data-dir", str(data), "--no-progress"]
    assert main([*args, "--out", str(first)]) == 0
    assert main([*args, "--split", "test", "--limit", "2", "--out", str(second)]) == 0
    return data, first, second, items


def test_the_slice_runs_against_its_own_library(runs: Any) -> None:
    data, out, _, items = runs
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["run"]["items"] == len(items) and metrics["run"]["errors"] == 0
    library = metrics["run"]["library"]
    needed = {s for it in items for s in it["expected_sources"]}
    assert library["sources"] == len(needed) + len(DISTRACTORS)
    assert library["built_now"] and Path(library["location"]).parent == data / "eval"
    assert Path(library["location"]).name.startswith("gold-realtext-slice-")
    assert not (data / "index").exists()  # the built-in library was never touched
    assert metrics["metrics"]["citations.valid_rate"] == 1.0
    assert metrics["metrics"]["disclaimer_rate"] == 1.0
    for system in ("bm25", "dense"):
        assert metrics["baselines"][system]["retrieval.recall@10"] is not None
    cats = set(metrics["per_category"])
    assert {"conversation", "near-miss", "out-of-scope", "study-numbers"} <= cats


def test_conversations_ask_their_turns_and_sources_come_from_the_library(
    runs: Any, shared_dir: Path
) -> None:
    _, out, _, _ = runs
    recs = records(out)
    conv = [r for r in recs if r["turns"]]
    assert len(conv) == 2
    for r in conv:
        assert len(r["timings_ms"]["earlier_turns_ms"]) == len(r["turns"])
        assert r["standalone_question"]
    cited = {s for r in recs for s in r["systems"]["ours"]["cited"]}
    assert cited, "nothing was cited at all"
    from evals.libspec import load_library

    lib = load_library(out.parent / "slice-library.yaml", shared_dir / "datasets")
    ranked = {s for r in recs for system in r["systems"].values() for s in system["sources"]}
    assert ranked <= {d.source_id for d in lib.docs}


def test_a_second_run_reuses_the_index_and_gives_the_same_records(runs: Any) -> None:
    _, first, second, _ = runs
    again = json.loads((second / "metrics.json").read_text())
    assert not again["run"]["library"]["built_now"] and again["run"]["split"] == "test"
    by_id = {r["id"]: r for r in records(first)}
    later = records(second)
    assert len(later) == 2 and all(r["split"] == "test" for r in later)
    for r in later:
        assert {k: v for k, v in r.items() if k != "timings_ms"} == {
            k: v for k, v in by_id[r["id"]].items() if k != "timings_ms"
        }
