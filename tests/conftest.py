"""Shared fixtures: the real embedder (loaded once), settings in tmp dirs, ../shared data."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("ASSISTANT_SHARED_DIR", REPO.parent / "shared"))
CORPUS = REPO / "corpus"


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    if not (SHARED / "datasets").is_dir():
        pytest.skip(f"../shared is absent ({SHARED}): the data-set tests need it beside the repo")
    return SHARED


@pytest.fixture(scope="session")
def pubmedqa_rows(shared_dir: Path) -> list[dict[str, Any]]:
    path = shared_dir / "datasets" / "pubmedqa" / "pqal.jsonl"
    if not path.is_file():
        pytest.skip(f"{path} is absent")
    with path.open(encoding="utf-8") as fh:
        return [json.loads(line) for line in fh]


@pytest.fixture(scope="session")
def embeddings() -> Any:
    """The real all-MiniLM-L6-v2, loaded once for the whole session."""
    from assistant.config import EmbeddingSettings
    from assistant.models import get_embeddings

    return get_embeddings(EmbeddingSettings())


@pytest.fixture
def make_settings(tmp_path: Path) -> Iterator[Any]:
    from assistant.config import Settings

    def _make(**overrides: Any) -> Settings:
        overrides.setdefault("data_dir", tmp_path / "data")
        return Settings(**overrides)

    yield _make


def write_pubmedqa_jsonl(rows: list[dict[str, Any]], path: Path) -> Path:
    """PubMedQA contexts as a JSONL library file: never the question (it paraphrases the title)
    nor the long answer, so retrieval cannot be handed the answer."""
    with path.open("w", encoding="utf-8") as fh:
        for row in rows:
            record = {"id": row["pmid"], "title": f"PubMed {row['pmid']}", "text": row["contexts"]}
            fh.write(json.dumps(record, ensure_ascii=False) + "\n")
    return path
