"""files -> SourceDoc -> Chunks -> embeddings -> Chroma + lexical index, idempotently."""

from __future__ import annotations

import logging
import os
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from assistant.config import Settings
from assistant.ingest.chunking import chunk_document, embedding_text
from assistant.ingest.datadir import guarded_writes
from assistant.ingest.loaders import LoadError, discover_files, load_file_with_warnings
from assistant.ingest.lock import ingest_lock
from assistant.ingest.store import Library
from assistant.types import Chunk, SourceDoc

logger = logging.getLogger(__name__)


@dataclass
class IngestReport:
    added: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    skipped: list[dict[str, str]] = field(default_factory=list)
    warnings: list[dict[str, str]] = field(default_factory=list)
    files_read: int = 0
    chunks_written: int = 0
    chunks_total: int = 0
    sources_total: int = 0
    recovered_orphans: int = 0
    recovered_sources: int = 0
    seconds: float = 0.0

    def summary(self) -> dict[str, Any]:
        data = asdict(self)
        data["docs_per_s"] = (
            round((len(self.added) + len(self.updated)) / self.seconds, 2) if self.seconds else 0.0
        )
        data["chunks_per_s"] = round(self.chunks_written / self.seconds, 2) if self.seconds else 0.0
        return data

    def text(self) -> str:
        lines = [
            f"added {len(self.added)}, updated {len(self.updated)}, "
            f"unchanged {len(self.unchanged)}, removed {len(self.removed)}; "
            f"{self.chunks_written} chunks written, "
            f"{self.chunks_total} chunks in {self.sources_total} sources; {self.seconds:.1f} s"
        ]
        if self.recovered_orphans or self.recovered_sources:
            lines.append(
                "recovered an interrupted ingest: "
                f"{self.recovered_orphans} orphan vectors deleted, "
                f"{self.recovered_sources} sources redone"
            )
        for item in self.skipped:
            lines.append(f"skipped {item['path']}: {item['reason']}")
        for item in self.warnings:
            lines.append(f"warning {item['path']}: {item['reason']}")
        return "\n".join(lines)


def _resolved(path: str) -> str:
    """The real path, or the absolute one where a symlink loop leaves no real path."""
    try:
        return str(Path(path).resolve())
    except (OSError, RuntimeError):
        return os.path.abspath(path)


def _within(path: str | None, roots: Sequence[Path]) -> bool:
    if not path:
        return False
    target = Path(_resolved(path))
    return any(target == root or root in target.parents for root in roots)


def _load_all(
    paths: Sequence[Path], settings: Settings, report: IngestReport
) -> tuple[list[SourceDoc], set[str]]:
    """Load every file; bad files are reported and skipped. Returns docs and failed paths."""
    files, skipped = discover_files(paths)
    report.skipped.extend({"path": s.path, "reason": s.reason} for s in skipped)
    failed = {_resolved(s.path) for s in skipped}
    docs: dict[str, SourceDoc] = {}
    for path in files:
        try:
            loaded, warnings = load_file_with_warnings(path, settings.ingest)
        except LoadError as exc:
            report.skipped.append({"path": str(path), "reason": str(exc)})
            failed.add(_resolved(str(path)))
            continue
        report.files_read += 1
        report.warnings.extend({"path": str(path), "reason": w} for w in warnings)
        for doc in loaded:
            if doc.source_id in docs:
                first = docs[doc.source_id].path
                report.warnings.append(
                    {
                        "path": str(path),
                        "reason": f"duplicate source_id {doc.source_id!r} "
                        f"(already read from {first}); kept the first",
                    }
                )
                continue
            if not any(s.text.strip() for s in doc.sections):
                report.skipped.append(
                    {"path": str(path), "reason": f"source {doc.source_id!r} has no body text"}
                )
                continue
            docs[doc.source_id] = doc
    return list(docs.values()), failed


