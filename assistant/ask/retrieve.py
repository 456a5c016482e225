"""Hybrid retrieval: dense (Chroma) + lexical (BM25) fused by weighted reciprocal rank fusion.

After fusion: evidence-level tie-breaking (stronger designs first when equally relevant), a cap
on chunks per source for diversity, a guarantee that the best guidance chunks (guidelines,
consensus, policy) reach the composer for the 'From the Guidelines' section, and parent-document
expansion: the best sources are read whole, so a study's safety section can answer next to its
efficacy section. The stored units (sentences with roles and vectors) of every chunk come along.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from assistant.ask.filtered import FilterSets
from assistant.config import RetrievalSettings
from assistant.ingest.store import Library
from assistant.types import (
    EVIDENCE_RANK,
    EVIDENCE_TYPES,
    GUIDANCE_TYPES,
    Chunk,
    Evidence,
    SourceRef,
)

# One rank position at the top of an RRF list is worth about 1/(k+1) - 1/(k+2) ~ 2.6e-4 (k=60);
# the evidence-level bonus stays below that, so it only reorders near-ties.
_LEVEL_BONUS = 2.0e-4
_GUIDANCE_PER_TIER = 2
"""Documents of each kind of guidance (guideline, consensus, policy) whose best chunk is
added even below the cut."""


@dataclass(frozen=True)
class Filters:
    evidence_types: tuple[str, ...] = ()
    year_from: int | None = None
    year_to: int | None = None

    def __post_init__(self) -> None:
        unknown = [t for t in self.evidence_types if t not in EVIDENCE_TYPES]
        if unknown:
            raise ValueError(
                f"unknown evidence type(s) {unknown}; choose from {', '.join(EVIDENCE_TYPES)}"
            )
        if self.year_from and self.year_to and self.year_from > self.year_to:
            raise ValueError(f"year range is empty: {self.year_from} > {self.year_to}")

    @property
    def active(self) -> bool:
        return bool(self.evidence_types or self.year_from or self.year_to)

    def where(self) -> dict[str, Any] | None:
        """The same restriction as a Chroma metadata filter."""
        clauses: list[dict[str, Any]] = []
        if self.evidence_types:
            clauses.append({"evidence_type": {"$in": list(self.evidence_types)}})
        if self.year_from:
            clauses.append({"year": {"$gte": self.year_from}})
        if self.year_to:
            clauses.append({"year": {"$lte": self.year_to}})
        if not clauses:
            return None
        return clauses[0] if len(clauses) == 1 else {"$and": clauses}

    def accepts(self, ref: SourceRef) -> bool:
        if self.evidence_types and ref.evidence_type not in self.evidence_types:
            return False
        if self.year_from and (ref.year is None or ref.year < self.year_from):
            return False
        return not (self.year_to and (ref.year is None or ref.year > self.year_to))


@dataclass
class Retrieval:
    """What retrieval found, with the raw ranked lists kept for evaluation and abstention."""

    question: str
    evidence: list[Evidence]
    dense: list[tuple[str, float]] = field(default_factory=list)
    lexical: list[tuple[str, float]] = field(default_factory=list)
    query_vector: list[float] = field(default_factory=list)
    units: dict[str, list[tuple[str, np.ndarray]]] = field(default_factory=dict)
    """Stored (role, vector) of each unit of each evidence chunk."""

    @property
    def top_similarity(self) -> float:
        return self.dense[0][1] if self.dense else 0.0


def rrf(
    rankings: Sequence[Sequence[str]], k: int, weights: Sequence[float] | None = None
) -> dict[str, float]:
    """Weighted reciprocal rank fusion: score(d) = sum over lists of w / (k + rank(d)), rank
    from 1 (every w = 1 without ``weights``)."""
    scores: dict[str, float] = {}
    for i, ranking in enumerate(rankings):
        weight = weights[i] if weights is not None else 1.0
        for rank, item in enumerate(ranking, start=1):
            scores[item] = scores.get(item, 0.0) + weight / (k + rank)
    return scores


class HybridRetriever:
    """Built once from the library and settings; ``retrieve`` is called per question."""

    def __init__(self, library: Library, settings: RetrievalSettings) -> None:
        self.library = library
        self.settings = settings
        self.refresh()

    def refresh(self) -> None:
        """Re-read the source list (after an ingest) and drop cached filter sets."""
        self.sources: dict[str, SourceRef] = {
            r.ref.source_id: r.ref for r in self.library.sources()
        }
        self._filters = FilterSets(self.library, lambda: self.sources)
        self.library.reload_lexical()  # picks up a rebuilt lexical index

    def embed(self, text: str) -> list[float]:
        return list(self.library.embeddings.embed_query(text))

    def _allowed(self, filters: Filters) -> set[str] | None:
        return self._filters.allowed(filters)

    def _dense_many(
        self, vector: list[float], wanted: Sequence[tuple[int, Filters]]
    ) -> list[list[tuple[str, float]]]:
        return self._filters.search_many(vector, wanted)

    def dense_search(
        self, vector: list[float], k: int, filters: Filters = Filters()
    ) -> list[tuple[str, float]]:
        return self._dense_many(vector, [(k, filters)])[0]

    def lexical_search(
        self, query: str, k: int, filters: Filters = Filters()
    ) -> list[tuple[str, float]]:
        return self.library.lexical.search(query, k, self._allowed(filters))

    def retrieve(
        self,
        question: str,
        filters: Filters = Filters(),
        vector: list[float] | None = None,
        lexical_query: str | None = None,
    ) -> Retrieval:
        """Fused dense + lexical results; ``lexical_query`` may expand the question for BM25."""
        vector = vector if vector is not None else self.embed(question)
        query = lexical_query or question
        wanted = [(self.settings.k_dense, filters)]
        if not filters.evidence_types:
            # guidance ranked on its own, so the guidelines section is not crowded out
            only = Filters(tuple(sorted(GUIDANCE_TYPES)), filters.year_from, filters.year_to)
            wanted.append((self.settings.top_k, only))
        dense, *g_found = self._dense_many(vector, wanted)
        lexical = self.lexical_search(query, self.settings.k_lexical, filters)
        weights = (1.0, self.settings.lexical_weight)
        fused = rrf(
            [[cid for cid, _ in dense], [cid for cid, _ in lexical]], self.settings.rrf_k, weights
        )
        dense_of = dict(dense)
        lexical_of = dict(lexical)
        guidance: dict[str, float] = {}
        if g_found:
            g_dense = g_found[0]
            g_lexical = self.lexical_search(query, self.settings.top_k, only)
            guidance = rrf(
                [[c for c, _ in g_dense], [c for c, _ in g_lexical]], self.settings.rrf_k, weights
            )
            dense_of = {**dict(g_dense), **dense_of}
            lexical_of = {**dict(g_lexical), **lexical_of}
        chunks = self.library.manifest.chunks([*fused, *guidance])

        def ranked(scores: dict[str, float]) -> list[Evidence]:
            found = (
                self._evidence(chunks, c, sc, dense_of, lexical_of) for c, sc in scores.items()
            )
            items = [e for e in found if e is not None]
            return sorted(items, key=lambda e: (-e.fused_score, e.chunk.chunk_id))

        selected = self._diversify(ranked(fused), ranked(guidance))
        for rank, item in enumerate(selected, start=1):
            item.rank = rank
        best = list(dict.fromkeys(e.source.source_id for e in selected))
        evidence = selected + self.expand(selected, best)
        units = self.library.manifest.units(e.chunk.chunk_id for e in evidence)
        return Retrieval(question, evidence, dense, lexical, vector, units)

    def _evidence(
        self,
        chunks: dict[str, Chunk],
        cid: str,
        score: float,
        dense_of: dict[str, float],
        lexical_of: dict[str, float],
    ) -> Evidence | None:
        """A ranked chunk with its source; the evidence level nudges near-ties."""
        chunk = chunks.get(cid)
        ref = self.sources.get(chunk.source_id) if chunk else None
        if chunk is None or ref is None:
            return None  # the vector outlived its source (an ingest in progress elsewhere)
        level = EVIDENCE_RANK.get(ref.evidence_type, EVIDENCE_RANK["other"])
        bonus = _LEVEL_BONUS * (1 - level / max(EVIDENCE_RANK.values()))
        return Evidence(
            chunk=chunk,
            source=ref,
            dense_score=dense_of.get(cid),
            lexical_score=lexical_of.get(cid),
            fused_score=score + bonus,
        )

    def lexical_retrieve(self, query: str, k: int) -> Retrieval:
        """Lexical results alone, in BM25 order (no query embedding: cheap enough to check
        suggested follow-ups)."""
        lexical = self.lexical_search(query, k)
        chunks = self.library.manifest.chunks(cid for cid, _ in lexical)
        lexical_of = dict(lexical)
        found = (self._evidence(chunks, cid, sc, {}, lexical_of) for cid, sc in lexical)
        evidence = [e for e in found if e is not None]
        for rank, item in enumerate(evidence, start=1):
            item.rank = rank
        units = self.library.manifest.units(e.chunk.chunk_id for e in evidence)
        return Retrieval(query, evidence, [], lexical, [], units)

    def expand(self, evidence: list[Evidence], source_ids: list[str]) -> list[Evidence]:
        """The other chunks of these sources (parent-document expansion), ranked after
        ``evidence``: the most relevant studies are read whole, so a study's safety section
        can answer next to its efficacy section."""
        have = {e.chunk.chunk_id for e in evidence}
        extra: list[Evidence] = []
        for sid in source_ids[: self.settings.expand_sources]:
            ref = self.sources.get(sid)
            if ref is None:
                continue
            for chunk in self.library.manifest.chunks_of(sid)[: self.settings.expand_max_chunks]:
                if chunk.chunk_id not in have:
                    extra.append(Evidence(chunk=chunk, source=ref))
        for rank, item in enumerate(extra, start=len(evidence) + 1):
            item.rank = rank
        return extra

    def _diversify(self, ranked: list[Evidence], guidance: list[Evidence]) -> list[Evidence]:
        """Top chunks with at most ``max_chunks_per_source`` each, plus the best guidance."""
        per_source: dict[str, int] = {}
        chosen: list[Evidence] = []
        ids: set[str] = set()

        def take(item: Evidence) -> bool:
            sid = item.source.source_id
            if (
                item.chunk.chunk_id in ids
                or per_source.get(sid, 0) >= self.settings.max_chunks_per_source
            ):
                return False
            chosen.append(item)
            ids.add(item.chunk.chunk_id)
            per_source[sid] = per_source.get(sid, 0) + 1
            return True

        for item in ranked:
            if len(chosen) >= self.settings.top_k:
                break
            take(item)
        # the best chunk of each kind of guidance, then the next best, even below the cut
        tiers = sorted(GUIDANCE_TYPES, key=lambda t: EVIDENCE_RANK[t])
        for tier in tiers:
            sources: set[str] = set()
            for item in guidance:
                if len(sources) >= _GUIDANCE_PER_TIER:
                    break
                sid = item.source.source_id
                if item.source.evidence_type == tier and sid not in sources:
                    sources.add(sid)  # one per source: two different documents of each kind
                    take(item)
        return chosen
