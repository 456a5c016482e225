"""Hand-made eval records and a deterministic bag-of-words encoder (no model needed)."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from typing import Any

import pytest

DIM = 256


def bag_of_words(texts: list[str]) -> list[list[float]]:
    """Counts of hashed lower-case words: identical texts -> cosine 1, disjoint words -> 0."""
    out = []
    for text in texts:
        vec = [0.0] * DIM
        for word in re.findall(r"[a-z0-9]+", text.lower()):
            vec[int(hashlib.md5(word.encode()).hexdigest(), 16) % DIM] += 1.0
        out.append(vec)
    return out


def make_record(
    item_id: str = "q1",
    *,
    category: str = "efficacy",
    gold_sources: Sequence[str] = ("src-a",),
    key_facts: Sequence[str] = (),
    gold_answer: str | None = None,
    should_abstain: bool = False,
    abstained: bool = False,
    bullets: Sequence[tuple[str, list[int]]] = (("Anakinra worked in 19 of 21 patients.", [1]),),
    refs: dict[int, tuple[str, str]] | None = None,
    systems: dict[str, dict[str, list[str]]] | None = None,
    turns: Sequence[str] = (),
    total_ms: float | None = 100.0,
    error: str | None = None,
    disclaimer: str = "Not medical advice.",
) -> dict[str, Any]:
    """A record shaped like evals.run.run_item's output."""
    refs = {1: ("src-a", "Anakinra worked in 19 of 21 patients.")} if refs is None else refs
    references = [
        {
            "n": n,
            "source_id": sid,
            "title": f"Title of {sid}",
            "year": 2020,
            "passages": [{"chunk_id": f"{sid}-c", "heading": "", "text": text, "highlights": []}],
        }
        for n, (sid, text) in sorted(refs.items())
    ]
    sections = []
    if not abstained:
        sections = [
            {
                "heading": "From the Research",
                "kind": "research",
                "bullets": [],
                "subsections": [
                    {
                        "heading": "Efficacy",
                        "kind": "research-topic",
                        "bullets": [{"text": t, "citations": c} for t, c in bullets],
                        "subsections": [],
                    }
                ],
            }
        ]
    answer = None
    if error is None:
        answer = {
            "question": "q?",
            "abstained": abstained,
            "sections": sections,
            "references": [] if abstained else references,
            "disclaimer": disclaimer,
            "markdown": f"answer\n---\n*{disclaimer}*\n" if disclaimer else "answer\n",
        }
    cited = [] if abstained else [sid for _, (sid, _) in sorted(refs.items())]
    return {
        "id": item_id,
        "category": category,
        "split": "test",
        "question": f"question {item_id}?",
        "turns": list(turns),
        "gold": {
            "sources": list(gold_sources),
            "key_facts": list(key_facts),
            "answer": gold_answer,
            "should_abstain": should_abstain,
        },
        "answer": answer,
        "error": error,
        "systems": systems or {"ours": {"sources": cited, "cited": cited}},
        "timings_ms": {"ask": {"total": total_ms}} if total_ms is not None else {},
    }


@pytest.fixture
def ctx() -> Any:
    from evals.scoring import Context, Encoder

    return Context(encoder=Encoder(bag_of_words))


@pytest.fixture
def rec() -> Any:
    """The record builder (conftest modules are not importable under --import-mode=importlib)."""
    return make_record
