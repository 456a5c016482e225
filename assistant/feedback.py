"""Feedback on answers: an append-only JSONL log in the data directory, and its export.

Each like, dislike or comment in the app appends one record. ``export_candidates`` turns the
disliked or commented answers into gold-set candidate lines (the format of
``evals/gold/hlh-gold.jsonl``, with ``category: "feedback"``) for a person to review, complete
(key facts, category) and copy into the gold set. Nothing is added to the gold set automatically.
"""

from __future__ import annotations

import hashlib
import json
import sys
import threading
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from assistant.config import Settings
from assistant.types import Answer

FEEDBACK_FILE = "feedback.jsonl"
Verdict = Literal["like", "dislike"]
_WRITE_LOCK = threading.Lock()
"""Serialises appends from the app's worker threads (one line per write either way)."""


class FeedbackRecord(BaseModel):
    """One piece of feedback on one answer."""

    model_config = ConfigDict(extra="ignore")

    id: str = Field(default_factory=lambda: uuid.uuid4().hex)
    time: str = Field(default_factory=lambda: datetime.now(UTC).isoformat(timespec="seconds"))
    answer_id: str
    question: str
    standalone_question: str
    history: list[str] = Field(
        default_factory=list, description="The user's earlier questions in the conversation."
    )
    audience: str
    verdict: Verdict | None = None
    comment: str | None = None
    citations: list[dict[str, Any]] = Field(default_factory=list)
    answer: dict[str, Any] = Field(default_factory=dict)


def answer_id(answer: Answer) -> str:
    """A stable id of an answer: the same question and text give the same id."""
    key = "\x1f".join(
        (answer.question, answer.standalone_question, answer.audience, answer.markdown)
    )
    return hashlib.sha1(key.encode("utf-8")).hexdigest()[:16]


def make_record(
    answer: Answer,
    verdict: Verdict | None,
    comment: str | None = None,
    history: Sequence[str] = (),
) -> FeedbackRecord:
    comment = (comment or "").strip() or None
    citations = [
        {
            "n": ref.n,
            "source_id": ref.source_id,
            "title": ref.title,
            "pmid": ref.pmid,
            "doi": ref.doi,
        }
        for ref in answer.references
    ]
    return FeedbackRecord(
        answer_id=answer_id(answer),
        question=answer.question,
        standalone_question=answer.standalone_question,
        history=list(history),
        audience=answer.audience,
        verdict=verdict,
        comment=comment,
        citations=citations,
        answer=answer.model_dump(mode="json"),
    )


def feedback_path(settings: Settings) -> Path:
    return settings.data_dir / FEEDBACK_FILE


def log_feedback(settings: Settings, record: FeedbackRecord) -> Path:
    """Append one record to the log; returns the log's path."""
    path = feedback_path(settings)
    path.parent.mkdir(parents=True, exist_ok=True)
    line = record.model_dump_json() + "\n"
    with _WRITE_LOCK, path.open("a", encoding="utf-8") as fh:
        fh.write(line)
    return path


def read_feedback(path: Path) -> tuple[list[FeedbackRecord], int]:
    """The records of a log and the number of unreadable lines (which are skipped)."""
    if not path.is_file():
        return [], 0
    records: list[FeedbackRecord] = []
    bad = 0
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        try:
            records.append(FeedbackRecord.model_validate_json(line))
        except ValueError:
            bad += 1
    return records, bad


def candidates(records: Sequence[FeedbackRecord]) -> list[dict[str, Any]]:
    """Gold-set candidates from disliked or commented answers, one per answer, oldest first.

    Several records about the same answer (a dislike, then a comment) are merged: the latest
    verdict wins and all comments are kept.
    """
    merged: dict[str, dict[str, Any]] = {}
    for rec in records:
        entry = merged.setdefault(
            rec.answer_id, {"first": rec, "verdict": None, "comments": [], "time": rec.time}
        )
        if rec.verdict is not None:
            entry["verdict"] = rec.verdict
        if rec.comment and rec.comment not in entry["comments"]:
            entry["comments"].append(rec.comment)
        entry["time"] = rec.time
    out: list[dict[str, Any]] = []
    for aid, entry in merged.items():
        if entry["verdict"] != "dislike" and not entry["comments"]:
            continue
        rec = entry["first"]
        abstained = bool(rec.answer.get("abstained", False))
        cited = [c["source_id"] for c in rec.citations if c.get("source_id")]
        note = _note(entry["verdict"], entry["comments"], entry["time"], abstained, cited)
        out.append(
            {
                "id": f"fb-{aid[:10]}",
                "category": "feedback",
                "split": "dev",
                "turns": list(rec.history),
                "question": rec.question,
                "audience": rec.audience,
                "expected_sources": list(dict.fromkeys(cited))[:4],
                "key_facts": [],
                "should_abstain": abstained,
                "note": note,
            }
        )
    return out


def _note(
    verdict: str | None, comments: list[str], when: str, abstained: bool, cited: list[str]
) -> str:
    parts = [f"From user feedback ({verdict or 'no verdict'}, {when})."]
    if comments:
        parts.append("Comments: " + " | ".join(comments) + ".")
    parts.append(
        "The answer abstained."
        if abstained
        else f"The answer cited {len(set(cited))} source(s); expected_sources lists them as given."
    )
    parts.append(
        "REVIEW: set category, should_abstain, expected_sources and key_facts from the corpus "
        "before adding this item to the gold set."
    )
    return " ".join(parts)


def export_candidates(settings: Settings, out: Path | None) -> int:
    """`assistant feedback export`: write candidate lines to ``out`` or stdout. Exit code."""
    path = feedback_path(settings)
    records, bad = read_feedback(path)
    if not path.is_file():
        print(f"no feedback log at {path} yet: nothing to export", file=sys.stderr)
        return 0
    items = candidates(records)
    lines = "".join(json.dumps(item, ensure_ascii=False) + "\n" for item in items)
    if out is None:
        sys.stdout.write(lines)
    else:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(lines, encoding="utf-8")
    where = "stdout" if out is None else str(out)
    skipped = f"; {bad} unreadable line(s) skipped" if bad else ""
    print(
        f"{len(items)} candidate(s) from {len(records)} feedback record(s) written to {where}"
        f"{skipped}. Review each before adding it to evals/gold/.",
        file=sys.stderr,
    )
    return 0
