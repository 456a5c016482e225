"""The built-in library: every article is well formed and says nothing its record does not."""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
import yaml

from assistant.config import IngestSettings
from assistant.ingest.loaders import discover_files, load_file
from assistant.text import numbers, sentences
from assistant.types import EVIDENCE_TYPES, SourceDoc

REPO = Path(__file__).resolve().parents[2]
CORPUS = REPO / "corpus"
FACTS = REPO.parent / "shared" / "evidence" / "hlh-facts.yaml"
RECORD_FIELDS = (
    "title",
    "journal",
    "year",
    "volume",
    "issue",
    "pages",
    "pmid",
    "doi",
    "link",
    "evidence_type",
    "population",
    "intervention",
    "comparator",
)
NUMBER_SOURCES = (
    "key_findings",
    "title",
    "title_fragment",
    "title_note",
    "population",
    "intervention",
    "comparator",
    "year",
    "volume",
    "issue",
    "pages",
    "journal",
)
UNCONFIRMED_TITLE = re.compile(
    r"\[(?:full title not confirmed|descriptive title; official "
    r"title not confirmed)\]$"
)


def _articles() -> list[SourceDoc]:
    files, _ = discover_files([CORPUS])
    docs: list[SourceDoc] = []
    for path in files:
        docs.extend(load_file(path, IngestSettings()))
    return docs


ARTICLES = _articles()


@pytest.fixture(scope="module")
def records() -> dict[str, dict[str, Any]]:
    if not FACTS.is_file():
        pytest.skip(f"{FACTS} is absent: the fact-sheet checks need ../shared beside the repo")
    data = yaml.safe_load(FACTS.read_text(encoding="utf-8"))
    return {r["id"]: r for r in data["articles"]}


def _body(doc: SourceDoc) -> str:
    return "\n".join(s.text for s in doc.sections)


def test_library_has_44_articles_with_valid_front_matter() -> None:
    assert len(ARTICLES) == 44
    for doc in ARTICLES:
        assert doc.path and Path(doc.path).stem == doc.source_id
        assert doc.evidence_type in EVIDENCE_TYPES, doc.source_id
        assert doc.title.strip(), doc.source_id
        assert doc.sections, f"{doc.source_id}: no body"


def test_every_record_has_its_article_and_back(records: dict[str, dict[str, Any]]) -> None:
    ids = {d.source_id for d in ARTICLES}
    assert sorted(set(records) - ids) == [], "records without an article"
    assert sorted(ids - set(records)) == [], "articles without a record"


@pytest.mark.parametrize("doc", ARTICLES, ids=lambda d: d.source_id)
def test_front_matter_matches_record(doc: SourceDoc, records: dict[str, dict[str, Any]]) -> None:
    record = records[doc.source_id]
    for field in RECORD_FIELDS:
        value, expected = getattr(doc, field), record.get(field)
        if field == "title" and expected is None:
            partial = record.get("title_fragment") or record.get("title_note") or ""
            stem = partial.split("...")[0].split(" - ")[0].strip()
            assert UNCONFIRMED_TITLE.search(value), f"{doc.source_id}: unconfirmed title unmarked"
            assert stem and stem.lower() in value.lower(), f"{doc.source_id}: title not from record"
        elif expected is None:
            assert value is None, f"{doc.source_id}: {field} is null in the record but set here"
        else:
            assert str(value) == str(expected), f"{doc.source_id}: {field} differs from the record"
    if record.get("unverified"):
        assert doc.provenance, f"{doc.source_id}: record lists unverified facts but no provenance"


@pytest.mark.parametrize("doc", ARTICLES, ids=lambda d: d.source_id)
def test_every_number_comes_from_the_record(
    doc: SourceDoc, records: dict[str, dict[str, Any]]
) -> None:
    record = records[doc.source_id]
    allowed: set[str] = set()
    for key in NUMBER_SOURCES:
        value = record.get(key)
        for item in value if isinstance(value, list) else [value]:
            if item is not None:
                allowed |= numbers(str(item))
    extra = numbers(_body(doc)) - allowed
    assert not extra, f"{doc.source_id}: numbers not in the record: {sorted(extra)}"


def test_no_sentence_repeats_across_articles() -> None:
    counts: Counter[str] = Counter()
    owners: dict[str, set[str]] = {}
    for doc in ARTICLES:
        for sentence in set(sentences(_body(doc))):
            key = " ".join(sentence.lower().split())
            counts[key] += 1
            owners.setdefault(key, set()).add(doc.source_id)
    repeated = {s: sorted(owners[s]) for s, n in counts.items() if len(owners[s]) > 1}
    assert not repeated, f"sentences shared between articles: {repeated}"


def test_body_lines_are_headings_or_single_sentence_bullets() -> None:
    for doc in ARTICLES:
        text = Path(doc.path or "").read_text(encoding="utf-8").split("---", 2)[2]
        for line in text.splitlines():
            if not line.strip() or line.startswith("## "):
                continue
            assert line.startswith("- "), f"{doc.source_id}: not a bullet: {line[:60]!r}"
            assert len(sentences(line)) == 1, (
                f"{doc.source_id}: more than one sentence: {line[:60]}"
            )
