"""The persisted lexical (BM25) index, built from the manifest and saved atomically."""

from __future__ import annotations

import json
import logging
import os
import shutil
import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np

from assistant.text import lexical_tokens

logger = logging.getLogger(__name__)

_IDS_FILE = "ids.json"


class LexicalIndex:
    """BM25 (bm25s) over stemmed tokens, keyed by chunk id."""

    def __init__(self, ids: list[str], retriever: Any, gen: str) -> None:
        self.ids = ids
        self.generation = gen
        self._retriever = retriever
        self._position = {cid: i for i, cid in enumerate(ids)}
        self._masks: list[tuple[set[str], np.ndarray]] = []
        self.vocabulary: frozenset[str] = (
            frozenset(retriever.vocab_dict) if retriever is not None else frozenset()
        )

    @classmethod
    def build(cls, items: Iterable[tuple[str, str]], gen: str) -> LexicalIndex:
        """Index (chunk id, text) pairs; ``gen`` names the manifest revision they come from."""
        import bm25s

        ids: list[str] = []
        tokens: list[list[str]] = []
        for cid, text in items:
            ids.append(cid)
            tokens.append(lexical_tokens(text))
        if not ids:
            return cls([], None, gen)
        retriever = bm25s.BM25()
        retriever.index(tokens, show_progress=False)
        return cls(ids, retriever, gen)

    def save(self, directory: Path) -> None:
        """Write to a temporary sibling, then swap it in, so a crash never leaves half an index."""
        directory.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=".lexical-", dir=directory.parent))
        if self._retriever is not None:
            self._retriever.save(str(tmp), show_progress=False)
        (tmp / _IDS_FILE).write_text(json.dumps({"generation": self.generation, "ids": self.ids}))
        old = directory.with_name(directory.name + ".old")
        if directory.exists():
            if old.exists():
                shutil.rmtree(old)
            os.replace(directory, old)
        os.replace(tmp, directory)
        shutil.rmtree(old, ignore_errors=True)

    @classmethod
    def load(cls, directory: Path) -> LexicalIndex | None:
        meta_file = directory / _IDS_FILE
        if not meta_file.is_file():
            return None
        try:
            meta = json.loads(meta_file.read_text())
            ids = list(meta["ids"])
            retriever = None
            if ids:
                import bm25s

                retriever = bm25s.BM25.load(str(directory), show_progress=False, verbosity=0)
            return cls(ids, retriever, str(meta["generation"]))
        except (OSError, ValueError, KeyError) as exc:
            logger.warning(
                "lexical index at %s is unreadable (%s); it will be rebuilt", directory, exc
            )
            return None

    def document_frequencies(self) -> dict[str, int]:
        """Number of chunks each indexed token occurs in."""
        if self._retriever is None:
            return {}
        indptr = self._retriever.scores["indptr"]
        return {
            token: int(indptr[tid + 1] - indptr[tid])
            for token, tid in self._retriever.vocab_dict.items()
            if token and tid + 1 < len(indptr)  # bm25s adds an empty token past the end
        }

    def _mask(self, allowed: set[str]) -> np.ndarray:
        """The weight mask of a set of chunk ids; the last few are kept (by identity: the
        retriever caches one set per filter), so a filter costs no loop per question."""
        for held, mask in self._masks:
            if held is allowed:
                return mask
        mask = np.zeros(len(self.ids), dtype=np.float32)
        for cid in allowed:
            pos = self._position.get(cid)
            if pos is not None:
                mask[pos] = 1.0
        self._masks = [(allowed, mask), *self._masks[:7]]
        return mask

    def __len__(self) -> int:
        return len(self.ids)

    def search(
        self, query: str, k: int, allowed: set[str] | None = None
    ) -> list[tuple[str, float]]:
        """Top ``k`` (chunk id, BM25 score) pairs with a positive score, optionally restricted."""
        if self._retriever is None or not self.ids:
            return []
        tokens = [t for t in lexical_tokens(query) if t in self.vocabulary]
        if not tokens:
            return []
        mask = None if allowed is None else self._mask(allowed)
        if mask is not None and not mask.any():
            return []
        # bm25s's scores, then our own top-k: its retrieve() starts a thread pool and a
        # progress bar on every call (~6 ms on a loaded machine, 4-5 calls a question), and its
        # top-k partitions the whole score array, mostly zeros (14 ms at 100k chunks)
        scores = self._retriever.get_scores(tokens, weight_mask=mask)
        positive = np.flatnonzero(scores > 0)
        if len(positive) > k:
            positive = positive[np.argpartition(-scores[positive], k - 1)[:k]]
        order = positive[np.lexsort((positive, -scores[positive]))]  # ties: index order
        return [(self.ids[int(pos)], float(scores[pos])) for pos in order]
