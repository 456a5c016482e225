"""The manifest: a SQLite file that is the source of truth of what the library holds.

Chroma and the lexical index are derived from it and are made to agree with it after a crash.
"""

from __future__ import annotations

import sqlite3
import time
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from assistant.types import Chunk, SourceDoc, SourceRef

_SCHEMA = """
CREATE TABLE IF NOT EXISTS sources (
    source_id TEXT PRIMARY KEY,
    path TEXT,
    content_hash TEXT NOT NULL,
    ref_json TEXT NOT NULL,
    doc_json TEXT NOT NULL,
    n_chunks INTEGER NOT NULL,
    ingested_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS chunks (
    chunk_id TEXT PRIMARY KEY,
    source_id TEXT NOT NULL,
    chunk_json TEXT NOT NULL,
    embed_text TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS chunks_by_source ON chunks(source_id);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""

REVISION = "revision"
"""Meta key of a token that changes with every write of chunks (what derived indexes follow)."""

DIRTY = "dirty"
"""Content hash of a source whose stored chunks may be incomplete (it is re-ingested next time)."""


@dataclass(frozen=True)
class SourceRow:
    ref: SourceRef
    path: str | None
    content_hash: str
    n_chunks: int
    ingested_at: float


class Manifest:
    def __init__(self, path: Path, readonly: bool = False) -> None:
        """Open (and create) the manifest; ``readonly`` opens an existing one without creating
        or changing any file (sqlite3.Error if it is missing or unreadable)."""
        self.path = path
        if readonly:
            self._db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, check_same_thread=False)
            return
        path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.executescript(_SCHEMA)

    def close(self) -> None:
        self._db.close()

    # -- reads ---------------------------------------------------------------------------
    def sources(self) -> list[SourceRow]:
        rows = self._db.execute(
            "SELECT ref_json, path, content_hash, n_chunks, ingested_at FROM sources "
            "ORDER BY source_id"
        )
        return [
            SourceRow(SourceRef.model_validate_json(r[0]), r[1], r[2], r[3], r[4]) for r in rows
        ]

    def source_doc(self, source_id: str) -> SourceDoc | None:
        row = self._db.execute(
            "SELECT doc_json FROM sources WHERE source_id = ?", (source_id,)
        ).fetchone()
        return SourceDoc.model_validate_json(row[0]) if row else None

    def hashes(self) -> dict[str, str]:
        return dict(self._db.execute("SELECT source_id, content_hash FROM sources"))

    def chunk_ids(self, source_id: str | None = None) -> set[str]:
        if source_id is None:
            return {r[0] for r in self._db.execute("SELECT chunk_id FROM chunks")}
        query = "SELECT chunk_id FROM chunks WHERE source_id = ?"
        return {r[0] for r in self._db.execute(query, (source_id,))}

    def chunks(self, chunk_ids: Iterable[str]) -> dict[str, Chunk]:
        ids = list(chunk_ids)
        out: dict[str, Chunk] = {}
        for start in range(0, len(ids), 500):
            part = ids[start : start + 500]
            marks = ",".join("?" * len(part))
            query = f"SELECT chunk_id, chunk_json FROM chunks WHERE chunk_id IN ({marks})"
            for cid, raw in self._db.execute(query, part):
                out[cid] = Chunk.model_validate_json(raw)
        return out

    def chunks_of(self, source_id: str) -> list[Chunk]:
        query = "SELECT chunk_json FROM chunks WHERE source_id = ?"
        chunks = [Chunk.model_validate_json(r[0]) for r in self._db.execute(query, (source_id,))]
        return sorted(chunks, key=lambda c: c.ordinal)

    def iter_embed_texts(self) -> Iterator[tuple[str, str]]:
        yield from self._db.execute("SELECT chunk_id, embed_text FROM chunks ORDER BY chunk_id")

    def count_sources(self) -> int:
        return int(self._db.execute("SELECT COUNT(*) FROM sources").fetchone()[0])

    def count_chunks(self) -> int:
        return int(self._db.execute("SELECT COUNT(*) FROM chunks").fetchone()[0])

    def revision(self) -> str:
        """Changes whenever stored chunks or their embedded texts change ("" when never written)."""
        return self.get_meta(REVISION) or ""

    def get_meta(self, key: str) -> str | None:
        row = self._db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return row[0] if row else None

    # -- writes (each one transaction) -----------------------------------------------------
    def set_meta(self, key: str, value: str) -> None:
        self._db.execute("INSERT OR REPLACE INTO meta(key, value) VALUES (?, ?)", (key, value))

    def replace_sources(self, items: list[tuple[SourceDoc, list[Chunk], list[str]]]) -> None:
        """Store sources with their chunks and embedded texts, replacing earlier versions."""
        now = time.time()
        with self._transaction() as db:
            for doc, chunks, embed_texts in items:
                db.execute("DELETE FROM chunks WHERE source_id = ?", (doc.source_id,))
                db.executemany(
                    "INSERT INTO chunks(chunk_id, source_id, chunk_json, embed_text) "
                    "VALUES (?, ?, ?, ?)",
                    [
                        (c.chunk_id, c.source_id, c.model_dump_json(), t)
                        for c, t in zip(chunks, embed_texts, strict=True)
                    ],
                )
                db.execute(
                    "INSERT OR REPLACE INTO sources VALUES (?, ?, ?, ?, ?, ?, ?)",
                    (
                        doc.source_id,
                        doc.path,
                        doc.content_hash(),
                        doc.ref().model_dump_json(),
                        doc.model_dump_json(),
                        len(chunks),
                        now,
                    ),
                )
            _bump(db)

    def remove_sources(self, source_ids: Iterable[str]) -> None:
        with self._transaction() as db:
            for sid in source_ids:
                db.execute("DELETE FROM chunks WHERE source_id = ?", (sid,))
                db.execute("DELETE FROM sources WHERE source_id = ?", (sid,))
            _bump(db)

    def mark_dirty(self, source_ids: Iterable[str]) -> None:
        with self._transaction() as db:
            db.executemany(
                "UPDATE sources SET content_hash = ? WHERE source_id = ?",
                [(DIRTY, sid) for sid in source_ids],
            )

    def _transaction(self) -> _Txn:
        return _Txn(self._db)


def _bump(db: sqlite3.Connection) -> None:
    """New revision token, written in the same transaction as the chunks it describes."""
    db.execute(
        "INSERT OR REPLACE INTO meta(key, value) VALUES (?, ?)", (REVISION, uuid.uuid4().hex)
    )


class _Txn:
    def __init__(self, db: sqlite3.Connection) -> None:
        self.db = db

    def __enter__(self) -> sqlite3.Connection:
        self.db.execute("BEGIN IMMEDIATE")
        return self.db

    def __exit__(self, exc_type: object, *_: object) -> None:
        self.db.execute("ROLLBACK" if exc_type else "COMMIT")
