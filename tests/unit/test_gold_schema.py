"""Schema and coverage checks for the in-house gold sets asked against the built-in library
(evals/gold/*.jsonl without a <name>-library.yaml beside them; the real-text set has its own test,
tests/unit/evals/test_realtext_gold.py)."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Literal

import pytest
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from evals.datasets import library_spec_of

ROOT = Path(__file__).resolve().parents[2]
GOLD_DIR = ROOT / "evals" / "gold"
CORPUS_DIR = ROOT / "corpus"

SINGLE_CATEGORIES = (
    "efficacy",
    "dosing",
    "diagnosis",
    "safety",
    "comparison",
    "special-populations",
    "ferritin",
)
Category = Literal[
    "efficacy",
    "dosing",
    "diagnosis",
    "safety",
    "comparison",
    "special-populations",
    "ferritin",
    "conversation",
    "out-of-scope",
]


class GoldItem(BaseModel):
    """One gold question; the rules below mirror the gold-set brief."""

    model_config = ConfigDict(extra="forbid", strict=True)

    id: str = Field(min_length=1)
    category: Category
    split: Literal["dev", "test"]
    turns: list[str]
    question: str = Field(min_length=3)
    audience: Literal["clinician", "patient", "student"]
    expected_sources: list[str] = Field(max_length=4)
    key_facts: list[str] = Field(max_length=3)
    should_abstain: bool
    note: str = Field(min_length=1)

    @model_validator(mode="after")
    def _consistent(self) -> GoldItem:
        if self.should_abstain != (self.category == "out-of-scope"):
            raise ValueError("should_abstain must be true exactly for out-of-scope items")
        if self.should_abstain and (self.expected_sources or self.key_facts):
            raise ValueError("abstain items take no expected_sources or key_facts")
        if not self.should_abstain and not (self.expected_sources and self.key_facts):
            raise ValueError("answerable items need >=1 expected source and >=1 key fact")
        if (self.category == "conversation") != bool(self.turns):
            raise ValueError("conversation items need earlier turns; other items take none")
        if any(not t.strip() for t in [*self.turns, *self.key_facts, *self.expected_sources]):
            raise ValueError("empty string in turns, key_facts or expected_sources")
        return self


def _load() -> list[tuple[str, dict[str, object]]]:
    rows: list[tuple[str, dict[str, object]]] = []
    for path in sorted(GOLD_DIR.glob("*.jsonl")):
        if library_spec_of(path) is not None:
            continue  # asked against its own library, not corpus/
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
            if line.strip():
                rows.append((f"{path.name}:{n}", json.loads(line)))
    return rows


ROWS = _load()


def test_gold_files_exist() -> None:
    assert ROWS, f"no gold items found in {GOLD_DIR}/*.jsonl"


@pytest.mark.parametrize("where,raw", ROWS, ids=[str(r.get("id", w)) for w, r in ROWS])
def test_item_schema(where: str, raw: dict[str, object]) -> None:
    try:
        item = GoldItem.model_validate(raw)
    except ValidationError as exc:
        pytest.fail(f"{where} (id={raw.get('id')!r}) is invalid:\n{exc}")
    missing = [s for s in item.expected_sources if not (CORPUS_DIR / f"{s}.md").is_file()]
    assert not missing, f"{where} (id={item.id}): no corpus/<id>.md for {missing}"
    assert len(set(item.expected_sources)) == len(item.expected_sources), (
        f"{where} (id={item.id}): duplicate expected source"
    )


def test_ids_unique() -> None:
    counts = Counter(str(raw.get("id")) for _, raw in ROWS)
    dupes = sorted(i for i, c in counts.items() if c > 1)
    assert not dupes, f"duplicate gold ids: {dupes}"


def test_coverage() -> None:
    items = [GoldItem.model_validate(raw) for _, raw in ROWS]
    cats: Counter[str] = Counter(i.category for i in items)
    thin = {c: cats[c] for c in SINGLE_CATEGORIES if cats[c] < 4}
    assert not thin, f"categories with fewer than 4 items: {thin}"
    single = sum(cats[c] for c in SINGLE_CATEGORIES)
    assert single >= 40, f"only {single} single answerable items (need >= 40)"
    assert cats["conversation"] >= 15, f"only {cats['conversation']} conversations (need >= 15)"
    assert cats["out-of-scope"] >= 10, f"only {cats['out-of-scope']} abstain items (need >= 10)"
    for cat in cats:
        splits = Counter(i.split for i in items if i.category == cat)
        assert abs(splits["dev"] - splits["test"]) <= 2, f"{cat}: unbalanced splits {splits}"


def test_seed_item() -> None:
    seeds = [GoldItem.model_validate(raw) for _, raw in ROWS if raw.get("id") == "seed-01"]
    assert len(seeds) == 1, "seed item 'seed-01' missing"
    seed = seeds[0]
    assert seed.category == "efficacy" and seed.split == "test", "seed-01: must be efficacy/test"
    need = {"fautrel-2024-eular-pres-still", "baverez-2022-anakinra-21-cases"}
    assert need <= set(seed.expected_sources), f"seed-01: expected_sources must include {need}"
    assert "90.5%" in seed.key_facts, "seed-01: key facts must include '90.5%'"
