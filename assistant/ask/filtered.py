"""Dense search restricted by metadata filters without Chroma's filter (a scan of every row's
metadata: 11-22 ms at 10k chunks, 155 ms at 100k, on every question that ranks guidance).

A filter's chunk set comes from the manifest (cached per filter). A common set is searched by
over-fetching unfiltered neighbours and keeping those in the set. When fewer than k pass, or
the set is too rare for that, a small set's own vectors (read from Chroma once, cached) are
searched exactly with one matrix product, and a large one is over-fetched wider; Chroma's
filter is only the last resort.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from assistant.ask.retrieve import Filters
    from assistant.ingest.store import Library
    from assistant.types import SourceRef

OVERFETCH_MAX = 400
"""Most unfiltered neighbours fetched to serve a filter (top-400 costs ~5 ms at 10k chunks
against ~2 ms for top-40)."""
OVERFETCH_WIDE = 1600
"""A second, wider over-fetch when too few neighbours passed (top-1600: ~13 ms at 100k)."""
EXACT_MAX = 5000
"""Largest filtered set whose vectors are read from Chroma (once: ~0.3 s for 5000) and held
for an exact search; larger sets are over-fetched, then filtered by Chroma as a last resort."""

Hits = list[tuple[str, float]]


class FilterSets:
    """Chunk sets and dense searches per filter, for one state of the library."""

    def __init__(self, library: Library, sources: Callable[[], dict[str, SourceRef]]) -> None:
        self.library = library
        self._sources = sources
        self._allowed: dict[Filters, set[str]] = {}
        self._vectors: dict[Filters, tuple[list[str], np.ndarray] | None] = {}
        self._chunks_of: dict[str, list[str]] | None = None
        self._count: int | None = None

    def allowed(self, filters: Filters) -> set[str] | None:
        """The chunk ids ``filters`` lets through (None: no filter)."""
        if not filters.active:
            return None
        found = self._allowed.get(filters)
        if found is None:
            if self._chunks_of is None:
                self._chunks_of = self.library.manifest.chunk_ids_by_source()
            found = set()
            for sid, ref in self._sources().items():
                if filters.accepts(ref):
                    found.update(self._chunks_of.get(sid, ()))
            self._allowed[filters] = found
        return found

    def fetch_size(self, k: int, filters: Filters) -> int | None:
        """Unfiltered neighbours to fetch so that about 2k pass ``filters`` (None: too many)."""
        allowed = self.allowed(filters)
        if allowed is None:
            return k
        if not allowed:
            return 0
        if self._count is None:
            self._count = self.library.dense.count()
        need = math.ceil(2 * k * self._count / len(allowed))
        return need if need <= OVERFETCH_MAX else None

    def search_many(self, vector: list[float], wanted: Sequence[tuple[int, Filters]]) -> list[Hits]:
        """Top-k hits for several (k, filters) at once: one unfiltered Chroma query serves
        every filter it can. A post-filtered list is exact (relative to the index) when k hits
        passed: a better match of the set would have been among the fetched neighbours."""
        sizes = [self.fetch_size(k, f) for k, f in wanted]
        fetch = max((n for n in sizes if n), default=0)
        hits = self.library.dense.search(vector, fetch) if fetch else []
        out: list[Hits] = []
        for (k, filters), size in zip(wanted, sizes, strict=True):
            allowed = self.allowed(filters)
            if size == 0:
                out.append([])
                continue
            if size is not None:
                passed = [h for h in hits if allowed is None or h[0] in allowed][:k]
                if len(passed) >= k or len(hits) < fetch:
                    out.append(passed)
                    continue
            out.append(self._fallback(vector, k, filters, allowed or set()))
        return out

    def _fallback(self, vector: list[float], k: int, filters: Filters, allowed: set[str]) -> Hits:
        """A filter the first over-fetch did not serve: exact within a small set, else a
        wider over-fetch, else Chroma's filter."""
        if len(allowed) <= EXACT_MAX:
            return self.exact(vector, k, filters)
        hits = self.library.dense.search(vector, OVERFETCH_WIDE)
        passed = [h for h in hits if h[0] in allowed][:k]
        if len(passed) >= k or len(hits) < OVERFETCH_WIDE:
            return passed
        return self.library.dense.search(vector, k, filters.where())

    def exact(self, vector: list[float], k: int, filters: Filters) -> Hits:
        """Exact cosine top-k within the filtered set (its vectors cached on first use)."""
        held = self._held(filters)
        if held is None:
            return self.library.dense.search(vector, k, filters.where())
        ids, matrix = held
        if not ids:
            return []
        query = np.asarray(vector, dtype=np.float32)
        sims = matrix @ (query / max(float(np.linalg.norm(query)), 1e-12))
        k = min(k, len(ids))
        top = np.argpartition(-sims, k - 1)[:k]
        top = top[np.lexsort((top, -sims[top]))]  # best first, ties by position (stable)
        return [(ids[i], float(sims[i])) for i in top]

    def _held(self, filters: Filters) -> tuple[list[str], np.ndarray] | None:
        if filters not in self._vectors:
            allowed = self.allowed(filters) or set()
            if len(allowed) > EXACT_MAX:
                self._vectors[filters] = None
            else:
                ids, matrix = self.library.dense.vectors(sorted(allowed))
                norms = np.linalg.norm(matrix, axis=1, keepdims=True) if len(ids) else 1.0
                self._vectors[filters] = (ids, (matrix / np.maximum(norms, 1e-12)))
        return self._vectors[filters]
