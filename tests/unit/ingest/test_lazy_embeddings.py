"""The embedder is loaded on the first embed call only: opening the store, reconciling it and
re-ingesting an unchanged library never load it (fake embedders here, no torch)."""

from __future__ import annotations

from pathlib import Path

import pytest
from langchain_core.embeddings import DeterministicFakeEmbedding, Embeddings

import assistant.models as models
from assistant.config import EmbeddingSettings, Settings
from assistant.ingest.pipeline import ingest
from assistant.ingest.store import Library
from assistant.models import LazyEmbeddings

NOTE = """\
---
source_id: lazy-note
title: "A made-up note for the lazy embedder test"
evidence_type: review
---

## Body

This fictional note has two short sentences. Nothing in it comes from a real article.
"""


class Counting(Embeddings):
    """A fake embedder that counts its calls."""

    def __init__(self) -> None:
        self.inner = DeterministicFakeEmbedding(size=16)
        self.calls = 0

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        self.calls += 1
        return self.inner.embed_documents(texts)

    def embed_query(self, text: str) -> list[float]:
        self.calls += 1
        return self.inner.embed_query(text)


@pytest.fixture
def loads(monkeypatch: pytest.MonkeyPatch) -> list[Counting]:
    """Every call of ``get_embeddings`` (a model load) is recorded."""
    made: list[Counting] = []

    def fake(settings: EmbeddingSettings) -> Embeddings:
        made.append(Counting())
        return made[-1]

    monkeypatch.setattr(models, "get_embeddings", fake)
    return made


def test_lazy_wrapper_loads_once_on_first_embed(
    loads: list[Counting], monkeypatch: pytest.MonkeyPatch
) -> None:
    # a model the numpy query encoder cannot read: questions go to the full model too
    monkeypatch.setattr(LazyEmbeddings, "query_encoder", lambda self: None)
    lazy = LazyEmbeddings(EmbeddingSettings())
    assert not lazy.loaded and loads == []
    first = lazy.embed_query("a question")
    assert lazy.loaded and len(loads) == 1
    assert lazy.embed_documents(["one", "two"])[0] == loads[0].inner.embed_query("one")
    assert first == loads[0].inner.embed_query("a question")
    assert len(loads) == 1 and loads[0].calls == 2


def test_opening_and_reconciling_do_not_load(tmp_path: Path, loads: list[Counting]) -> None:
    lib = Library(Settings(data_dir=tmp_path / "data"))
    try:
        assert isinstance(lib.embeddings, LazyEmbeddings)
        assert lib.dense.count() == 0
        result = lib.reconcile()
        assert (result.orphans_deleted, result.sources_marked_dirty) == (0, 0)
        assert lib.dense.all_ids() == set()
        assert loads == []
    finally:
        lib.close()


def test_unchanged_reingest_does_not_load(tmp_path: Path, loads: list[Counting]) -> None:
    root = tmp_path / "lib"
    root.mkdir()
    (root / "note.md").write_text(NOTE, encoding="utf-8")
    settings = Settings(data_dir=tmp_path / "data")

    first = ingest([root], settings, progress=False)
    assert first.added == ["lazy-note"] and first.chunks_written > 0
    assert len(loads) == 1  # a fresh Library per call: the model is needed once here

    second = ingest([root], settings, progress=False)
    assert second.unchanged == ["lazy-note"] and second.chunks_written == 0
    assert len(loads) == 1  # ...and not at all for an unchanged re-ingest


def test_given_embedder_is_used_as_is(tmp_path: Path, loads: list[Counting]) -> None:
    mine = Counting()
    lib = Library(Settings(data_dir=tmp_path / "data"), embeddings=mine)
    try:
        assert lib.embeddings is mine
        _ = lib.dense
        assert mine.calls == 0 and loads == []
    finally:
        lib.close()


def test_questions_do_not_load_the_model(loads: list[Counting]) -> None:
    """The bundled model's questions are embedded by the numpy encoder: no torch, no load."""
    lazy = LazyEmbeddings(EmbeddingSettings())
    vector = lazy.embed_query("How is the drug given to children?")
    assert len(vector) == 384 and abs(sum(x * x for x in vector) - 1.0) < 1e-4
    assert loads == [] and not lazy.loaded
