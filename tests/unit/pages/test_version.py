"""Library version and the stale rule."""

from __future__ import annotations

from assistant.pages.version import (
    MISSING,
    changed_sources,
    cited_sources,
    library_version,
    source_versions,
)

from .conftest import make_answer


def test_version_covers_ids_and_hashes_not_order() -> None:
    a = {"s1": "h1", "s2": "h2"}
    assert library_version(a) == library_version({"s2": "h2", "s1": "h1"})
    assert library_version(a) != library_version({"s1": "h1", "s2": "changed"})
    assert library_version(a) != library_version({"s1": "h1", "s3": "h2"})
    assert library_version({}) == library_version({})


def test_cited_sources_and_their_versions() -> None:
    answer = make_answer()
    assert cited_sources(answer) == ["src-a"]
    assert source_versions(answer, {"src-a": "h", "other": "x"}) == {"src-a": "h"}
    assert source_versions(answer, {}) == {"src-a": MISSING}


def test_changed_sources() -> None:
    saved = {"s1": "h1", "s2": "h2", "s3": "h3"}
    assert changed_sources(saved, {"s1": "h1", "s2": "h2", "s3": "h3", "new": "n"}) == []
    assert changed_sources(saved, {"s1": "h1", "s2": "edited"}) == ["s2", "s3"]
    assert changed_sources({"s1": MISSING}, {"s1": MISSING}) == ["s1"], "never current"
