"""The harness end to end on a slice of the in-house gold set: real chain, real MiniLM, real
Chroma in a temp data dir (the built-in corpus is ingested there first)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from evals.__main__ import main

pytestmark = pytest.mark.slow

GOLD = Path(__file__).resolve().parents[2] / "evals" / "gold" / "hlh-gold.jsonl"
# seed 2 with --limit 10 draws single questions, a conversation and out-of-scope items
ARGS = ["--gold", str(GOLD), "--limit", "10", "--seed", "2", "--no-progress"]
REQUIRED = [
    "retrieval.recall@1",
    "retrieval.recall@5",
    "retrieval.recall@10",
    "retrieval.mrr",
    "retrieval.ndcg@10",
    "citations.valid_rate",
    "citations.expected_cited_rate",
    "citations.precision",
    "citations.support_rate",
    "answer.key_fact_recall",
    "answer.rougeL",
    "answer.semantic_similarity",
    "abstention.precision",
    "abstention.recall",
    "followup.expected_cited_rate",
    "disclaimer_rate",
    "latency.ask_p50_ms",
    "latency.ask_p95_ms",
]


def records(out: Path) -> list[dict[str, Any]]:
    return [json.loads(x) for x in (out / "records.jsonl").read_text().splitlines()]


def without_timings(rec: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in rec.items() if k != "timings_ms"}


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory, embeddings: Any) -> tuple[Path, Path, Path]:
    root = tmp_path_factory.mktemp("eval-gold")
    data = root / "data"
    first, second = root / "run1", root / "run2"
    assert main([*ARGS, "--data-dir", str(data), "--out", str(first)]) == 0
    assert main([*ARGS, "--data-dir", str(data), "--out", str(second)]) == 0
    return data, first, second


def test_a_run_is_an_artifact(runs: tuple[Path, Path, Path]) -> None:
    _, out, _ = runs
    for name in ("records.jsonl", "metrics.json", "report.md", "report.html"):
        assert (out / name).is_file()
    assert len(list(out.glob("*.png"))) == 4
    metrics = json.loads((out / "metrics.json").read_text())
    assert set(REQUIRED) <= set(metrics["metrics"])
    for system in ("bm25", "dense"):
        assert metrics["baselines"][system]["retrieval.recall@5"] is not None
    assert metrics["run"]["items"] == 10 and metrics["run"]["errors"] == 0
    assert metrics["run"]["library"]["sources"] == 44
    assert metrics["metrics"]["disclaimer_rate"] == 1.0
    assert metrics["metrics"]["citations.valid_rate"] == 1.0


def test_conversations_ask_the_earlier_turns_first(runs: tuple[Path, Path, Path]) -> None:
    _, out, _ = runs
    conv = [r for r in records(out) if r["turns"]]
    assert conv, "the slice should hold a conversation"
    for r in conv:
        assert len(r["timings_ms"]["earlier_turns_ms"]) == len(r["turns"])
        assert r["standalone_question"]


def test_records_are_deterministic_and_reuse_the_library(runs: tuple[Path, Path, Path]) -> None:
    data, first, second = runs
    a, b = records(first), records(second)
    assert [without_timings(r) for r in a] == [without_timings(r) for r in b]
    m1 = json.loads((first / "metrics.json").read_text())
    m2 = json.loads((second / "metrics.json").read_text())
    assert m1["run"]["library"]["built_now"] and not m2["run"]["library"]["built_now"]
    timing_free = {k: v for k, v in m1["metrics"].items() if not k.startswith("latency.")}
    assert timing_free == {k: v for k, v in m2["metrics"].items() if not k.startswith("latency.")}
    assert not (data / "eval").exists()  # the gold set uses the built-in library only


def test_compare_two_runs(runs: tuple[Path, Path, Path], capsys: pytest.CaptureFixture) -> None:
    _, first, second = runs
    assert main(["--compare", str(first), str(second)]) == 0
    out = capsys.readouterr().out
    assert "verdict pass->fail: 0" in out and "verdict fail->pass: 0" in out
