"""What ingest derives from a source besides its chunks and vectors (stored with the manifest)."""

from __future__ import annotations

from assistant.ingest.records import record_json
from assistant.types import Chunk, SourceDoc
from assistant.vocab.extract import source_terms_json

DERIVE_VERSION = "9"
"""Bump when what ``derive_extras`` computes changes: stored sources are then derived again
from their stored chunks (no re-embedding) the next time the library is opened for writing."""


def derive_extras(doc: SourceDoc, chunks: list[Chunk]) -> tuple[str, str]:
    """(terms JSON, evidence-record JSON) of a source."""
    return source_terms_json(doc, chunks), record_json(doc, chunks)
