"""The library version of a page: which versions of which sources its answer rests on.

A page stores ``{source_id: content_hash}`` for every source its answer cites, as the manifest
held them when the answer was saved (``Manifest.hashes()``), and a short hash of that mapping
(the "library version" shown on the page). A page is stale when any of those sources has since
changed or left the library; an approved page that is stale needs re-review and is never served
as approved.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping

from assistant.types import Answer

MISSING = "missing"
"""Recorded instead of a hash for a cited source the library did not hold at saving."""


def cited_sources(answer: Answer) -> list[str]:
    """The source ids an answer cites, in reference order."""
    return list(dict.fromkeys(ref.source_id for ref in answer.references))


def source_versions(answer: Answer, hashes: Mapping[str, str]) -> dict[str, str]:
    """``{source_id: content_hash}`` of the answer's cited sources in ``hashes`` (the manifest)."""
    return {sid: hashes.get(sid, MISSING) for sid in cited_sources(answer)}


def library_version(versions: Mapping[str, str]) -> str:
    """A short, order-independent hash of (source_id, content_hash) pairs."""
    payload = json.dumps(sorted(versions.items()), separators=(",", ":"))
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()[:12]


def changed_sources(saved: Mapping[str, str], current: Mapping[str, str]) -> list[str]:
    """Cited sources whose content changed, or that are no longer in the library."""
    return sorted(
        sid for sid, digest in saved.items() if digest == MISSING or current.get(sid) != digest
    )
