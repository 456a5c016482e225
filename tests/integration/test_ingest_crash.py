"""Crash safety: `kill -9` mid-ingest, then a re-run, leaves one consistent library.

Also deterministic checks of ``Library.reconcile()``: orphan vectors, missing vectors, a write
interrupted between Chroma and the manifest, and a lost or stale lexical index.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from assistant.config import Settings, load_settings
from assistant.ingest.chunking import chunk_document
from assistant.ingest.lexical import LexicalIndex
from assistant.ingest.loaders import load_file
from assistant.ingest.manifest import DIRTY
from assistant.ingest.pipeline import ingest
from assistant.ingest.store import Library
from tests.conftest import write_pubmedqa_jsonl

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]
N_DOCS = 80
FILES = 8


def dev_rows(rows: list[dict[str, Any]], n: int, skip: int = 0) -> list[dict[str, Any]]:
    return [r for r in rows if r.get("split") == "dev"][skip : skip + n]


def write_files(root: Path, rows: list[dict[str, Any]], n_files: int) -> list[Path]:
    root.mkdir(parents=True, exist_ok=True)
    size = -(-len(rows) // n_files)
    return [
        write_pubmedqa_jsonl(rows[i : i + size], root / f"part-{i // size:02d}.jsonl")
        for i in range(0, len(rows), size)
    ]


def expected_chunks(root: Path, settings: Settings) -> dict[str, set[str]]:
    """What a complete ingest of ``root`` stores: chunk ids per source."""
    out: dict[str, set[str]] = {}
    for path in sorted(root.glob("*.jsonl")):
        for doc in load_file(path, settings.ingest):
            out[doc.source_id] = {c.chunk_id for c in chunk_document(doc, settings.chunking)}
    return out


def assert_consistent(lib: Library) -> set[str]:
    """Chroma ids == manifest ids == lexical ids, with no duplicate anywhere."""
    manifest_ids = lib.manifest.chunk_ids()
    dense = list(lib.dense.store.get(include=[])["ids"])
    assert len(dense) == len(set(dense)) == lib.dense.count()
    lexical = LexicalIndex.load(lib.lexical_dir)
    assert lexical is not None and len(lexical.ids) == len(set(lexical.ids))
    assert lexical.generation == lib.manifest.revision()
    assert set(dense) == manifest_ids == set(lexical.ids)
    return manifest_ids


def assert_complete(lib: Library, expected: dict[str, set[str]]) -> None:
    """Every source exactly once, with exactly its chunks, and nothing dirty."""
    rows = lib.sources()
    assert [r.ref.source_id for r in rows] == sorted(expected)
    hashes = lib.manifest.hashes()
    for row in rows:
        sid = row.ref.source_id
        assert hashes[sid] != DIRTY, sid
        assert lib.manifest.chunk_ids(sid) == expected[sid], sid
        assert row.n_chunks == len(expected[sid])
    assert assert_consistent(lib) == set().union(*expected.values())


def committed_chunks(manifest: Path) -> int:
    """Chunks committed so far, read through a read-only connection (never blocks the writer)."""
    if not manifest.exists():
        return 0
    try:
        db = sqlite3.connect(f"file:{manifest}?mode=ro", uri=True, timeout=0.2)
        try:
            return int(db.execute("SELECT COUNT(*) FROM chunks").fetchone()[0])
        finally:
            db.close()
    except sqlite3.Error:
        return 0


CHILD_BATCH = 32


def cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "assistant", *args]


def child_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ASSISTANT_")}
    env["PYTHONPATH"] = str(REPO)
    env["HF_HUB_OFFLINE"] = "1"
    env["ANONYMIZED_TELEMETRY"] = "False"
    # small commit units, so a kill lands between commits with several batches still to come
    env["ASSISTANT_INGEST__BATCH_CHUNKS"] = str(CHILD_BATCH)
    return env


# --------------------------------------------------------------------------- kill -9


def test_kill_9_mid_ingest_then_rerun(tmp_path: Path, pubmedqa_rows: list[dict[str, Any]]) -> None:
    root = tmp_path / "lib"
    data = tmp_path / "data"
    write_files(root, dev_rows(pubmedqa_rows, N_DOCS), FILES)
    settings = load_settings(data_dir=data)
    expected = expected_chunks(root, settings)
    total = sum(len(v) for v in expected.values())
    assert len(expected) == N_DOCS and total > 2 * CHILD_BATCH
    manifest = data / "index" / settings.index_name() / "manifest.sqlite"

    args = cli("ingest", str(root), "--data-dir", str(data), "--no-progress", "--json")
    proc = subprocess.Popen(
        args, env=child_env(), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
    )
    try:
        deadline = time.monotonic() + 240
        first_seen: float | None = None
        while time.monotonic() < deadline and proc.poll() is None:
            n = committed_chunks(manifest)
            if 0 < n < total and first_seen is None:
                first_seen = time.monotonic()
            # kill a little after the first commit: mid-way through embedding a later batch
            if first_seen is not None and time.monotonic() - first_seen > 0.7:
                break
            time.sleep(0.05)
        assert proc.poll() is None, "ingest ended before it could be killed"
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == -signal.SIGKILL
    partial = committed_chunks(manifest)
    assert 0 < partial < total, (partial, total)

    second = subprocess.run(args, env=child_env(), capture_output=True, text=True, timeout=400)
    assert second.returncode == 0, second.stderr
    report = json.loads(second.stdout)
    assert report["skipped"] == []
    assert len(report["added"]) + len(report["updated"]) + len(report["unchanged"]) == N_DOCS
    assert report["unchanged"], "the committed part of the first run was redone"
    assert report["chunks_total"] == total

    third = subprocess.run(args, env=child_env(), capture_output=True, text=True, timeout=300)
    assert third.returncode == 0, third.stderr
    again = json.loads(third.stdout)
    assert len(again["unchanged"]) == N_DOCS
    assert again["added"] == again["updated"] == again["removed"] == []
    assert again["chunks_written"] == 0
    assert again["recovered_orphans"] == again["recovered_sources"] == 0

    lib = Library(settings)
    try:
        assert_complete(lib, expected)
    finally:
        lib.close()


# --------------------------------------------------------------------------- reconcile


@pytest.fixture
def small_library(
    tmp_path: Path,
    pubmedqa_rows: list[dict[str, Any]],
    make_settings: Callable[..., Settings],
    embeddings: Any,
) -> Iterator[tuple[Library, Path, dict[str, set[str]]]]:
    root = tmp_path / "lib"
    write_files(root, dev_rows(pubmedqa_rows, 4, skip=100), 2)
    settings = make_settings(ingest={"batch_chunks": 4})
    lib = Library(settings, embeddings=embeddings)
    report = ingest([root], settings, library=lib, progress=False)
    assert len(report.added) == 4
    yield lib, root, expected_chunks(root, settings)
    lib.close()


def test_reconcile_removes_orphans_and_redoes_sources_missing_vectors(
    small_library: tuple[Library, Path, dict[str, set[str]]],
) -> None:
    lib, root, expected = small_library
    victim = sorted(expected)[1]
    lost = sorted(expected[victim])[:1]
    lib.dense.store.add_texts(
        ["an orphan vector", "another orphan vector"], ids=["orphan-1", "orphan-2"]
    )
    lib.dense.delete(lost)
    assert {"orphan-1", "orphan-2"} <= lib.dense.all_ids()

    result = lib.reconcile()
    assert result.orphans_deleted == 2
    assert result.sources_marked_dirty == 1
    assert not {"orphan-1", "orphan-2"} & lib.dense.all_ids()
    assert lib.manifest.hashes()[victim] == DIRTY
    assert lib.manifest.chunk_ids(victim) == expected[victim]  # manifest itself untouched

    report = ingest([root], lib.settings, library=lib, progress=False)
    assert report.updated == [victim]
    assert sorted(report.unchanged) == sorted(set(expected) - {victim})
    assert report.recovered_sources == 1
    assert_complete(lib, expected)


def test_write_interrupted_between_chroma_and_manifest(
    small_library: tuple[Library, Path, dict[str, set[str]]],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    pubmedqa_rows: list[dict[str, Any]],
) -> None:
    """Vectors written, manifest commit never happens (the process 'dies' right there)."""
    lib, root, expected = small_library
    write_files(root / "more", dev_rows(pubmedqa_rows, 3, skip=200), 1)
    full = expected_chunks(root, lib.settings) | expected_chunks(root / "more", lib.settings)

    def die(*_: object, **__: object) -> None:
        raise KeyboardInterrupt("simulated crash after the Chroma write")

    monkeypatch.setattr(lib.manifest, "replace_sources", die)
    with pytest.raises(KeyboardInterrupt):
        ingest([root], lib.settings, library=lib, progress=False)
    monkeypatch.undo()
    orphans = lib.dense.all_ids() - lib.manifest.chunk_ids()
    assert orphans  # the first batch of the new sources reached Chroma only
    assert lib.manifest.chunk_ids() == set().union(*expected.values())

    report = ingest([root], lib.settings, library=lib, progress=False)
    assert report.recovered_orphans == len(orphans)
    assert sorted(report.added) == sorted(set(full) - set(expected))
    assert_complete(lib, full)


def test_lost_or_stale_lexical_index_is_rebuilt(
    small_library: tuple[Library, Path, dict[str, set[str]]],
) -> None:
    lib, root, expected = small_library
    ids = set().union(*expected.values())

    # the lexical files vanish (a crash between the two renames of the atomic swap)
    for path in sorted(lib.lexical_dir.iterdir()):
        path.unlink()
    lib.lexical_dir.rmdir()
    assert lib.reconcile().lexical_rebuilt
    assert set(LexicalIndex.load(lib.lexical_dir).ids) == ids  # type: ignore[union-attr]

    # the manifest moved on but the lexical index was not saved (crash before finish())
    lib.manifest.set_meta("revision", "from-a-run-that-died")
    assert lib.reconcile().lexical_rebuilt
    assert not lib.reconcile().lexical_rebuilt  # and once is enough

    # a corrupt ids file is treated as missing
    (lib.lexical_dir / "ids.json").write_text("{not json")
    lib._lexical = None
    assert set(lib.lexical.ids) == ids
    report = ingest([root], lib.settings, library=lib, progress=False)
    assert report.chunks_written == 0
    assert_complete(lib, expected)
