"""The real-text gold set (evals/gold/realtext-gold.jsonl): schema, counts and splits (always), and
integrity against the library its spec builds from ../shared (skipped without ../shared): every
expected source exists, every key fact is in one of them, near misses use library words only."""

from __future__ import annotations

import json
import re
from collections import Counter
from pathlib import Path
from typing import Literal

import pytest
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from evals.datasets import library_spec_of
from evals.scoring import fold

ROOT = Path(__file__).resolve().parents[3]
GOLD = ROOT / "evals" / "gold" / "realtext-gold.jsonl"
SINGLE = (
    "symptoms",
    "causes-risk",
    "diagnosis",
    "treatment",
    "drugs",
    "prognosis",
    "prevention",
    "study-numbers",
)
ABSTAIN = ("near-miss", "out-of-scope")
CATEGORIES = (*SINGLE, "conversation", *ABSTAIN)
# words too common to say anything about a question's topic
_STOP = frozenset(
    "what which when where does with that this from have will your their there they them into "
    "about much many long after before should take used taking times percent".split()
)


class RealTextItem(BaseModel):
    """One item; same fields as the HLH set, with this set's categories."""

    model_config = ConfigDict(extra="forbid", strict=True)

    id: str = Field(pattern=r"^rt-[a-z]+-\d\d$")
    category: str
    split: Literal["dev", "test"]
    turns: list[str]
    question: str = Field(min_length=3)
    audience: Literal["clinician", "patient", "student"]
    expected_sources: list[str] = Field(max_length=6)
    key_facts: list[str] = Field(max_length=3)
    should_abstain: bool
    note: str = Field(min_length=10)

    @model_validator(mode="after")
    def _consistent(self) -> RealTextItem:
        if self.category not in CATEGORIES:
            raise ValueError(f"category {self.category!r} is not one of {CATEGORIES}")
        if self.should_abstain != (self.category in ABSTAIN):
            raise ValueError("should_abstain must be true exactly for near-miss/out-of-scope items")
        if self.should_abstain and (self.expected_sources or self.key_facts):
            raise ValueError("abstain items take no expected_sources or key_facts")
        if not self.should_abstain and not (self.expected_sources and self.key_facts):
            raise ValueError("answerable items need >=1 expected source and >=1 key fact")
        if (self.category == "conversation") != bool(self.turns):
            raise ValueError("conversation items need earlier turns; other items take none")
        if len(set(self.expected_sources)) != len(self.expected_sources):
            raise ValueError("duplicate expected source")
        if any(not t.strip() for t in [*self.turns, *self.key_facts, *self.expected_sources]):
            raise ValueError("empty string in turns, key_facts or expected_sources")
        return self


RAW = [json.loads(x) for x in GOLD.read_text(encoding="utf-8").splitlines() if x.strip()]


def _items() -> list[RealTextItem]:
    return [RealTextItem.model_validate(r) for r in RAW]


def test_the_set_has_a_library_spec() -> None:
    spec = library_spec_of(GOLD)
    assert spec is not None and spec.name == "realtext-library.yaml"


@pytest.mark.parametrize("raw", RAW, ids=[str(r.get("id")) for r in RAW])
def test_item_schema(raw: dict[str, object]) -> None:
    try:
        RealTextItem.model_validate(raw)
    except ValidationError as exc:
        pytest.fail(f"{raw.get('id')!r} is invalid:\n{exc}")


def test_ids_unique() -> None:
    dupes = [i for i, n in Counter(str(r.get("id")) for r in RAW).items() if n > 1]
    assert not dupes, f"duplicate ids: {dupes}"


def test_counts_per_category() -> None:
    cats = Counter(i.category for i in _items())
    assert len(RAW) >= 80, f"only {len(RAW)} items (need >= 80)"
    thin = {c: cats[c] for c in SINGLE if cats[c] < 6}
    assert not thin, f"single-question categories with fewer than 6 items: {thin}"
    assert sum(cats[c] for c in SINGLE) >= 50, cats
    assert cats["conversation"] >= 15, cats
    assert cats["near-miss"] >= 12, cats
    assert cats["out-of-scope"] >= 3, cats
    audiences = Counter(i.audience for i in _items())
    assert min(audiences.values()) >= 8, f"too few items for some audience: {audiences}"


def test_splits_are_balanced_in_every_category() -> None:
    items = _items()
    for cat in {i.category for i in items}:
        splits = Counter(i.split for i in items if i.category == cat)
        assert splits["dev"] and splits["test"], f"{cat}: missing a split {splits}"
        assert abs(splits["dev"] - splits["test"]) <= 2, f"{cat}: unbalanced splits {splits}"
    total = Counter(i.split for i in items)
    assert abs(total["dev"] - total["test"]) <= len(items) // 10, total


def test_conversations_have_two_or_three_turns() -> None:
    for item in _items():
        if item.category == "conversation":
            assert 1 <= len(item.turns) <= 2, f"{item.id}: {len(item.turns) + 1} turns"


# --------------------------------------------------------------------------- against ../shared


@pytest.fixture(scope="module")
def library(shared_dir: Path) -> dict[str, str]:
    """source_id -> folded title and body text of the library the spec builds."""
    from evals.libspec import load_library

    spec = library_spec_of(GOLD)
    assert spec is not None
    lib = load_library(spec, shared_dir / "datasets")
    return {d.source_id: fold(" ".join([d.title, *(s.text for s in d.sections)])) for d in lib.docs}


def test_library_size_and_mix(library: dict[str, str]) -> None:
    assert 150 <= len(library) <= 400, len(library)
    pmids = [s for s in library if s.isdigit()]
    assert 80 <= len(pmids) < len(library) - 100, "expected both PubMed abstracts and NIH pages"


def test_every_expected_source_is_in_the_library(library: dict[str, str]) -> None:
    missing = {i.id: s for i in _items() for s in i.expected_sources if s not in library}
    assert not missing, f"expected sources that the library does not hold: {missing}"


def test_every_key_fact_is_in_an_expected_source(library: dict[str, str]) -> None:
    bad = {}
    for item in _items():
        for fact in item.key_facts:
            if not any(fold(fact) in library.get(s, "") for s in item.expected_sources):
                bad[item.id] = fact
    assert not bad, f"key facts no expected source states: {bad}"


def _content_words(text: str) -> list[str]:
    return [w for w in re.findall(r"[a-z0-9]+", text.lower()) if len(w) >= 4 and w not in _STOP]


def test_near_misses_use_library_words_and_out_of_scope_items_do_not(
    library: dict[str, str],
) -> None:
    vocab = {w for text in library.values() for w in re.findall(r"[a-z0-9]+", text)}
    for item in _items():
        unknown = [w for w in _content_words(item.question) if w not in vocab]
        if item.category == "near-miss":
            assert not unknown, f"{item.id}: near miss uses words absent from the library {unknown}"
        elif item.category == "out-of-scope":
            assert unknown, f"{item.id}: every word is in the library; is it really out of scope?"
