"""The numpy query encoder reads the bundled MiniLM as sentence-transformers does (the exact
comparison with the real model is in tests/integration/test_query_encoder_equivalence.py)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from assistant.config import EmbeddingSettings
from assistant.models import embedding_model_path
from assistant.query_encoder import QueryEncoder, supports


@pytest.fixture(scope="module")
def model_dir() -> str:
    return embedding_model_path(EmbeddingSettings())


@pytest.fixture(scope="module")
def encoder(model_dir: str) -> QueryEncoder:
    return QueryEncoder(model_dir)


def test_supports_the_bundled_model(model_dir: str) -> None:
    assert supports(model_dir)


@pytest.mark.parametrize(
    ("file", "change"),
    [
        ("config.json", {"model_type": "roberta"}),
        ("config.json", {"hidden_act": "relu"}),
        ("1_Pooling/config.json", {"pooling_mode_cls_token": True}),
    ],
)
def test_other_models_are_left_to_sentence_transformers(
    model_dir: str, tmp_path: Path, file: str, change: dict[str, object]
) -> None:
    copy = tmp_path / "model"
    shutil.copytree(model_dir, copy, ignore=shutil.ignore_patterns("*.safetensors", "*.bin"))
    (copy / "model.safetensors").touch()
    assert supports(copy)
    data = json.loads((copy / file).read_text())
    (copy / file).write_text(json.dumps({**data, **change}))
    assert not supports(copy)
    assert not supports(tmp_path / "missing")


def test_vectors_are_unit_length_deterministic_and_distinct(encoder: QueryEncoder) -> None:
    a = encoder.encode("What is the usual dose for children?")
    again = encoder.encode("What is the usual dose for children?")
    b = encoder.encode("Which imaging test confirms the diagnosis?")
    assert a.shape == (384,) and a.dtype == np.float32
    assert abs(float(np.linalg.norm(a)) - 1.0) < 1e-5
    assert np.array_equal(a, again)
    assert float(a @ b) < 0.9


def test_long_text_is_truncated_to_the_model_window(encoder: QueryEncoder) -> None:
    long = " ".join(["ferritin"] * 2000)
    assert len(encoder.tokenizer.encode(long).ids) == encoder.max_len == 256
    assert encoder.encode(long).shape == (384,)
