"""Artifacts, report escaping and plots, --compare, and the judge, on hand-made records."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from langchain_core.language_models import FakeListChatModel

from evals.__main__ import main
from evals.compare import compare, format_comparison
from evals.judge import Judge, parse_scores
from evals.run import score, write_artifacts

PNG = b"\x89PNG"


def run_info(**extra: Any) -> dict[str, Any]:
    info = {
        "dataset": "unit",
        "split": "test",
        "items": 3,
        "errors": 0,
        "limit": None,
        "seed": 0,
        "composer": "extractive",
        "judge": None,
        "baseline_k_chunks": 40,
        "naive_cited_chunks": 3,
        "support_threshold": 0.7,
        "library": {"location": "/x", "sources": 2, "chunks": 4, "built_now": False, "index": "i"},
        "notes": ["A note with <b>markup</b>."],
        "command": ["assistant", "eval"],
        "git_commit": None,
        "wall_time_s": 1.0,
        "prepare_s": 0.1,
        "asks_s": 0.5,
        "scoring_s": 0.4,
        "finished": "now",
    }
    return {**info, **extra}


def make_run(out: Path, records: list[dict[str, Any]], ctx: Any) -> dict[str, Any]:
    result = score(records, ctx, judge=False, progress=False)
    result["run"] = run_info(items=len(records))
    write_artifacts(out, records, result)
    return result


@pytest.fixture
def records(rec) -> list[dict[str, Any]]:
    base = {
        "ours": {"sources": ["src-a"], "cited": ["src-a"]},
        "bm25": {"sources": ["x", "src-a"], "cited": ["x"]},
        "dense": {"sources": ["src-a"], "cited": ["src-a"]},
    }
    hostile = rec("q-html", key_facts=["19 of 21"], systems=base)
    hostile["question"] = "<script>alert(1)</script> does it work?"
    oos = rec(
        "q-oos",
        category="out-of-scope",
        gold_sources=[],
        should_abstain=True,
        abstained=True,
        systems={**base, "ours": {"sources": ["src-a"], "cited": []}},
    )
    missing = rec("q-miss", key_facts=["absent fact"], systems=base, total_ms=300.0)
    return [hostile, oos, missing]


def test_artifacts_are_written_and_html_is_escaped(records, ctx, tmp_path: Path) -> None:
    out = tmp_path / "run"
    result = make_run(out, records, ctx)
    names = {p.name for p in out.iterdir()}
    assert {"records.jsonl", "metrics.json", "report.md", "report.html"} <= names
    pngs = [p for p in out.iterdir() if p.suffix == ".png"]
    assert len(pngs) == 4 and all(p.read_bytes().startswith(PNG) for p in pngs)
    metrics = json.loads((out / "metrics.json").read_text())
    assert list(metrics) == ["run", "metrics", "baselines", "per_category"]
    assert set(metrics["baselines"]) == {"bm25", "dense"}
    assert metrics["metrics"]["citations.expected_cited_rate"] == 1.0
    assert metrics["baselines"]["bm25"]["citations.expected_cited_rate"] == 0.0
    assert metrics["baselines"]["bm25"]["retrieval.mrr"] == 0.5
    assert metrics["metrics"]["abstention.recall"] == 1.0
    assert set(metrics["per_category"]) == {"efficacy", "out-of-scope"}
    html = (out / "report.html").read_text()
    assert "<script>" not in html and "&lt;script&gt;" in html
    assert "<b>markup</b>" not in html
    for png in pngs:
        assert f'src="{png.name}"' in html
    md = (out / "report.md").read_text()
    assert "BM25 alone" in md and "worst items" in md and "q-miss" in md
    lines = (out / "records.jsonl").read_text().splitlines()
    assert [json.loads(x)["verdict"] for x in lines] == ["pass", "pass", "fail"]
    assert result["metrics"]["answer.key_fact_recall"] == 0.5


def test_compare_prints_deltas_and_flipped_verdicts(records, rec, ctx, tmp_path, capsys) -> None:
    make_run(tmp_path / "a", records, ctx)
    changed = [records[0], records[1], rec("q-miss", key_facts=["19 of 21"])]
    changed[0] = rec("q-html", key_facts=["gone"])
    make_run(tmp_path / "b", changed, ctx)
    diff = compare(tmp_path / "a", tmp_path / "b")
    assert diff["flipped"] == {"pass->fail": ["q-html"], "fail->pass": ["q-miss"]}
    text = format_comparison(diff)
    assert "answer.key_fact_recall" in text and "[bm25] retrieval.mrr" in text
    assert main(["--compare", str(tmp_path / "a"), str(tmp_path / "b")]) == 0
    assert "verdict pass->fail: 1" in capsys.readouterr().out
    assert main(["--compare", str(tmp_path / "a"), str(tmp_path / "nope")]) == 2


def test_cli_refuses_what_it_cannot_run(tmp_path: Path, capsys) -> None:
    base = tmp_path / "datasets"
    assert main(["--dataset", "mirage-bioasq", "--datasets-dir", str(base)]) == 2
    assert "absent" in capsys.readouterr().err
    assert main(["--dataset", "pubmedqa", "--datasets-dir", str(base)]) == 2
    assert main(["--gold", str(tmp_path / "missing.jsonl")]) == 2
    assert main(["--gold", "x.jsonl", "--limit", "0"]) == 2
    with pytest.raises(SystemExit):
        main([])


def test_assistant_cli_forwards_eval_options(tmp_path: Path) -> None:
    from assistant.cli import build_parser

    args = build_parser().parse_args(["eval", "--gold", "g.jsonl", "--limit", "3", "-h"])
    assert args.args == ["--gold", "g.jsonl", "--limit", "3", "-h"]


def test_parse_scores_takes_the_first_valid_object() -> None:
    assert parse_scores('{"faithfulness": 0.8, "relevancy": 1}') == {
        "faithfulness": 0.8,
        "relevancy": 1.0,
    }
    assert parse_scores(
        'Sure! {"faithfulness": 2, "relevancy": 1} then {"faithfulness": 0.5, "relevancy": 0.25}'
    ) == {"faithfulness": 0.5, "relevancy": 0.25}
    for bad in ("", "no json", '{"faithfulness": 0.5}', '{"faithfulness": true, "relevancy": 1}'):
        assert parse_scores(bad) is None


def test_judge_grades_answers_and_records_failures(rec) -> None:
    model = FakeListChatModel(responses=['{"faithfulness": 0.9, "relevancy": 0.7}', "oops"])
    judge = Judge(model, "fake")
    assert judge.grade(rec()) == {"faithfulness": 0.9, "relevancy": 0.7}
    assert judge.grade(rec())["error"] == "unparseable judge reply"  # type: ignore[index]
    assert judge.grade(rec(abstained=True)) is None

    class Down:
        def invoke(self, prompt: str) -> None:
            raise ConnectionError("refused")

    broken = Judge(Down(), "http://127.0.0.1:9")
    assert "ConnectionError" in broken.grade(rec())["error"]  # type: ignore[index]
    assert broken.failures == 1
