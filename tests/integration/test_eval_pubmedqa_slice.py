"""The PubMedQA adapter end to end on a SMALL index: 24 real PQA-L items (not the 1,000 the
real run indexes). It checks wiring and leakage rules only; its numbers are not reported."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from evals.__main__ import main

pytestmark = pytest.mark.slow
N_ROWS = 24


@pytest.fixture(scope="module")
def slice_run(
    tmp_path_factory: pytest.TempPathFactory, pubmedqa_rows: list[dict[str, Any]], embeddings: Any
) -> tuple[Path, Path, list[dict[str, Any]]]:
    root = tmp_path_factory.mktemp("eval-pqa")
    rows = pubmedqa_rows[:N_ROWS]
    base = root / "datasets"
    (base / "pubmedqa").mkdir(parents=True)
    (base / "pubmedqa" / "pqal.jsonl").write_text(
        "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8"
    )
    data, out = root / "data", root / "out"
    args = [
        "--dataset",
        "pubmedqa",
        "--split",
        "test",
        "--datasets-dir",
        str(base),
        "--data-dir",
        str(data),
        "--no-progress",
    ]
    assert main([*args, "--out", str(out)]) == 0
    assert main([*args, "--limit", "3", "--out", str(root / "again")]) == 0
    return data, out, rows


def test_index_lives_in_its_own_data_dir(slice_run: Any) -> None:
    data, out, rows = slice_run
    dirs = list((data / "eval").glob("pubmedqa-*"))
    assert len(dirs) == 1
    assert not (data / "index").exists()  # the built-in library was never touched
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["run"]["library"]["sources"] == len(rows)  # all splits indexed
    again = json.loads((out.parent / "again" / "metrics.json").read_text())
    assert not again["run"]["library"]["built_now"]


def test_nothing_leaks_the_answer(slice_run: Any) -> None:
    data, _, rows = slice_run
    from assistant.config import Settings
    from assistant.ingest.store import Library

    root = next((data / "eval").glob("pubmedqa-*"))
    store_prefix = f"eval-{root.name}"
    settings = Settings(data_dir=root, store={"collection_prefix": store_prefix})
    library = Library(settings)
    texts = " ".join(t for _, t in library.manifest.iter_embed_texts())
    for row in rows:
        assert row["long_answer"][:60] not in texts
        assert row["question"] not in texts
    assert {r.ref.title for r in library.sources()} == {f"PubMed {r['pmid']}" for r in rows}


def test_records_score_against_the_items_own_pmid(slice_run: Any) -> None:
    _, out, rows = slice_run
    recs = [json.loads(x) for x in (out / "records.jsonl").read_text().splitlines()]
    test_rows = {r["pmid"]: r for r in rows if r["split"] == "test"}
    assert {r["id"] for r in recs} == set(test_rows)
    for r in recs:
        assert r["gold"]["sources"] == [r["id"]]
        assert r["gold"]["answer"] == test_rows[r["id"]]["long_answer"]
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["metrics"]["answer.rougeL"] is not None
    assert metrics["baselines"]["dense"]["retrieval.recall@10"] is not None
