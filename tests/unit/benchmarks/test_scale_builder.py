"""The scale-library builder on a tiny size (fictional text, random cached vectors, real
Chroma in a tmp dir), and filtered dense search on it: over-fetching and post-filtering gives
what Chroma's own metadata filter gives."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from assistant.ask import filtered
from assistant.ask.retrieve import Filters, HybridRetriever
from assistant.ingest.store import Library
from assistant.types import GUIDANCE_TYPES, DocSection, SourceDoc

BENCH = Path(__file__).resolve().parents[3] / "benchmarks"
sys.path.insert(0, str(BENCH))

import realtext  # noqa: E402
import scale  # noqa: E402

WORDS = "alpha beta gamma delta epsilon zeta eta theta iota kappa lambda sigma".split()


def fictional_doc(i: int) -> SourceDoc:
    """A made-up source: numbered sentences of placeholder words (no real article text)."""
    rng = np.random.default_rng(i)
    sentences = [
        f"Finding {j} of note {i} links {' '.join(rng.choice(WORDS, 8))} in this cohort."
        for j in range(14)
    ]
    return SourceDoc(
        source_id=f"note-{i}",
        title=f"Fictional note {i}",
        evidence_type="other",
        year=2010,
        sections=[
            DocSection(heading="Results", text=" ".join(sentences[:7])),
            DocSection(heading="Conclusions", text=" ".join(sentences[7:])),
        ],
    )


def test_cache_keeps_digests_that_end_in_nul(tmp_path: Path) -> None:
    """numpy's S20 drops a digest's trailing NUL bytes; the cache must still find the text."""
    text = next(t for t in (f"text {i}" for i in range(10_000)) if realtext.text_key(t)[-1] == 0)
    realtext.VectorCache(tmp_path).add([text], [[1.0] + [0.0] * (realtext.DIM - 1)])
    again = realtext.VectorCache(tmp_path)
    assert again.get(text) is not None and len(again) == 1


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Any:
    root = tmp_path_factory.mktemp("bench")
    items = realtext.prepare([fictional_doc(i) for i in range(4)])
    cache = realtext.VectorCache(root)
    texts = list(dict.fromkeys(t for item in items for t in item.texts()))
    rng = np.random.default_rng(0)
    vectors = rng.normal(size=(len(texts), realtext.DIM))
    cache.add(texts, vectors / np.linalg.norm(vectors, axis=1, keepdims=True))
    again = realtext.VectorCache(root)  # read back from the shard on disk
    assert len(again) == len(texts)
    base = realtext.cached_sources(items, again)
    assert len(base) == len(items)
    data_dir = root / "lib"
    info = scale.build(data_dir, 240, base, again, log=lambda m: None)
    library = Library(scale.settings_for(data_dir))
    yield info, library, items
    library.close()


def test_builds_the_size_with_distinct_variants(built: Any) -> None:
    info, library, items = built
    chunks = library.manifest.count_chunks()
    assert 240 <= chunks < 240 + max(len(i.chunks) for i in items)
    assert info["variant_sources"] > 0 and info["chunks"] == chunks
    assert library.dense.count() == chunks and len(library.lexical) == chunks
    sources = library.manifest.sources()
    assert {r.ref.source_id for r in sources} >= {f"note-{i}~1" for i in range(4)}
    kinds = {r.ref.evidence_type for r in sources}
    assert kinds & GUIDANCE_TYPES and "rct" in kinds
    original = library.manifest.chunks_of("note-0")[0]
    variant = library.manifest.chunks_of("note-0~1")[0]
    assert variant.text != original.text and variant.chunk_id != original.chunk_id
    units = library.manifest.units([variant.chunk_id])[variant.chunk_id]
    assert len(units) == len(variant.text.split("\n"))
    assert all(v.shape == (realtext.DIM,) for _, v in units)
    by_source = library.manifest.chunk_ids_by_source()
    assert sum(len(v) for v in by_source.values()) == chunks


@pytest.mark.parametrize("overfetch_max", [400, 0])
def test_filtered_dense_search_equals_chromas_filter(
    built: Any, monkeypatch: pytest.MonkeyPatch, overfetch_max: int
) -> None:
    """Over-fetched and post-filtered (400), or exact within the set's own vectors (0): the
    same ids in the same order as Chroma's metadata filter, which is never called."""
    _, library, _ = built
    monkeypatch.setattr(filtered, "OVERFETCH_MAX", overfetch_max)
    monkeypatch.setattr(filtered, "OVERFETCH_WIDE", overfetch_max)
    retriever = HybridRetriever(library, scale.settings_for(Path("unused")).retrieval)
    chroma_filtered: list[Any] = []
    search = library.dense.search

    def spy(vector: list[float], k: int, where: Any = None) -> list[tuple[str, float]]:
        if where is not None:
            chroma_filtered.append(where)
        return search(vector, k, where)

    monkeypatch.setattr(library.dense, "search", spy)
    rng = np.random.default_rng(1)
    filters = [
        Filters(tuple(sorted(GUIDANCE_TYPES))),
        Filters(("rct", "review", "other")),
        Filters((), 1995, 2015),
        Filters(("policy",), 2030, 2031),  # nothing passes
    ]
    for _ in range(5):
        vector = rng.normal(size=realtext.DIM)
        vector = list(vector / np.linalg.norm(vector))
        for f in filters:
            mine = retriever.dense_search(vector, 8, f)
            assert chroma_filtered == []
            theirs = search(vector, 8, f.where())
            assert [c for c, _ in mine] == [c for c, _ in theirs], f
            assert all(abs(a[1] - b[1]) < 1e-4 for a, b in zip(mine, theirs, strict=True))
        retriever.retrieve("finding links alpha", vector=vector)
        assert chroma_filtered == []
