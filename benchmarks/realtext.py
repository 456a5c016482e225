"""Real text for the scale benchmarks, chunked by the project, and a cache of its vectors.

The texts are the MedQuAD answers (one source per page, as the eval's real-text library makes
them) and the PubMedQA contexts of ``../shared/datasets`` (``ASSISTANT_SHARED_DIR``), in one
fixed interleaved order. Each source is chunked with the project's chunker; its chunk texts
(what ingest embeds) and its units (the sentences ``chunk_units`` reads) are embedded once
with the project's embedder and cached in ``<cache>/vectors/NNNNN.npz`` shards, keyed by the
sha1 of the text. Building the cache resumes where it stopped, so it can run in the background
and be read while it grows: ``cached_sources`` returns the sources whose every text is cached.

    nice -n 10 .venv/bin/python benchmarks/realtext.py [--cache .bench] [--minutes 60]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
import time
from collections import defaultdict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

from assistant.config import ChunkingSettings  # noqa: E402
from assistant.ingest.chunking import chunk_document, embedding_text  # noqa: E402
from assistant.ingest.units import chunk_units  # noqa: E402
from assistant.types import Chunk, SourceDoc  # noqa: E402

DIM = 384
SHARD_TEXTS = 2048
"""Texts embedded and written per shard (a shard is the unit of progress of the cache)."""


def shared_dir() -> Path:
    return Path(os.environ.get("ASSISTANT_SHARED_DIR", REPO.parent / "shared"))


def default_cache() -> Path:
    return Path(os.environ.get("ASSISTANT_BENCH_DIR", REPO / ".bench"))


def text_key(text: str) -> bytes:
    return hashlib.sha1(text.encode("utf-8")).digest()


@dataclass
class Prepared:
    """A source chunked as ingest chunks it, with the texts ingest embeds."""

    doc: SourceDoc
    chunks: list[Chunk]
    embed_texts: list[str]

    def texts(self) -> Iterator[str]:
        yield from self.embed_texts
        for chunk in self.chunks:
            yield from chunk_units(chunk)


def _read_jsonl(path: Path) -> list[dict[str, Any]]:
    if not path.is_file():
        raise SystemExit(
            f"data set not found: {path} (the scale benchmark reads MedQuAD and PubMedQA from "
            "../shared/datasets; set ASSISTANT_SHARED_DIR)"
        )
    with path.open(encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


def real_sources(shared: Path | None = None) -> list[SourceDoc]:
    """MedQuAD pages and PubMedQA abstracts, interleaved in a fixed order (so any prefix mixes
    the two kinds of text)."""
    from evals.datasets import medquad_page_doc, pubmedqa_doc

    base = (shared or shared_dir()) / "datasets"
    pages: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for row in _read_jsonl(base / "medquad" / "medquad.jsonl"):
        if str(row.get("answer") or "").strip():
            pages[str(row["url"])].append(row)
    medquad = [medquad_page_doc(rows) for _, rows in sorted(pages.items())]
    medquad = [d for d in medquad if d.sections]
    pubmed = [
        pubmedqa_doc(r, conclusion=True) for r in _read_jsonl(base / "pubmedqa" / "pqal.jsonl")
    ]
    out: list[SourceDoc] = []
    seen: set[str] = set()
    # one PubMedQA abstract after every few MedQuAD pages, in proportion to the two counts
    step = max(1, len(medquad) // max(1, len(pubmed)))
    pm = iter(pubmed)
    for i, doc in enumerate(medquad):
        out.append(doc)
        if i % step == step - 1:
            out.extend(d for d in [next(pm, None)] if d is not None)
    out.extend(pm)
    unique = []
    for doc in out:
        if doc.source_id not in seen:
            seen.add(doc.source_id)
            unique.append(doc)
    return unique


def real_questions(source_ids: Sequence[str], n: int, shared: Path | None = None) -> list[str]:
    """Up to ``n`` of the data sets' own questions about these sources, spread evenly over
    them (MedQuAD: every question type a page has; PubMedQA: the item's question)."""
    from evals.datasets import medquad_page_id

    base = (shared or shared_dir()) / "datasets"
    wanted = set(source_ids)
    by_source: dict[str, list[str]] = defaultdict(list)
    for row in _read_jsonl(base / "medquad" / "medquad.jsonl"):
        sid = medquad_page_id(str(row["url"]))
        if sid in wanted and str(row.get("answer") or "").strip():
            by_source[sid].append(str(row["question"]))
    for row in _read_jsonl(base / "pubmedqa" / "pqal.jsonl"):
        if str(row["pmid"]) in wanted:
            by_source[str(row["pmid"])].append(str(row["question"]))
    ordered = [sid for sid in source_ids if sid in by_source]
    out: list[str] = []
    round_no = 0
    while len(out) < n and ordered:
        step = max(1, len(ordered) // n)
        for sid in ordered[::step]:
            questions = by_source[sid]
            if round_no < len(questions) and questions[round_no] not in out:
                out.append(questions[round_no])
                if len(out) == n:
                    break
        round_no += 1
        if round_no > max(len(q) for q in by_source.values()):
            break
    return out


def prepare(docs: Sequence[SourceDoc], settings: ChunkingSettings | None = None) -> list[Prepared]:
    settings = settings or ChunkingSettings()
    out = []
    for doc in docs:
        chunks = chunk_document(doc, settings)
        if chunks:
            out.append(Prepared(doc, chunks, [embedding_text(c, doc.title) for c in chunks]))
    return out


def _key(stored: Any) -> bytes:
    """A digest read back from an ``S20`` array: numpy drops trailing NUL bytes, put them back."""
    return bytes(stored).ljust(20, b"\0")


class VectorCache:
    """text sha1 -> float16 vector, in append-only npz shards under ``<root>/vectors``."""

    def __init__(self, root: Path) -> None:
        self.dir = root / "vectors"
        self.vectors: dict[bytes, np.ndarray] = {}
        self._shards = 0
        if self.dir.is_dir():
            for path in sorted(self.dir.glob("*.npz")):
                with np.load(path) as data:
                    keys, vecs = data["keys"], data["vectors"]
                for key, vec in zip(keys, vecs, strict=True):
                    self.vectors[_key(key)] = vec
                self._shards += 1

    def __len__(self) -> int:
        return len(self.vectors)

    def get(self, text: str) -> np.ndarray | None:
        return self.vectors.get(text_key(text))

    def has_all(self, item: Prepared) -> bool:
        return all(text_key(t) in self.vectors for t in item.texts())

    def add(self, texts: Sequence[str], vectors: Sequence[Sequence[float]]) -> None:
        """Write one shard (atomically: a temporary file renamed into place)."""
        self.dir.mkdir(parents=True, exist_ok=True)
        keys = np.array([text_key(t) for t in texts], dtype="S20")
        vecs = np.asarray(vectors, dtype=np.float16)
        target = self.dir / f"{self._shards:05d}.npz"
        tmp = target.with_suffix(".tmp.npz")
        np.savez(tmp, keys=keys, vectors=vecs)
        os.replace(tmp, target)
        self._shards += 1
        for key, vec in zip(keys, vecs, strict=True):
            self.vectors[_key(key)] = vec


def cached_sources(items: Sequence[Prepared], cache: VectorCache) -> list[Prepared]:
    """The leading run of sources whose chunk and unit texts are all cached."""
    out = []
    for item in items:
        if not cache.has_all(item):
            break
        out.append(item)
    return out


def build_cache(root: Path, minutes: float, max_chunks: int | None, log: Any = print) -> int:
    """Embed the texts of the real sources not cached yet, in order, for at most ``minutes``
    (or until ``max_chunks`` chunks are covered); the number of texts embedded now."""
    from assistant.config import EmbeddingSettings
    from assistant.models import get_embeddings

    items = prepare(real_sources())
    cache = VectorCache(root)
    embedder = get_embeddings(EmbeddingSettings())
    deadline = time.monotonic() + minutes * 60
    pending: dict[str, None] = {}
    covered = embedded = 0
    started = time.perf_counter()

    def flush() -> None:
        nonlocal embedded
        texts = list(pending)
        cache.add(texts, embedder.embed_documents(texts))
        embedded += len(texts)
        pending.clear()
        rate = embedded / (time.perf_counter() - started)
        log(f"cache: {len(cache)} texts, {covered} chunks covered ({rate:.1f} texts/s)")

    for item in items:
        if time.monotonic() > deadline or (max_chunks and covered >= max_chunks):
            break
        for text in item.texts():
            if text_key(text) not in cache.vectors:
                pending[text] = None
        covered += len(item.chunks)
        if len(pending) >= SHARD_TEXTS:
            flush()
    if pending:
        flush()
    return embedded


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cache", type=Path, default=None, help="cache root (default .bench)")
    parser.add_argument("--minutes", type=float, default=60.0, help="stop after this long")
    parser.add_argument("--max-chunks", type=int, default=None, help="stop once this many chunks")
    parser.add_argument("--count", action="store_true", help="only count sources, chunks, units")
    args = parser.parse_args(argv)
    if args.minutes <= 0:
        parser.error("--minutes must be positive")
    root = args.cache or default_cache()
    if args.count:
        items = prepare(real_sources())
        cache = VectorCache(root)
        ready = cached_sources(items, cache)
        units = {u for i in items for c in i.chunks for u in chunk_units(c)}
        print(
            f"{len(items)} sources, {sum(len(i.chunks) for i in items)} chunks, "
            f"{len(units)} distinct units; cached: {len(cache)} texts, {len(ready)} sources "
            f"({sum(len(i.chunks) for i in ready)} chunks) ready"
        )
        return 0
    build_cache(root, args.minutes, args.max_chunks, log=lambda m: print(m, flush=True))
    return 0


if __name__ == "__main__":
    sys.exit(main())
