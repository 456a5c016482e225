"""Hand-built evidence for the ask unit tests (no model, no index)."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from assistant.types import Chunk, Evidence, SourceRef


def make_evidence(
    source_id: str,
    text: str,
    *,
    ordinal: int = 0,
    evidence_type: str = "case-series",
    year: int | None = 2020,
    rank: int = 1,
    title: str | None = None,
    heading: str = "Findings",
) -> Evidence:
    """One retrieved chunk of a made-up source."""
    return Evidence(
        chunk=Chunk(
            chunk_id=f"{source_id}#{ordinal}",
            source_id=source_id,
            text=text,
            heading=heading,
            ordinal=ordinal,
        ),
        source=SourceRef(
            source_id=source_id,
            title=title or f"Title of {source_id}",
            authors=["Doe J", "Roe R"],
            journal="J Test",
            year=year,
            pmid="123456",
            doi="10.1000/test",
            evidence_type=evidence_type,
        ),
        fused_score=1.0 / rank,
        rank=rank,
    )


@pytest.fixture
def ev() -> Callable[..., Evidence]:
    """``ev(source_id, text, **kw)`` -> Evidence (see ``make_evidence``)."""
    return make_evidence
