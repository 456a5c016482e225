"""Scale libraries (~1k, ~10k, ~100k chunks) built from cached vectors of real text.

A library of N chunks takes the cached real sources (``benchmarks/realtext.py``) in order until
N chunks are reached. When the cache holds fewer than N chunks, it goes round again making
*variants*: variant r of a source has the id ``<source_id>~r`` and in every chunk of more
than one unit it drops unit ``(r - 1) mod n`` (so its text, chunk id and BM25 statistics differ
from the original's). Its chunk and unit vectors are the
cached vectors of the original plus Gaussian noise (sigma ``NOISE`` per dimension, about 0.1 in
norm next to 1), renormalised; nothing is embedded. The variants measure speed at scale, not
answer quality: a question's best answer may now be a near-duplicate of it. Every source,
original or variant, takes its evidence type and year from a fixed cycle (3 types in 14 are
guidance; years 1990-2025), so guidance ranking and filters do the same work at every size.

Everything is written through the project's own classes: ``Manifest.replace_sources`` (chunks,
units with roles and float16 vectors, source terms from ``derive_extras``), ``DenseIndex.upsert``
(Chroma, with the vectors) and ``Library.finish`` (lexical index and library vocabulary), so
the ask path measured on it is the real one. Built once per size under
``<bench dir>/libraries/<size>/`` and reused until ``--rebuild`` (or a new BUILD_FORMAT).

    .venv/bin/python benchmarks/scale.py --sizes 1000 10000 100000
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from realtext import (  # noqa: E402
    DIM,
    Prepared,
    VectorCache,
    cached_sources,
    default_cache,
    prepare,
    real_sources,
)

from assistant.config import Settings, load_settings  # noqa: E402
from assistant.ingest.chunking import chunk_id, embedding_text  # noqa: E402
from assistant.ingest.units import chunk_units, unit_role  # noqa: E402

NOISE = 0.005
BUILD_FORMAT = 2
"""Bump when the way a scale library is made changes (it is part of ``build.json``)."""
BATCH_CHUNKS = 4000
VARIANT_TYPES = (
    "rct",
    "retrospective-cohort",
    "guideline",
    "systematic-review",
    "prospective-cohort",
    "review",
    "consensus-recommendation",
    "case-series",
    "meta-analysis",
    "other",
    "policy",
    "patient-information",
    "rct",
    "review",
)
"""Evidence type of variant r: ``VARIANT_TYPES[(r + i) % len]`` for the i-th source (3 of 14
are guidance)."""


def settings_for(data_dir: Path, **overrides: Any) -> Settings:
    return load_settings(None, data_dir=data_dir, **{"compose.composer": "extractive", **overrides})


def _noisy(vector: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    out = vector.astype(np.float32) + rng.normal(0.0, NOISE, DIM).astype(np.float32)
    return out / np.linalg.norm(out)


def variant(
    item: Prepared, r: int, index: int, cache: VectorCache, rng: np.random.Generator
) -> tuple[Prepared, list[np.ndarray], dict[str, list[tuple[str, np.ndarray]]]]:
    """Variant ``r`` of a cached source (r = 0: the source itself, with its exact vectors):
    the source, its chunk vectors and its units (role, vector) per chunk id."""

    def vec(text: str) -> np.ndarray:
        found = cache.get(text)
        assert found is not None, "variant() needs a source whose texts are all cached"
        return found.astype(np.float32) if r == 0 else _noisy(found, rng)

    # every source, original or variant, gets its evidence type and year from the cycle, so
    # guidance ranking and filters do the same work at every size
    year = 1990 + (index * 7 + r * 3) % 36
    kind = VARIANT_TYPES[(r + index) % len(VARIANT_TYPES)]
    doc = item.doc.model_copy(update={"evidence_type": kind, "year": year})
    if r == 0:
        chunks, texts = item.chunks, item.embed_texts
        chunk_vectors = [vec(t) for t in texts]
    else:
        sid = f"{doc.source_id}~{r}"
        doc = doc.model_copy(update={"source_id": sid})
        chunks, texts, chunk_vectors = [], [], []
        for original, text in zip(item.chunks, item.embed_texts, strict=True):
            lines = chunk_units(original)
            if len(lines) > 1:
                del lines[(r - 1) % len(lines)]
            body = "\n".join(lines)
            chunk = original.model_copy(
                update={
                    "source_id": sid,
                    "text": body,
                    "chunk_id": chunk_id(sid, original.heading, body, original.ordinal),
                }
            )
            chunks.append(chunk)
            texts.append(embedding_text(chunk, doc.title))
            chunk_vectors.append(vec(text))  # the original's vector, perturbed
    units = {
        c.chunk_id: [(unit_role(c.heading, u), vec(u).astype(np.float16)) for u in chunk_units(c)]
        for c in chunks
    }
    return Prepared(doc, chunks, texts), chunk_vectors, units


def plan(base: Sequence[Prepared], size: int) -> Iterator[tuple[Prepared, int, int]]:
    """(source, variant number, source index) until ``size`` chunks are planned."""
    total, r = 0, 0
    while total < size:
        for i, item in enumerate(base):
            if total >= size:
                return
            yield item, r, i
            total += len(item.chunks)
        r += 1


def build(
    data_dir: Path,
    size: int,
    base: Sequence[Prepared],
    cache: VectorCache,
    log: Any = print,
    seed: int = 0,
) -> dict[str, Any]:
    """Write a library of about ``size`` chunks into ``data_dir`` (which must be empty)."""
    from assistant.ingest.derive import DERIVE_VERSION, derive_extras
    from assistant.ingest.manifest import DERIVED, SourceExtras
    from assistant.ingest.store import Library, chunk_metadata

    if not base:
        raise SystemExit("the vector cache holds no complete source: run benchmarks/realtext.py")
    rng = np.random.default_rng(seed)
    library = Library(settings_for(data_dir))
    library.manifest.set_meta(DERIVED, DERIVE_VERSION)
    terms: dict[str, str] = {}
    started = time.perf_counter()
    written = variants = 0
    batch: list[tuple[Prepared, list[np.ndarray], dict[str, list[tuple[str, np.ndarray]]]]] = []
    base_of: dict[str, str] = {}

    def flush() -> None:
        nonlocal written
        ids = [c.chunk_id for p, _, _ in batch for c in p.chunks]
        texts = [t for p, _, _ in batch for t in p.embed_texts]
        metas = [chunk_metadata(p.doc, c) for p, _, _ in batch for c in p.chunks]
        vectors = [v for _, vs, _ in batch for v in vs]
        library.dense.upsert(ids, texts, metas, vectors)
        items = [(p.doc, p.chunks, p.embed_texts) for p, _, _ in batch]
        extras = {
            p.doc.source_id: SourceExtras(units, terms[base_of[p.doc.source_id]], "{}")
            for p, _, units in batch
        }
        library.manifest.replace_sources(items, extras)
        written += len(ids)
        batch.clear()
        log(f"  {written} chunks written ({time.perf_counter() - started:.0f} s)")

    try:
        for item, r, index in plan(base, size):
            sid = item.doc.source_id
            if sid not in terms:  # a variant shares its original's terms (derived once)
                terms[sid] = derive_extras(item.doc, item.chunks)[0]
            batch.append(variant(item, r, index, cache, rng))
            base_of[batch[-1][0].doc.source_id] = sid
            variants += int(r > 0)
            if sum(len(p.chunks) for p, _, _ in batch) >= BATCH_CHUNKS:
                flush()
        if batch:
            flush()
        write_s = time.perf_counter() - started
        library.finish()
        info = {
            "format": BUILD_FORMAT,
            "size": size,
            "chunks": library.manifest.count_chunks(),
            "sources": library.manifest.count_sources(),
            "variant_sources": variants,
            "real_sources": len({p.doc.source_id for p in base}),
            "cache_texts": len(cache),
            "noise": NOISE,
            "seed": seed,
            "write_s": round(write_s, 1),
            "build_s": round(time.perf_counter() - started, 1),
        }
    finally:
        library.close()
    return info


def scale_library(
    size: int, root: Path | None = None, rebuild: bool = False, log: Any = print
) -> tuple[Path, dict[str, Any]]:
    """The data dir of the scale library of ``size`` chunks (built now if missing or stale)."""
    root = root or default_cache()
    target = root / "libraries" / str(size)
    stamp = target / "build.json"
    cache = VectorCache(root)
    if stamp.is_file() and not rebuild:
        info = json.loads(stamp.read_text())
        if info.get("format") == BUILD_FORMAT:
            return target, info
    base = cached_sources(prepare(real_sources()), cache)
    if sum(len(p.chunks) for p in base) > size:
        cut, total = [], 0
        for p in base:  # the smallest prefix that reaches ``size``
            if total >= size:
                break
            cut.append(p)
            total += len(p.chunks)
        base = cut
    if target.exists():
        shutil.rmtree(target)
    target.mkdir(parents=True)
    log(f"building the {size}-chunk scale library in {target}")
    info = build(target, size, base, cache, log=log)
    info["cache_texts"] = len(cache)
    stamp.write_text(json.dumps(info, indent=2))
    return target, info


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 10000, 100000])
    parser.add_argument("--root", type=Path, default=None, help="bench dir (default .bench)")
    parser.add_argument("--rebuild", action="store_true", help="build even when up to date")
    args = parser.parse_args(argv)
    if any(s < 1 for s in args.sizes):
        parser.error("--sizes must be positive")
    for size in args.sizes:
        path, info = scale_library(size, args.root, args.rebuild)
        print(json.dumps({"path": str(path), **info}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
