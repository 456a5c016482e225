"""The numpy query encoder gives the real sentence-transformers vectors (cosine >= 0.9999) on
real sentences of the built-in corpus and on short questions."""

from __future__ import annotations

import re
from typing import Any

import numpy as np
import pytest

from assistant.config import EmbeddingSettings
from assistant.models import embedding_model_path
from assistant.query_encoder import QueryEncoder
from tests.conftest import CORPUS

pytestmark = pytest.mark.slow


def corpus_sentences(n: int) -> list[str]:
    out: list[str] = []
    for path in sorted(CORPUS.glob("*.md")):
        body = path.read_text(encoding="utf-8").split("---", 2)[-1]
        for sentence in re.split(r"(?<=[.!?])\s+", body):
            words = sentence.split()
            if 6 <= len(words) <= 200 and not sentence.startswith("#"):
                out.append(" ".join(words))
            if len(out) >= n:
                return out
    return out


def test_same_vectors_as_sentence_transformers(embeddings: Any) -> None:
    texts = [
        "hi",
        "What is the dose?",
        "How well does it work in adults over 65 years of age?",
        *corpus_sentences(30),
        " ".join(corpus_sentences(60)[30:]),  # longer than the window: both truncate
    ]
    assert len(texts) > 20
    encoder = QueryEncoder(embedding_model_path(EmbeddingSettings()))
    reference = np.asarray(embeddings.embed_documents(texts), dtype=np.float32)
    mine = np.stack([encoder.encode(t) for t in texts])
    cosines = np.sum(reference * mine, axis=1)
    assert float(cosines.min()) >= 0.9999, [
        t for t, c in zip(texts, cosines, strict=True) if c < 0.9999
    ]
    assert float(np.abs(reference - mine).max()) < 1e-4
