"""Clumsy-operator faults during ingest: another working directory, symlink loops, unreadable
folders, read-only and full data directories. Each leaves the stored library intact."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from assistant.ask.chain import AskChain
from assistant.config import Settings
from assistant.ingest.pipeline import ingest
from assistant.ingest.store import Library
from tests.reliability.conftest import (
    REPO,
    cli_env,
    fill_up,
    remount,
    run_cli,
    small_filesystem,
    without_privileges,
    write_doc,
)

pytestmark = pytest.mark.slow

QUESTION = "Does wombat fever settle with rest?"


def _lib_docs(root: Path) -> None:
    write_doc(root / "lib" / "a.md", "rel-a", "Wombat fever A", "Wombat fever settled with rest.")
    write_doc(root / "lib" / "b.md", "rel-b", "Wombat fever B", "Wombat fever recurred in winter.")
    write_doc(root / "extra" / "c.md", "rel-c", "Quoll cough C", "Quoll cough eased with honey.")
    write_doc(root / "extra" / "d.md", "rel-d", "Quoll cough D", "Quoll cough spread in burrows.")


def test_prune_from_another_working_directory_keeps_existing_files(
    tmp_path: Path, embeddings: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Paths were stored relative to the cwd: `ingest . --prune` run from lib/ resolved
    extra/c.md as lib/extra/c.md, inside the pruned folder and missing, and deleted it."""
    work = tmp_path / "work"
    _lib_docs(work)
    settings = Settings(data_dir=tmp_path / "data")
    lib = Library(settings, embeddings=embeddings)
    monkeypatch.chdir(work)
    first = ingest([Path("lib"), Path("extra")], settings, library=lib, progress=False)
    assert sorted(first.added) == ["rel-a", "rel-b", "rel-c", "rel-d"]
    assert all(Path(r.path or "").is_absolute() for r in lib.sources())

    monkeypatch.chdir(work / "lib")
    (work / "lib" / "b.md").unlink()  # really gone: the one source prune should remove
    report = ingest([Path(".")], settings, library=lib, prune=True, progress=False)
    assert report.removed == ["rel-b"]
    assert {r.ref.source_id for r in lib.sources()} == {"rel-a", "rel-c", "rel-d"}
    lib.close()


