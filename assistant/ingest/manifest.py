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

import numpy as np

from assistant.ingest.datadir import open_sqlite
from assistant.types import Chunk, SourceDoc, SourceRef

UNIT_DTYPE = np.float16
"""Unit (sentence) vectors are stored as float16: half the bytes, cosines unchanged to 1e-3."""

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
CREATE TABLE IF NOT EXISTS units (
    chunk_id TEXT NOT NULL,
    idx INTEGER NOT NULL,
    role TEXT NOT NULL,
    vector BLOB NOT NULL,
    PRIMARY KEY (chunk_id, idx)
);
CREATE TABLE IF NOT EXISTS source_meta (
    source_id TEXT PRIMARY KEY,
    terms_json TEXT NOT NULL,
    record_json TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""

REVISION = "revision"
"""Meta key of a token that changes with every write of chunks (what derived indexes follow)."""

DERIVED = "derive_version"
"""Meta key: the version of the code that derived the stored terms and evidence records."""

DIRTY = "dirty"
"""Content hash of a source whose stored chunks may be incomplete (it is re-ingested next time)."""


@dataclass
class SourceExtras:
    """What ingest derives from a source besides its chunks: its units' roles and vectors (per
    chunk id, in line order), its vocabulary terms and its evidence record (both JSON)."""

    units: dict[str, list[tuple[str, np.ndarray]]]
    terms_json: str = "{}"
    record_json: str = "{}"


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
            self._db = open_sqlite(path)
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

    def chunk_ids_by_source(self) -> dict[str, list[str]]:
        """Every chunk id, grouped by source (one query, for filters over many sources)."""
        out: dict[str, list[str]] = {}
        for cid, sid in self._db.execute("SELECT chunk_id, source_id FROM chunks"):
            out.setdefault(sid, []).append(cid)
        return out

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

    def units(self, chunk_ids: Iterable[str]) -> dict[str, list[tuple[str, np.ndarray]]]:
        """(role, vector) of each unit of these chunks, in line order; vectors are widened to
        float32 here, once, because scoring and duplicate checks compare them many times."""
        ids = list(dict.fromkeys(chunk_ids))
        out: dict[str, list[tuple[str, np.ndarray]]] = {}
        for start in range(0, len(ids), 500):
            part = ids[start : start + 500]
            marks = ",".join("?" * len(part))
            query = (
                f"SELECT chunk_id, role, vector FROM units WHERE chunk_id IN ({marks}) "
                "ORDER BY chunk_id, idx"
            )
            for cid, role, blob in self._db.execute(query, part):
                out.setdefault(cid, []).append(
                    (role, np.frombuffer(blob, dtype=UNIT_DTYPE).astype(np.float32))
                )
        return out

    def iter_source_meta(self) -> Iterator[tuple[str, str, str]]:
        """(source_id, terms_json, record_json) of every source."""
        yield from self._db.execute(
            "SELECT source_id, terms_json, record_json FROM source_meta ORDER BY source_id"
        )

    def records(self, source_ids: Iterable[str]) -> dict[str, str]:
        """The evidence-record JSON of these sources."""
        ids = list(dict.fromkeys(source_ids))
        out: dict[str, str] = {}
        for start in range(0, len(ids), 500):
            part = ids[start : start + 500]
            marks = ",".join("?" * len(part))
            query = f"SELECT source_id, record_json FROM source_meta WHERE source_id IN ({marks})"
            out.update(dict(self._db.execute(query, part)))
        return out

    def iter_embed_texts(self) -> Iterator[tuple[str, str]]:
        yield from self._db.execute("SELECT chunk_id, embed_text FROM chunks ORDER BY chunk_id")

    def count_sources(self) -> int:
        return int(self._db.execute("SELECT COUNT(*) FROM sources").fetchone()[0])

    def count_chunks(self) -> int:
        return int(self._db.execute("SELECT COUNT(*) FROM chunks").fetchone()[0])

    def derived_generation(self) -> str:
        """Changes with the stored chunks and with a new derivation of their terms."""
        return f"{self.revision()}/{self.get_meta(DERIVED) or ''}"

    def revision(self) -> str:
        """Changes whenever stored chunks or their embedded texts change ("" when never written)."""
        return self.get_meta(REVISION) or ""

    def get_meta(self, key: str) -> str | None:
        row = self._db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return row[0] if row else None

    # -- a reader's snapshot -------------------------------------------------------------
    def hold_snapshot(self) -> None:
        """Keep reading what is committed now until ``release_snapshot``, while another
        connection writes (SQLite WAL: an open read transaction sees one snapshot)."""
        if not self._db.in_transaction:
            self._db.execute("BEGIN")
            self._db.execute("SELECT COUNT(*) FROM sources").fetchone()

    def release_snapshot(self) -> None:
        if self._db.in_transaction:
            self._db.execute("COMMIT")

    # -- writes (each one transaction) -----------------------------------------------------
    def set_meta(self, key: str, value: str) -> None:
        self._db.execute("INSERT OR REPLACE INTO meta(key, value) VALUES (?, ?)", (key, value))

    def replace_sources(
        self,
        items: list[tuple[SourceDoc, list[Chunk], list[str]]],
        extras: dict[str, SourceExtras] | None = None,
    ) -> None:
        """Store sources with their chunks and embedded texts (and what ingest derived from
        them), replacing earlier versions."""
        now = time.time()
        extras = extras or {}
        with self._transaction() as db:
            for doc, chunks, embed_texts in items:
                _delete_units(db, doc.source_id)
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
                extra = extras.get(doc.source_id)
                if extra is not None:
                    db.executemany(
                        "INSERT OR REPLACE INTO units(chunk_id, idx, role, vector) "
                        "VALUES (?, ?, ?, ?)",
                        [
                            (cid, i, role, np.asarray(vec, dtype=UNIT_DTYPE).tobytes())
                            for cid, units in extra.units.items()
                            for i, (role, vec) in enumerate(units)
                        ],
                    )
                    db.execute(
                        "INSERT OR REPLACE INTO source_meta VALUES (?, ?, ?)",
                        (doc.source_id, extra.terms_json, extra.record_json),
                    )
            _bump(db)

    def remove_sources(self, source_ids: Iterable[str]) -> None:
        with self._transaction() as db:
            for sid in source_ids:
                _delete_units(db, sid)
                db.execute("DELETE FROM chunks WHERE source_id = ?", (sid,))
                db.execute("DELETE FROM sources WHERE source_id = ?", (sid,))
                db.execute("DELETE FROM source_meta WHERE source_id = ?", (sid,))
            _bump(db)

    def update_source_meta(
        self,
        rows: list[tuple[str, str, str]],
        version: str,
        roles: list[tuple[str, str, int]] = (),  # type: ignore[assignment]
    ) -> None:
        """Replace the derived terms and records of sources (source_id, terms, record) and the
        roles of units (role, chunk_id, idx), and stamp the derivation version, in one
        transaction."""
        with self._transaction() as db:
            db.executemany("INSERT OR REPLACE INTO source_meta VALUES (?, ?, ?)", rows)
            db.executemany("UPDATE units SET role = ? WHERE chunk_id = ? AND idx = ?", roles)
            db.execute("INSERT OR REPLACE INTO meta(key, value) VALUES (?, ?)", (DERIVED, version))

    def set_paths(self, paths: dict[str, str]) -> None:
        """Record where unchanged sources were read from this time (their chunks stay)."""
        with self._transaction() as db:
            db.executemany(
                "UPDATE sources SET path = ? WHERE source_id = ?",
                [(path, sid) for sid, path in paths.items()],
            )

    def mark_dirty(self, source_ids: Iterable[str]) -> None:
        with self._transaction() as db:
            db.executemany(
                "UPDATE sources SET content_hash = ? WHERE source_id = ?",
                [(DIRTY, sid) for sid in source_ids],
            )

    def _transaction(self) -> _Txn:
        return _Txn(self._db)


def _delete_units(db: sqlite3.Connection, source_id: str) -> None:
    db.execute(
        "DELETE FROM units WHERE chunk_id IN (SELECT chunk_id FROM chunks WHERE source_id = ?)",
        (source_id,),
    )


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
