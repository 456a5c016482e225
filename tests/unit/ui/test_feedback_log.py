"""The feedback log and its export as gold-set candidates."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from assistant.cli import main
from assistant.config import Settings
from assistant.feedback import (
    answer_id,
    candidates,
    export_candidates,
    feedback_path,
    log_feedback,
    make_record,
    read_feedback,
)
from assistant.types import Answer

GOLD_KEYS = {
    "id",
    "category",
    "split",
    "turns",
    "question",
    "audience",
    "expected_sources",
    "key_facts",
    "should_abstain",
    "note",
}


def test_log_round_trip(tmp_path: Path, answer_factory: Callable[..., Answer]) -> None:
    settings = Settings(data_dir=tmp_path / "data")
    answer = answer_factory("Does it work?")
    path = log_feedback(settings, make_record(answer, "like", "", ["Earlier?"]))
    assert path == feedback_path(settings) == tmp_path / "data" / "feedback.jsonl"
    with path.open("a") as fh:
        fh.write("not json\n\n")
    records, bad = read_feedback(path)
    assert bad == 1 and len(records) == 1
    rec = records[0]
    assert rec.verdict == "like" and rec.comment is None and rec.history == ["Earlier?"]
    assert rec.question == "Does it work?" and rec.standalone_question == "Does it work?"
    assert rec.answer_id == answer_id(answer) and rec.answer["references"][0]["n"] == 1
    assert rec.citations[0]["source_id"] == "src-1" and rec.time.endswith("+00:00")
    gold_like = {"question", "standalone_question", "answer", "citations", "audience"}
    assert gold_like <= set(json.loads(path.read_text().splitlines()[0]))


def test_candidates_only_disliked_or_commented(answer_factory: Callable[..., Answer]) -> None:
    liked = answer_factory("Liked?")
    disliked = answer_factory("Disliked?")
    commented = answer_factory("Commented?")
    abstained = Answer(question="Out?", standalone_question="Out?", abstained=True)
    records = [
        make_record(liked, "like"),
        make_record(disliked, "like"),
        make_record(disliked, "dislike", "wrong source"),
        make_record(disliked, None, "also too long"),
        make_record(commented, "like", "great but add the dose"),
        make_record(abstained, "dislike", None, ["Earlier?"]),
    ]
    items = candidates(records)
    assert [i["question"] for i in items] == ["Disliked?", "Commented?", "Out?"]
    for item in items:
        assert set(item) == GOLD_KEYS and item["category"] == "feedback"
        assert item["split"] == "dev" and item["key_facts"] == []
        assert "REVIEW" in item["note"] and item["id"].startswith("fb-")
    first = items[0]
    assert first["expected_sources"] == ["src-1", "src-2"] and not first["should_abstain"]
    assert "dislike" in first["note"] and "wrong source | also too long" in first["note"]
    assert items[2]["should_abstain"] and items[2]["turns"] == ["Earlier?"]
    assert len({i["id"] for i in items}) == 3


def test_export_command(
    tmp_path: Path, answer_factory: Callable[..., Answer], capsys: pytest.CaptureFixture[str]
) -> None:
    data = tmp_path / "data"
    assert main(["feedback", "export", "--data-dir", str(data)]) == 0
    assert "no feedback log" in capsys.readouterr().err
    settings = Settings(data_dir=data)
    log_feedback(settings, make_record(answer_factory("Bad?"), "dislike", "wrong"))
    log_feedback(settings, make_record(answer_factory("Good?"), "like"))
    out = tmp_path / "cands.jsonl"
    assert main(["feedback", "export", "--data-dir", str(data), "--out", str(out)]) == 0
    lines = [json.loads(x) for x in out.read_text().splitlines()]
    assert [x["question"] for x in lines] == ["Bad?"]
    assert "1 candidate(s) from 2 feedback record(s)" in capsys.readouterr().err
    assert export_candidates(settings, None) == 0
    assert json.loads(capsys.readouterr().out)["question"] == "Bad?"
