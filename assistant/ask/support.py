"""Does the passage a sentence cites actually state it? The LLM composer's semantic check.

Markers and numbers are checked in ``citations``; this module checks meaning, for each
sentence a model writes, against the sentences of the passages it cites:

1. Text about the disclaimer, the instructions or the prompt is never shown.
2. Entailment-style score: the best cosine similarity (the configured embedder, MiniLM)
   between the claim and any one sentence, or pair of adjacent sentences, of the cited
   passages, minus ``novelty_weight`` times the share of the claim's content words that the
   passages never use (a claim that adds "and it halves the stay in intensive care" keeps a
   high cosine; its new words do not). Below ``min_score`` the claim is dropped.
3. What a cosine cannot see (``claims``): a negation the source does not share, the opposite
   direction of a source sentence ("increased" for "reduced"), absolute or universal wording
   ("cures everything", "always", "no other") that the cited passages do not use.

``DEFAULT_MIN_SCORE`` and ``NOVELTY_WEIGHT`` are calibrated on labelled supported/unsupported
pairs (tests/reliability/data/support_pairs.jsonl; precision and recall in docs/reliability.md).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from langchain_core.embeddings import Embeddings

from assistant.ask import claims
from assistant.text import sentences

DEFAULT_MIN_SCORE = 0.46
NOVELTY_WEIGHT = 0.75


@dataclass(frozen=True)
class Support:
    """The verdict on one claim."""

    supported: bool
    score: float
    cosine: float
    novelty: float
    reason: str | None = None


def _cosine(a: Sequence[float], b: Sequence[float]) -> float:
    dot = sum(x * y for x, y in zip(a, b, strict=True))
    na = math.sqrt(sum(x * x for x in a)) or 1.0
    nb = math.sqrt(sum(y * y for y in b)) or 1.0
    return dot / (na * nb)


def windows(passages: Sequence[str]) -> list[str]:
    """Each sentence of each passage, and each pair of adjacent sentences (a model often
    joins two)."""
    out: list[str] = []
    for passage in passages:
        sents = [s for s in sentences(passage) if s.strip()]
        out.extend(sents)
        out.extend(f"{a} {b}" for a, b in zip(sents, sents[1:], strict=False))
    return list(dict.fromkeys(out))


def _rule(claim: str, passages: Sequence[str]) -> str | None:
    """Why a lexical rule refuses the claim, or None."""
    if claims.negation_differs(claim, passages):
        return "its negation is not the source's"
    if claims.opposed(claim, passages):
        return "it states the opposite direction of its source sentence"
    extra = claims.unsupported_absolutes(claim, passages)
    if extra:
        return f"absolute wording the source does not use: {', '.join(sorted(extra))}"
    return None


class SupportChecker:
    """Checks model sentences against the passages they cite (one embedder, cached vectors)."""

    def __init__(
        self,
        embeddings: Embeddings,
        min_score: float = DEFAULT_MIN_SCORE,
        novelty_weight: float = NOVELTY_WEIGHT,
    ) -> None:
        self.embeddings = embeddings
        self.min_score = min_score
        self.novelty_weight = novelty_weight
        self._vectors: dict[str, list[float]] = {}

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        """Vectors of ``texts``, computed in one batch and kept (claims and passages recur)."""
        todo = [t for t in dict.fromkeys(texts) if t not in self._vectors]
        if todo:
            for text, vector in zip(todo, self.embeddings.embed_documents(todo), strict=True):
                self._vectors[text] = list(vector)
        return [self._vectors[t] for t in texts]

    def score(self, claim: str, passages: Sequence[str]) -> Support:
        """The score and the rules' verdict, whatever the threshold (for calibration)."""
        if claims.talks_about_the_frame(claim):
            return Support(False, 0.0, 0.0, 1.0, "it talks about the answer's instructions")
        spans = windows(passages)
        if not spans:
            return Support(False, 0.0, 0.0, 1.0, "the cited passage has no sentence")
        claim_vec, *span_vecs = self.embed([claim, *spans])
        cosine = max(_cosine(claim_vec, v) for v in span_vecs)
        novelty = claims.novelty(claim, passages)
        reason = _rule(claim, passages)
        return Support(
            reason is None, cosine - self.novelty_weight * novelty, cosine, novelty, reason
        )

    def check(self, claim: str, passages: Sequence[str]) -> Support:
        """Supported only if every rule passes and the score reaches ``min_score``."""
        found = self.score(claim, passages)
        if found.supported and found.score < self.min_score:
            why = f"the cited passage does not state it (support {found.score:.2f} < "
            return Support(
                False, found.score, found.cosine, found.novelty, f"{why}{self.min_score:.2f})"
            )
        return found