def test_prune_leaves_sources_stored_with_relative_paths(
    tmp_path: Path, embeddings: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A manifest written by an older version holds relative paths: prune cannot tell where
    they point, so it keeps them (and says so) instead of guessing from today's cwd."""
    work = tmp_path / "work"
    _lib_docs(work)
    settings = Settings(data_dir=tmp_path / "data")
    lib = Library(settings, embeddings=embeddings)
    monkeypatch.chdir(work)
    ingest([Path("lib"), Path("extra")], settings, library=lib, progress=False)
    with lib.manifest._transaction() as db:  # what an older version stored
        db.execute("UPDATE sources SET path = 'extra/' || substr(source_id, 5) || '.md'")
    monkeypatch.chdir(work / "lib")
    report = ingest([Path(".")], settings, library=lib, prune=True, progress=False)
    assert report.removed == []
    assert {r.ref.source_id for r in lib.sources()} == {"rel-a", "rel-b", "rel-c", "rel-d"}
    lib.close()


def test_a_symlink_loop_is_skipped_with_a_reason(tmp_path: Path, embeddings: Any) -> None:
    root = tmp_path / "lib"
    write_doc(root / "good.md", "loop-good", "Good file", "Wombat fever settled with rest.")
    (root / "loop-1.md").symlink_to(root / "loop-2.md")
    (root / "loop-2.md").symlink_to(root / "loop-1.md")
    (root / "self").symlink_to(root, target_is_directory=True)  # a folder that contains itself
    settings = Settings(data_dir=tmp_path / "data")
    lib = Library(settings, embeddings=embeddings)
    report = ingest([root], settings, library=lib, progress=False)
    assert report.added == ["loop-good"]
    reasons = {Path(s["path"]).name: s["reason"] for s in report.skipped}
    assert "symbolic link loop" in reasons["loop-1.md"]
    assert "symbolic link loop" in reasons["loop-2.md"]
    assert "not followed" in reasons["self"]
    lib.close()


def _discover_unprivileged(root: Path) -> dict[str, Any]:
    code = (
        "import json, sys; from pathlib import Path; "
        "from assistant.ingest.loaders import discover_files; "
        "files, skipped = discover_files([Path(sys.argv[1])]); "
        "print(json.dumps({'files': [str(f) for f in files], "
        "'skipped': {s.path: s.reason for s in skipped}}))"
    )
    done = subprocess.run(
        [*without_privileges(), sys.executable, "-c", code, str(root)],
        env=cli_env(),
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    return dict(json.loads(done.stdout))


def test_an_unreadable_folder_is_skipped_with_a_reason(tmp_path: Path) -> None:
    """Permissions are real: as root the listing runs without the capabilities that let root
    read every folder."""
    root = tmp_path / "lib"
    write_doc(root / "good.md", "perm-good", "Good file", "Wombat fever settled with rest.")
    write_doc(root / "private" / "hidden.md", "perm-hidden", "Hidden", "Quoll cough eased.")
    (root / "private").chmod(0o000)
    found = _discover_unprivileged(root)
    assert found["files"] == [str(root / "good.md")]
    assert "cannot read folder" in found["skipped"][str(root / "private")]
    assert "ermission denied" in found["skipped"][str(root / "private")]


# -- read-only and full data directories ------------------------------------------------------


def _build(data: Path, docs: Path, embeddings: Any) -> Settings:
    write_doc(docs / "a.md", "ro-a", "Wombat fever A", "Wombat fever settled with rest in 9 of 10.")
    write_doc(docs / "b.md", "ro-b", "Quoll cough B", "Quoll cough eased with honey in 4 of 5.")
    settings = Settings(data_dir=data)
    lib = Library(settings, embeddings=embeddings)
    assert len(ingest([docs], settings, library=lib, progress=False).added) == 2
    lib.close()
    return settings


def _answers(settings: Settings, embeddings: Any) -> list[str]:
    chain = AskChain(settings, Library(settings, embeddings=embeddings))
    try:
        return chain.ask(QUESTION).cited_source_ids()
    finally:
        chain.library.close()


def _one_line_error(done: subprocess.CompletedProcess[str], *words: str) -> str:
    assert done.returncode == 1, (done.returncode, done.stderr[-2000:])
    assert "Traceback" not in done.stderr, done.stderr[-2000:]
    first = done.stderr.strip().splitlines()[0]
    assert first.startswith("error: "), done.stderr
    for word in words:
        assert word in first, first
    return first


def test_a_read_only_data_dir_still_answers_and_ingest_says_why(
    tmp_path: Path, embeddings: Any
) -> None:
    with small_filesystem(32) as fs:
        data = fs / "data"
        settings = _build(data, tmp_path / "docs", embeddings)
        before = sorted(p.name for p in data.rglob("*"))
        remount(fs, "ro")
        assert _answers(settings, embeddings) == ["ro-a"]
        write_doc(tmp_path / "new" / "c.md", "ro-c", "New", "Numbat itch faded by itself.")
        done = run_cli("ingest", str(tmp_path / "new"), "--data-dir", str(data), "--no-progress")
        _one_line_error(done, "read-only", str(data))
        remount(fs, "rw")
        assert sorted(p.name for p in data.rglob("*")) == before


def test_a_full_data_dir_fails_with_one_line_and_keeps_the_index(
    tmp_path: Path, embeddings: Any
) -> None:
    with small_filesystem(24) as fs:
        data = fs / "data"
        settings = _build(data, tmp_path / "docs", embeddings)
        filler = fill_up(fs)
        new = tmp_path / "new"
        for i in range(30):  # more than the last free bytes can take
            write_doc(
                new / f"n{i}.md",
                f"full-{i}",
                f"Numbat itch {i}",
                *[f"Line {j}." for j in range(60)],
            )
        done = run_cli("ingest", str(new), "--data-dir", str(data), "--no-progress")
        _one_line_error(done, "full", str(data))
        assert _answers(settings, embeddings) == ["ro-a"]
        filler.unlink()
        lib = Library(settings, embeddings=embeddings)
        report = ingest([tmp_path / "docs", new], settings, library=lib, progress=False)
        assert len(report.added) == 30 and sorted(report.unchanged) == ["ro-a", "ro-b"]
        lib.close()


def test_an_interrupted_full_disk_ingest_keeps_every_stored_source(
    tmp_path: Path, embeddings: Any
) -> None:
    """The disk fills up in the middle of an ingest (a few hundred KB left): one error, the
    sources stored before still answer, and the re-run after freeing space completes."""
    from assistant.ingest.datadir import DataDirError

    with small_filesystem(24) as fs:
        data = fs / "data"
        settings = _build(data, tmp_path / "docs", embeddings)
        filler = fill_up(fs)
        os.truncate(filler, max(0, filler.stat().st_size - 150_000))
        new = tmp_path / "new"
        for i in range(24):
            write_doc(
                new / f"n{i}.md", f"mid-{i}", f"Numbat itch {i}", *[f"Line {j}." for j in range(80)]
            )
        lib = Library(settings, embeddings=embeddings)
        with pytest.raises(DataDirError, match="full"):
            ingest([new], settings, library=lib, progress=False)
        lib.close()
        assert _answers(settings, embeddings) == ["ro-a"]
        filler.unlink()
        lib = Library(settings, embeddings=embeddings)
        report = ingest([tmp_path / "docs", new], settings, library=lib, progress=False)
        assert len(report.added) + len(report.unchanged) == 26
        ids = lib.manifest.chunk_ids()
        assert ids == lib.dense.all_ids()
        lib.close()