def _batches(
    docs: Sequence[SourceDoc], settings: Settings
) -> Iterator[list[tuple[SourceDoc, list[Chunk], list[str]]]]:
    batch: list[tuple[SourceDoc, list[Chunk], list[str]]] = []
    size = 0
    for doc in docs:
        chunks = chunk_document(doc, settings.chunking)
        batch.append((doc, chunks, [embedding_text(c, doc.title) for c in chunks]))
        size += len(chunks)
        if size >= settings.ingest.batch_chunks:
            yield batch
            batch, size = [], 0
    if batch:
        yield batch


def ingest(
    paths: Sequence[Path],
    settings: Settings,
    *,
    prune: bool = False,
    library: Library | None = None,
    progress: bool = True,
    wait: bool = True,
) -> IngestReport:
    """Bring the library in line with ``paths``: add new sources, replace changed ones.

    Unchanged sources are not touched. With ``prune``, stored sources that came from files
    under ``paths`` and are no longer there are removed; sources of a file that failed to load
    are kept. A previous interrupted run is repaired first. One ingest runs per data directory
    at a time: another one waits for it (``wait``) or raises IngestBusy. A read-only or full
    data directory raises DataDirError (one line; the stored index is kept).
    """
    with guarded_writes(settings.data_dir), ingest_lock(settings.data_dir, wait=wait):
        return _ingest(paths, settings, prune=prune, library=library, progress=progress)


def _ingest(
    paths: Sequence[Path],
    settings: Settings,
    *,
    prune: bool,
    library: Library | None,
    progress: bool,
) -> IngestReport:
    started = time.perf_counter()
    report = IngestReport()
    lib = library or Library(settings)
    recovered = lib.reconcile()
    report.recovered_orphans = recovered.orphans_deleted
    report.recovered_sources = recovered.sources_marked_dirty

    docs, failed = _load_all(paths, settings, report)
    stored = lib.manifest.hashes()
    stored_paths = {row.ref.source_id: row.path for row in lib.sources()}
    moved: dict[str, str] = {}
    todo: list[SourceDoc] = []
    for doc in docs:
        previous = stored.get(doc.source_id)
        if previous == doc.content_hash():
            report.unchanged.append(doc.source_id)
            if doc.path and stored_paths.get(doc.source_id) != doc.path:
                moved[doc.source_id] = doc.path  # e.g. a relative path an older version stored
        else:
            (report.updated if previous else report.added).append(doc.source_id)
            todo.append(doc)

    if moved:
        lib.manifest.set_paths(moved)
    batches = list(_batches(todo, settings))  # chunked first: the bar counts chunks
    bar = _progress(sum(len(c) for b in batches for _, c, _ in b), enabled=progress)
    docs_done = 0
    for batch in batches:
        lib.write_batch(batch, progress=bar.update if bar is not None else None)
        report.chunks_written += sum(len(chunks) for _, chunks, _ in batch)
        docs_done += len(batch)
        if bar is not None:
            bar.set_postfix_str(f"{docs_done}/{len(todo)} docs")
    if bar is not None:
        bar.close()

    if prune:
        roots = [Path(_resolved(str(p))) for p in paths]
        seen = {d.source_id for d in docs}
        rows = [r for r in lib.sources() if r.ref.source_id not in seen]
        for row in rows:
            if row.path and not Path(row.path).is_absolute():
                report.warnings.append(
                    {
                        "path": row.path,
                        "reason": f"kept {row.ref.source_id!r}: its stored path is relative "
                        "(an older version), so it cannot be told apart from today's working "
                        "directory; ingest its folder once to record the absolute path",
                    }
                )
        gone = [
            row.ref.source_id
            for row in rows
            if row.path
            and Path(row.path).is_absolute()
            and _within(row.path, roots)
            and _resolved(row.path) not in failed
        ]
        if gone:
            lib.remove(gone)
            report.removed.extend(gone)

    lib.finish(changed=bool(report.added or report.updated or report.removed))
    report.chunks_total = lib.manifest.count_chunks()
    report.sources_total = len(lib.sources())
    report.seconds = time.perf_counter() - started
    if library is None:
        lib.close()
    return report


def _progress(total: int, enabled: bool) -> Any:
    if not enabled or total == 0:
        return None
    from tqdm import tqdm

    return tqdm(total=total, unit="chunk", file=sys.stderr, desc="ingest", dynamic_ncols=True)
