"""Library specs: a gold set's own library, chosen by id from the public data sets.

A spec (``evals/gold/<name>-library.yaml``) names the documents a gold file is asked against:
MedQuAD pages by ``url`` and PubMedQA abstracts by ``pmid``, in groups that say how they were
chosen. The data stay in ``../shared/datasets``; only the ids are in the repo. Documents are
built with ``evals.datasets.medquad_page_doc`` (one source per page) and
``evals.datasets.pubmedqa_doc(conclusion=True)`` (the whole abstract), then indexed by
``evals.library`` in a data directory of their own, keyed by a digest of their content.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from assistant.types import SourceDoc
from evals.datasets import (
    DatasetUnavailable,
    medquad_page_doc,
    pubmedqa_doc,
    read_jsonl,
)

MEDQUAD_FILE = Path("medquad") / "medquad.jsonl"
PUBMEDQA_FILE = Path("pubmedqa") / "pqal.jsonl"


@dataclass(frozen=True)
class Group:
    """Documents of one kind, with how they were chosen."""

    name: str
    chosen: str
    ids: tuple[str, ...]


@dataclass
class Spec:
    name: str
    description: str
    medquad: list[Group] = field(default_factory=list)
    pubmedqa: list[Group] = field(default_factory=list)

    def group_of(self) -> dict[str, str]:
        """MedQuAD url or PMID -> its group name."""
        return {i: g.name for g in [*self.medquad, *self.pubmedqa] for i in g.ids}


@dataclass
class BuiltLibrary:
    name: str
    docs: list[SourceDoc]
    digest: str
    """sha1 over every document's content hash: the index key (a changed page, adapter or
    selection builds a new index; an unchanged one is reused)."""
    notes: list[str]
    groups: dict[str, str]
    """source_id -> the spec group it came from."""


def _groups(raw: Any, key: str, where: Path) -> list[Group]:
    if raw is None:
        return []
    if not isinstance(raw, list):
        raise DatasetUnavailable(f"{where}: '{key}' must be a list of groups")
    groups = []
    id_field = "urls" if key == "medquad" else "pmids"
    for n, g in enumerate(raw, start=1):
        if not isinstance(g, dict) or not isinstance(g.get(id_field), list) or not g.get("group"):
            raise DatasetUnavailable(
                f"{where}: {key} group {n} needs 'group', 'chosen' and a list '{id_field}'"
            )
        groups.append(
            Group(str(g["group"]), str(g.get("chosen", "")), tuple(map(str, g[id_field])))
        )
    return groups


def read_spec(path: Path) -> Spec:
    """Parse a spec file; a malformed one raises DatasetUnavailable naming what is wrong."""
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise DatasetUnavailable(f"cannot read library spec {path}: {exc}") from exc
    if not isinstance(raw, dict) or not raw.get("name"):
        raise DatasetUnavailable(f"{path}: a library spec is a mapping with at least 'name'")
    spec = Spec(
        name=str(raw["name"]),
        description=str(raw.get("description", "")).strip(),
        medquad=_groups(raw.get("medquad"), "medquad", path),
        pubmedqa=_groups(raw.get("pubmedqa"), "pubmedqa", path),
    )
    ids = [i for g in [*spec.medquad, *spec.pubmedqa] for i in g.ids]
    dupes = sorted({i for i in ids if ids.count(i) > 1})
    if dupes:
        raise DatasetUnavailable(f"{path}: listed more than once: {', '.join(dupes[:5])}")
    return spec


def _need(path: Path, spec_path: Path) -> Path:
    if not path.is_file():
        raise DatasetUnavailable(
            f"{spec_path.name} builds its library from the data sets in ../shared/datasets, but "
            f"{path} is absent; put ../shared beside the repo, pass --datasets-dir or set "
            "ASSISTANT_SHARED_DIR"
        )
    return path


def _missing(wanted: Iterable[str], found: Iterable[str], what: str, spec_path: Path) -> None:
    absent = sorted(set(wanted) - set(found))
    if absent:
        raise DatasetUnavailable(
            f"{spec_path}: {len(absent)} {what} not in the data set, e.g. {', '.join(absent[:3])}"
        )


def load_library(spec_path: Path, datasets: Path) -> BuiltLibrary:
    """The documents ``spec_path`` selects, built from the data sets under ``datasets``."""
    spec = read_spec(spec_path)
    docs: list[SourceDoc] = []
    origin: dict[str, str] = {}
    group_of = spec.group_of()
    urls = [u for g in spec.medquad for u in g.ids]
    if urls:
        wanted = set(urls)
        by_url: dict[str, list[dict[str, Any]]] = {}
        for row in read_jsonl(_need(datasets / MEDQUAD_FILE, spec_path)):
            if row.get("url") in wanted and str(row.get("answer", "")).strip():
                by_url.setdefault(row["url"], []).append(row)
        _missing(wanted, by_url, "MedQuAD url(s)", spec_path)
        for url in urls:
            doc = medquad_page_doc(by_url[url])
            docs.append(doc)
            origin[doc.source_id] = group_of[url]
    pmids = [p for g in spec.pubmedqa for p in g.ids]
    if pmids:
        rows = {str(r["pmid"]): r for r in read_jsonl(_need(datasets / PUBMEDQA_FILE, spec_path))}
        _missing(pmids, rows, "PubMedQA pmid(s)", spec_path)
        for pmid in pmids:
            docs.append(pubmedqa_doc(rows[pmid], conclusion=True))
            origin[pmid] = group_of[pmid]
    ids = [d.source_id for d in docs]
    clashes = sorted({i for i in ids if ids.count(i) > 1})
    if clashes:
        raise DatasetUnavailable(f"{spec_path}: two documents share the id(s) {clashes[:5]}")
    digest = hashlib.sha1("\n".join(d.content_hash() for d in docs).encode()).hexdigest()
    notes = [
        f"Library '{spec.name}' ({spec_path.name}): {len(urls)} MedQuAD pages (one source per "
        f"page, CC BY 4.0, Ben Abacha & Demner-Fushman 2019) and {len(pmids)} PubMedQA "
        "abstracts (whole abstract incl. its conclusion; titled 'PubMed <PMID>').",
        *([spec.description] if spec.description else []),
    ]
    return BuiltLibrary(spec.name, docs, digest[:16], notes, origin)
