"""The library an eval run asks against: the built-in one, or a data set's own index.

A data set's documents are written as Markdown files (YAML front matter, one ``##`` section per
labelled part) into ``<data_dir>/eval/<key>-<sha>/docs/`` and ingested by the normal pipeline
(``assistant.ingest.pipeline.ingest``) into that directory. The sha covers the input files, the
adapter's parameters and the embedding/chunking settings, so a second run reuses the index and
a changed chunk size builds a new one. The built-in library is never touched by a data set.
"""

from __future__ import annotations

import hashlib
import json
import re
import time
from dataclasses import dataclass
from pathlib import Path

import yaml

from assistant.config import Settings
from assistant.ingest.pipeline import ingest
from assistant.ingest.store import Library
from assistant.text import slugify
from evals.datasets import REPO, Dataset

DOC_FORMAT = 1
"""Bump when the way documents are written changes (it is part of the index hash)."""
_READY = "ready.json"
_HEADING_LIKE = re.compile(r"^(\s*)#+(\s)")


@dataclass
class Prepared:
    settings: Settings
    library: Library
    location: str
    built_now: bool
    ingest_s: float
    sources: int
    chunks: int


def corpus_dir() -> Path:
    """corpus/ in a checkout, or the copy shipped inside the wheel."""
    for candidate in (REPO / "corpus", REPO / "assistant" / "_data" / "corpus"):
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError("the built-in corpus/ directory was not found")


def index_dir(settings: Settings, dataset: Dataset) -> Path:
    """``<data_dir>/eval/<key>-<sha of inputs + parameters + embedding/chunking settings>``."""
    digest = hashlib.sha1()
    for path in dataset.index_inputs:
        with path.open("rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                digest.update(block)
    shape = {
        "format": DOC_FORMAT,
        "params": dataset.index_params,
        "embedding": settings.embedding.model,
        "chunking": settings.chunking.model_dump(),
    }
    digest.update(json.dumps(shape, sort_keys=True).encode())
    return settings.data_dir / "eval" / f"{dataset.index_key}-{digest.hexdigest()[:12]}"


def markdown_file(doc_meta: dict[str, object], sections: list[tuple[str, str]]) -> str:
    """One source as Markdown with front matter; body lines that look like headings are
    defused so the loader keeps them as text."""
    front = yaml.safe_dump(doc_meta, sort_keys=True, allow_unicode=True, width=1000)
    parts = ["---", front.rstrip("\n"), "---", ""]
    for heading, text in sections:
        if heading:
            parts += [f"## {' '.join(heading.split())}", ""]
        lines = [_HEADING_LIKE.sub(r"\1\2", line) for line in text.splitlines()]
        parts += [*lines, ""]
    return "\n".join(parts)


def write_documents(dataset: Dataset, folder: Path) -> int:
    """Write the data set's SourceDocs into ``folder`` (one .md file each)."""
    assert dataset.docs is not None
    folder.mkdir(parents=True, exist_ok=True)
    for doc in dataset.docs:
        meta = doc.model_dump(
            exclude={"sections", "path"}, exclude_none=True, exclude_defaults=False
        )
        meta = {k: v for k, v in meta.items() if v not in ([], "")}
        sections = [(s.heading, s.text) for s in doc.sections]
        sid = hashlib.sha1(doc.source_id.encode()).hexdigest()[:8]
        name = f"{slugify(doc.source_id, 60)}-{sid}.md"
        (folder / name).write_text(markdown_file(meta, sections), encoding="utf-8")
    return len(dataset.docs)


def prepare(
    settings: Settings, dataset: Dataset, *, progress: bool = True, corpus: Path | None = None
) -> Prepared:
    """Open (building it first if needed) the library ``dataset`` is asked against."""
    started = time.perf_counter()
    if dataset.docs is None:
        # built if missing, brought up to date if corpus/ changed (unchanged sources are
        # skipped, other sources in the library are kept): the gold set is about corpus/
        library = Library(settings)
        report = ingest([corpus or corpus_dir()], settings, library=library, progress=progress)
        built_now = bool(report.added or report.updated)
        return _prepared(settings, library, built_now, started)
    root = index_dir(settings, dataset)
    store = settings.store.model_copy(update={"collection_prefix": f"eval-{root.name}"})
    local = settings.model_copy(update={"data_dir": root, "store": store})
    library = Library(local)
    ready = root / _READY
    built_now = not (ready.is_file() and library.is_built())
    if built_now:
        docs_dir = root / "docs"
        write_documents(dataset, docs_dir)
        report = ingest([docs_dir], local, prune=True, library=library, progress=progress)
        if report.skipped:
            first = report.skipped[0]
            raise RuntimeError(f"ingest skipped {first['path']}: {first['reason']}")
        ready.write_text(json.dumps({"sources": report.sources_total}, indent=2))
    return _prepared(local, library, built_now, started)


def _prepared(settings: Settings, library: Library, built_now: bool, started: float) -> Prepared:
    return Prepared(
        settings=settings,
        library=library,
        location=str(settings.data_dir),
        built_now=built_now,
        ingest_s=round(time.perf_counter() - started, 2),
        sources=len(library.sources()),
        chunks=library.manifest.count_chunks(),
    )
