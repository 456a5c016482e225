"""Ingest into a real store (MiniLM + embedded Chroma + bm25s) on a small PubMedQA slice.

Round trip, idempotent re-ingest, changed files, --prune, bad files, CLI summary and exit codes;
after every step Chroma, the manifest and the lexical index must hold the same chunk ids.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from assistant.ask.retrieve import HybridRetriever
from assistant.cli import main
from assistant.config import Settings
from assistant.ingest.lexical import LexicalIndex
from assistant.ingest.pipeline import IngestReport, ingest
from assistant.ingest.store import Library
from tests.conftest import write_pubmedqa_jsonl

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]
N_ITEMS = 12

NOTE = """\
---
source_id: local-test-note
title: "A made-up local note used by the ingest tests"
year: 2020
evidence_type: review
---

## Background

This note exists only to give the test library one Markdown source with front matter.
It mentions an imaginary measurement called the zorblax index, which no real article uses.

## Findings

The zorblax index rose in every imaginary patient of this fictional note.
"""

TRUNCATED_XML = """<?xml version="1.0"?>
<PubmedArticleSet>
  <PubmedArticle>
    <MedlineCitation>
      <PMID>99999999</PMID>
      <Article>
        <ArticleTitle>A truncated export</ArticleTitle>
        <Abstract><AbstractText>Cut off in the mid"""

BAD_FRONT_MATTER = """\
---
source_id: broken-front-matter
title: [this list never closes
---

Body text that is never read because the header does not parse.
"""


# --------------------------------------------------------------------------- helpers


def dev_rows(rows: list[dict[str, Any]], n: int) -> list[dict[str, Any]]:
    return [r for r in rows if r.get("split") == "dev"][:n]


def write_library(root: Path, rows: list[dict[str, Any]]) -> dict[str, list[str]]:
    """Up to three JSONL files (6, 3 and the rest of the rows) and one Markdown note; returns
    the source ids of each file written."""
    root.mkdir(parents=True, exist_ok=True)
    parts = {"a.jsonl": rows[:6], "b.jsonl": rows[6:9], "c.jsonl": rows[9:]}
    parts = {name: part for name, part in parts.items() if part}
    for name, part in parts.items():
        write_pubmedqa_jsonl(part, root / name)
    (root / "note.md").write_text(NOTE, encoding="utf-8")
    files = {name: [r["pmid"] for r in part] for name, part in parts.items()}
    files["note.md"] = ["local-test-note"]
    return files


def assert_consistent(lib: Library) -> set[str]:
    """Chroma ids == manifest ids == lexical ids, no duplicates; returns the ids."""
    manifest_ids = lib.manifest.chunk_ids()
    got = lib.dense.store.get(include=[])
    dense_list = list(got["ids"])
    assert len(dense_list) == len(set(dense_list)) == lib.dense.count()
    lexical = LexicalIndex.load(lib.lexical_dir)
    assert lexical is not None
    assert len(lexical.ids) == len(set(lexical.ids))
    assert lexical.generation == lib.manifest.revision()
    assert set(dense_list) == manifest_ids == set(lexical.ids)
    rows = lib.sources()
    assert sum(r.n_chunks for r in rows) == lib.manifest.count_chunks() == len(manifest_ids)
    for row in rows:
        assert len(lib.manifest.chunks_of(row.ref.source_id)) == row.n_chunks > 0
    return manifest_ids


def ids_by_source(lib: Library) -> dict[str, set[str]]:
    return {r.ref.source_id: lib.manifest.chunk_ids(r.ref.source_id) for r in lib.sources()}


def top_sources(retriever: HybridRetriever, question: str, n: int) -> list[str]:
    ranked: list[str] = []
    for item in retriever.retrieve(question).evidence:
        if item.source.source_id not in ranked:
            ranked.append(item.source.source_id)
    return ranked[:n]


@pytest.fixture
def rows(pubmedqa_rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    picked = dev_rows(pubmedqa_rows, N_ITEMS)
    assert len(picked) == N_ITEMS
    return picked


@pytest.fixture
def setup(
    tmp_path: Path, make_settings: Callable[..., Settings], embeddings: Any
) -> Iterator[tuple[Settings, Library]]:
    settings = make_settings()
    lib = Library(settings, embeddings=embeddings)
    yield settings, lib
    lib.close()


def run(lib: Library, paths: list[Path], prune: bool = False) -> IngestReport:
    """One ingest, then the three stores must agree (checked after every step)."""
    report = ingest(paths, lib.settings, prune=prune, library=lib, progress=False)
    assert_consistent(lib)
    return report


# --------------------------------------------------------------------------- tests


def test_round_trip_and_idempotent_reingest(
    tmp_path: Path, rows: list[dict[str, Any]], setup: tuple[Settings, Library]
) -> None:
    settings, lib = setup
    root = tmp_path / "lib"
    files = write_library(root, rows)
    every = sorted(sid for ids in files.values() for sid in ids)

    first = run(lib, [root])
    assert sorted(first.added) == every
    assert not (first.updated or first.unchanged or first.removed or first.skipped)
    assert first.chunks_written == first.chunks_total > N_ITEMS
    ids = assert_consistent(lib)

    retriever = HybridRetriever(lib, settings.retrieval)
    misses = []
    for row in rows:
        found = top_sources(retriever, row["question"], 3)
        if row["pmid"] not in found:
            misses.append((row["pmid"], row["question"], found))
    assert not misses, misses
    assert top_sources(retriever, "zorblax index in imaginary patients", 1) == ["local-test-note"]

    built = lib.last_built()
    assert built is not None
    second = run(lib, [root])
    assert lib.last_built() == built, "a run that changed nothing keeps the build time"
    assert sorted(second.unchanged) == every
    assert not (second.added or second.updated or second.removed or second.skipped)
    assert second.chunks_written == 0
    assert second.chunks_total == first.chunks_total
    assert assert_consistent(lib) == ids


def test_unchanged_reingest_never_loads_the_model(
    tmp_path: Path, rows: list[dict[str, Any]], setup: tuple[Settings, Library]
) -> None:
    settings, lib = setup
    root = tmp_path / "lib"
    write_library(root, rows[:3])
    run(lib, [root])
    code = textwrap.dedent(
        f"""
        import json, sys
        from pathlib import Path
        from assistant.config import load_settings
        from assistant.ingest.pipeline import ingest
        settings = load_settings(data_dir=Path({str(settings.data_dir)!r}))
        report = ingest([Path({str(root)!r})], settings, progress=False)
        heavy = [m for m in ("torch", "sentence_transformers") if m in sys.modules]
        print(json.dumps({{"unchanged": len(report.unchanged), "written": report.chunks_written,
                          "heavy": heavy}}))
        """
    )
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=180
    )
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result == {"unchanged": 4, "written": 0, "heavy": []}


def test_changed_record_replaces_only_its_chunks(
    tmp_path: Path, rows: list[dict[str, Any]], setup: tuple[Settings, Library]
) -> None:
    _, lib = setup
    root = tmp_path / "lib"
    files = write_library(root, rows)
    run(lib, [root])
    before = ids_by_source(lib)
    built = lib.last_built()

    # one record of b.jsonl gets an extra sentence in its last context
    target = rows[7]["pmid"]
    changed = [dict(r) for r in rows[6:9]]
    changed[1]["contexts"] = [*rows[7]["contexts"][:-1], rows[7]["contexts"][-1] + " Zz test."]
    write_pubmedqa_jsonl(changed, root / "b.jsonl")

    report = run(lib, [root])
    assert report.updated == [target]
    assert (lib.last_built() or 0) > (built or 0), "an update is a new build"
    assert not report.added and not report.removed
    assert len(report.unchanged) == sum(len(v) for v in files.values()) - 1
    after = ids_by_source(lib)
    assert set(after) == set(before)
    for sid in before:
        if sid != target:
            assert after[sid] == before[sid], sid
    assert after[target] != before[target]
    # only the chunk holding the last context changed; the earlier ones kept their ids
    assert before[target] & after[target]
    ids = assert_consistent(lib)
    assert not (before[target] - after[target]) & ids  # stale vectors are gone


def test_title_change_reaches_both_indexes(
    tmp_path: Path, rows: list[dict[str, Any]], setup: tuple[Settings, Library]
) -> None:
    """Same chunk ids, new embedded text: the lexical index must be rebuilt, not kept."""
    settings, lib = setup
    root = tmp_path / "lib"
    write_library(root, rows[:3])
    run(lib, [root])
    before = lib.manifest.chunk_ids()
    note = (root / "note.md").read_text().replace("A made-up local", "A quuxified local")
    (root / "note.md").write_text(note)
    report = run(lib, [root])
    assert report.updated == ["local-test-note"]
    assert assert_consistent(lib) == before  # chunk ids do not depend on the title
    retriever = HybridRetriever(lib, settings.retrieval)
    hits = retriever.lexical_search("quuxified", 5)
    assert hits and all(cid in lib.manifest.chunk_ids("local-test-note") for cid, _ in hits)
    stored = lib.dense.store.get(ids=sorted(lib.manifest.chunk_ids("local-test-note")))
    assert all("quuxified" in doc for doc in stored["documents"])


def test_prune_removes_only_sources_whose_file_is_gone(
    tmp_path: Path, rows: list[dict[str, Any]], setup: tuple[Settings, Library]
) -> None:
    _, lib = setup
    root = tmp_path / "lib"
    other = tmp_path / "other"
    files = write_library(root, rows[:9])  # a.jsonl: 6 items, b.jsonl: 3
    other.mkdir()
    write_pubmedqa_jsonl(rows[9:10], other / "x.jsonl")
    run(lib, [root, other])
    before = ids_by_source(lib)

    (root / "b.jsonl").unlink()
    # without --prune nothing is removed
    report = run(lib, [root])
    assert not report.removed
    assert set(ids_by_source(lib)) == set(before)
    # with --prune only b.jsonl's sources go; other/ was not named, so it is not touched
    report = run(lib, [root], prune=True)
    assert sorted(report.removed) == sorted(files["b.jsonl"])
    after = ids_by_source(lib)
    assert set(after) == set(before) - set(files["b.jsonl"])
    assert rows[9]["pmid"] in after
    for sid, ids in after.items():
        assert ids == before[sid]
    assert_consistent(lib)


def test_bad_files_are_skipped_and_nothing_stored_is_lost(
    tmp_path: Path, rows: list[dict[str, Any]], setup: tuple[Settings, Library]
) -> None:
    _, lib = setup
    root = tmp_path / "lib"
    files = write_library(root, rows[:8])
    run(lib, [root])
    before = ids_by_source(lib)

    bad = {
        "empty.md": b"",
        "binary.txt": b"\x00\x01\x02PK\x03\x04" * 20,
        "latin1.txt": "Caf\xe9 au lait: a note in Latin-1.".encode("latin-1"),
        "truncated.xml": TRUNCATED_XML.encode(),
        "bad-front.md": BAD_FRONT_MATTER.encode(),
        # a file that was good and is now corrupted: its stored sources must stay
        "b.jsonl": b'{"id": "1", "title": "cut off", "text": ["half a rec',
    }
    for name, data in bad.items():
        (root / name).write_bytes(data)

    report = run(lib, [root], prune=True)
    skipped = {Path(s["path"]).name: s["reason"] for s in report.skipped}
    assert set(skipped) == set(bad)
    for name, reason in skipped.items():
        assert reason and "\n" not in reason, name
    assert "empty" in skipped["empty.md"]
    assert "binary" in skipped["binary.txt"]
    assert "UTF-8" in skipped["latin1.txt"]
    assert "front matter" in skipped["bad-front.md"]
    assert not report.removed and not report.added and not report.updated
    kept = sorted(files["a.jsonl"] + files["note.md"])
    assert sorted(report.unchanged) == kept
    assert ids_by_source(lib) == before  # b.jsonl's sources survive, even with --prune
    assert_consistent(lib)


def test_cli_ingest_json_sources_json_and_exit_codes(
    tmp_path: Path,
    rows: list[dict[str, Any]],
    embeddings: Any,
    capsys: pytest.CaptureFixture[str],
) -> None:
    root = tmp_path / "lib"
    files = write_library(root, rows[:4])
    data = tmp_path / "data"
    base = ["--data-dir", str(data), "--no-progress"]

    assert main(["ingest", str(root), *base, "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    for key in ("added", "updated", "unchanged", "removed", "skipped", "chunks_total"):
        assert key in summary, key
    assert sorted(summary["added"]) == sorted(sid for v in files.values() for sid in v)
    assert summary["chunks_total"] > 0 and summary["skipped"] == []
    assert summary["docs_per_s"] > 0 and summary["chunks_per_s"] > 0

    assert main(["sources", "--data-dir", str(data), "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert {r["source_id"] for r in listed} == set(summary["added"])
    for row in listed:
        assert set(row) >= {"source_id", "title", "year", "evidence_type", "chunks"}
        assert row["chunks"] > 0
    note = next(r for r in listed if r["source_id"] == "local-test-note")
    assert (note["year"], note["evidence_type"]) == (2020, "review")
    assert sum(r["chunks"] for r in listed) == summary["chunks_total"]

    assert main(["sources", "--data-dir", str(data)]) == 0
    text = capsys.readouterr().out
    assert "local-test-note" in text and f"{len(listed)} sources" in text

    # a skipped file: 0 normally, 1 with --strict
    (root / "empty.txt").write_bytes(b"")
    assert main(["ingest", str(root), *base, "--json"]) == 0
    again = json.loads(capsys.readouterr().out)
    assert again["added"] == [] and len(again["unchanged"]) == len(listed)
    assert [Path(s["path"]).name for s in again["skipped"]] == ["empty.txt"]
    assert main(["ingest", str(root), *base, "--strict"]) == 1
    out = capsys.readouterr().out
    assert "skipped" in out and "empty.txt" in out

    # nothing readable at all: 1, and the library is untouched
    only_bad = tmp_path / "bad"
    only_bad.mkdir()
    (only_bad / "x.md").write_bytes(b"\xff\xfe\x00")
    assert main(["ingest", str(only_bad), *base]) == 1
    capsys.readouterr()
    assert main(["ingest", str(tmp_path / "missing-dir"), *base]) == 1
    capsys.readouterr()
    assert main(["sources", "--data-dir", str(data), "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == listed
