"""Ingest progress counts chunks: a large source moves the bar while it is being embedded."""

from __future__ import annotations

from pathlib import Path

import pytest
from langchain_core.embeddings import DeterministicFakeEmbedding

from assistant.config import Settings
from assistant.ingest import store
from assistant.ingest.pipeline import ingest
from assistant.ingest.store import Library


def big_note(n: int) -> str:
    """A fictional note of ``n`` sentences (placeholder text)."""
    body = " ".join(f"Placeholder sentence number {i} says nothing at all." for i in range(n))
    return f"---\nsource_id: big-note\ntitle: A big fictional note\n---\n\n## Body\n\n{body}\n"


def test_progress_counts_every_chunk_in_slices(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(store, "EMBED_SLICE", 50)
    root = tmp_path / "lib"
    root.mkdir()
    (root / "big.md").write_text(big_note(400), encoding="utf-8")
    settings = Settings(data_dir=tmp_path / "data")
    library = Library(settings, embeddings=DeterministicFakeEmbedding(size=16))
    steps: list[int] = []
    write = library.write_batch

    def spy(items, progress=None):  # type: ignore[no-untyped-def]
        def record(n: int) -> None:
            steps.append(n)
            if progress is not None:
                progress(n)

        write(items, progress=record)

    monkeypatch.setattr(library, "write_batch", spy)
    try:
        report = ingest([root], settings, library=library, progress=True)
    finally:
        library.close()
    assert report.chunks_written > 10
    assert len(steps) > 3  # one source, yet the bar moved several times
    assert sum(steps) == report.chunks_written
    err = capsys.readouterr().err
    assert f"{report.chunks_written}/{report.chunks_written}" in err and "chunk" in err
    assert "1/1 docs" in err
