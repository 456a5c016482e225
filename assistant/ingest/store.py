"""The library on disk: manifest (truth), Chroma vectors and the lexical index, kept in agreement.

Layout of the data directory::

    DATA_DIR/chroma/                      embedded Chroma (unless a Chroma server URL is set)
    DATA_DIR/index/<collection>/manifest.sqlite
    DATA_DIR/index/<collection>/lexical/  bm25s files + ids.json
"""

from __future__ import annotations

import logging
import sqlite3
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlparse

import numpy as np

from assistant.config import Settings
from assistant.ingest.datadir import (
    as_data_dir_error,
    chroma_path,
    chroma_snapshot,
    is_writable,
    read_only_error,
)
from assistant.ingest.lexical import LexicalIndex
from assistant.ingest.manifest import Manifest, SourceExtras, SourceRow
from assistant.ingest.units import chunk_units, unit_role
from assistant.types import GUIDANCE_TYPES, Chunk, SourceDoc
from assistant.vocab.library import LibraryVocabulary, build_vocabulary

if TYPE_CHECKING:
    from langchain_core.embeddings import Embeddings

logger = logging.getLogger(__name__)


def _open_manifest(path: Path) -> Manifest:
    """Read-write, or read-only where the data directory cannot be written (a read-only mount,
    a full disk): the stored index still answers; writes then fail with a DataDirError."""
    if path.is_file() and not is_writable(path.parent):
        return Manifest(path, readonly=True)
    try:
        return Manifest(path)
    except sqlite3.OperationalError:
        if not path.is_file():
            raise
        logger.warning("the manifest %s cannot be written: reading it only", path)
        return Manifest(path, readonly=True)


EMBED_SLICE = 2048
"""Texts per encode call when ingest shows progress."""


class IndexMissing(RuntimeError):
    """The library has not been built yet."""


@dataclass(frozen=True)
class Reconciled:
    orphans_deleted: int
    sources_marked_dirty: int
    lexical_rebuilt: bool


def index_dir(settings: Settings) -> Path:
    """Where the manifest and lexical index of this configuration's collection live."""
    return settings.data_dir / "index" / settings.index_name()


def manifest_path(settings: Settings) -> Path:
    return index_dir(settings) / "manifest.sqlite"


def chunk_metadata(doc: SourceDoc, chunk: Chunk) -> dict[str, Any]:
    """Flat, scalar metadata stored with each vector (what Chroma filters on)."""
    meta: dict[str, Any] = {
        "source_id": doc.source_id,
        "heading": chunk.heading,
        "ordinal": chunk.ordinal,
        "evidence_type": doc.evidence_type,
        "guidance": doc.evidence_type in GUIDANCE_TYPES,
        "title": doc.title,
    }
    if doc.year is not None:
        meta["year"] = doc.year
    return meta


class DenseIndex:
    """Chroma through langchain-chroma, cosine space, telemetry off."""

    def __init__(self, settings: Settings, embeddings: Embeddings | None) -> None:
        import chromadb
        from chromadb.config import Settings as ChromaSettings
        from langchain_chroma import Chroma

        chroma_settings = ChromaSettings(anonymized_telemetry=False, allow_reset=False)
        self.snapshot = False
        """Reading a private copy (the data directory cannot be written): no writes."""
        self._data_dir = settings.data_dir
        url = settings.store.chroma_url
        if url:
            parsed = urlparse(url)
            if not parsed.hostname:
                raise ValueError(f"--chroma-url must look like http://HOST:PORT, got {url!r}")
            client: Any = chromadb.HttpClient(
                host=parsed.hostname,
                port=parsed.port or 8000,
                ssl=parsed.scheme == "https",
                settings=chroma_settings,
            )
            self.location = url
        else:
            client = self._open_embedded(settings, chroma_settings)
        self.client = client
        self.store = Chroma(
            collection_name=settings.index_name(),
            embedding_function=embeddings,
            client=client,
            collection_metadata={"hnsw:space": "cosine"},
        )

    def _open_embedded(self, settings: Settings, chroma_settings: Any) -> Any:
        """The data directory's Chroma; a read-only copy of it when it cannot be written."""
        import chromadb

        path = chroma_path(settings.data_dir)
        if path is not None:
            try:
                self.location = str(path)
                return chromadb.PersistentClient(path=str(path), settings=chroma_settings)
            except Exception as exc:  # Chroma's errors for a full disk have no class of their own
                # chromadb caches the half-started client by path: a later open would fail
                from chromadb.api.shared_system_client import SharedSystemClient

                SharedSystemClient._identifier_to_system.pop(str(path), None)
                if as_data_dir_error(exc, settings.data_dir) is None:
                    raise
        copy = chroma_snapshot(settings.data_dir)
        self.snapshot, self.location = True, str(copy)
        return chromadb.PersistentClient(path=str(copy), settings=chroma_settings)

    def _writable(self) -> None:
        if self.snapshot:  # writes would go to a throw-away copy
            raise read_only_error(self._data_dir)

    def close(self) -> None:
        """Release Chroma's files (its database stays open while any client is alive)."""
        close = getattr(self.client, "close", None)
        if close is not None:
            close()

    def upsert(
        self,
        ids: list[str],
        texts: list[str],
        metadatas: list[dict[str, Any]],
        vectors: Sequence[Sequence[float]] | np.ndarray | None = None,
    ) -> None:
        """Store chunks; with ``vectors`` (already computed) the embedder is not called."""
        self._writable()
        if not ids:
            return
        if vectors is None:
            self.store.add_texts(texts=texts, metadatas=metadatas, ids=ids)
            return
        for start in range(0, len(ids), 5000):
            end = start + 5000
            self.store._collection.upsert(
                ids=ids[start:end],
                embeddings=[list(map(float, v)) for v in vectors[start:end]],  # type: ignore[arg-type]
                documents=texts[start:end],
                metadatas=metadatas[start:end],  # type: ignore[arg-type]
            )

    def delete(self, ids: Sequence[str]) -> None:
        ids = list(ids)
        if ids:
            self._writable()
        for start in range(0, len(ids), 5000):
            self.store.delete(ids=ids[start : start + 5000])

    def all_ids(self) -> set[str]:
        out: set[str] = set()
        offset, page = 0, 10_000
        while True:
            got = self.store.get(include=[], limit=page, offset=offset)
            out.update(got["ids"])
            if len(got["ids"]) < page:
                return out
            offset += page

    def vectors(self, ids: Sequence[str]) -> tuple[list[str], np.ndarray]:
        """The stored vectors of these chunk ids (those Chroma has), as (ids, float32 matrix)."""
        found: list[str] = []
        rows: list[np.ndarray] = []
        for start in range(0, len(ids), 5000):
            got = self.store._collection.get(
                ids=list(ids[start : start + 5000]),
                include=["embeddings"],  # type: ignore[list-item]
            )
            found.extend(got["ids"])
            if got["embeddings"] is not None and len(got["embeddings"]):
                rows.append(np.asarray(got["embeddings"], dtype=np.float32))
        matrix = np.concatenate(rows) if rows else np.zeros((0, 0), dtype=np.float32)
        return found, matrix

    def count(self) -> int:
        return int(self.store._collection.count())

    def search(
        self, vector: list[float], k: int, where: dict[str, Any] | None = None
    ) -> list[tuple[str, float]]:
        """Top ``k`` (chunk id, cosine similarity), most similar first."""
        # ids and distances only (cosine space: 1 - similarity): the chunks are read from the
        # manifest, so fetching documents and metadata (langchain-chroma's default) is waste
        got = self.store._collection.query(
            query_embeddings=[np.asarray(vector, dtype=np.float32)],  # type: ignore[arg-type]
            n_results=k,
            where=where,
            include=["distances"],  # type: ignore[list-item]
        )
        distances = got["distances"][0] if got["distances"] else []
        return [(str(cid), 1.0 - float(d)) for cid, d in zip(got["ids"][0], distances, strict=True)]


class Library:
    """Everything ingest writes and retrieval reads, opened from one Settings object."""

    def __init__(self, settings: Settings, embeddings: Embeddings | None = None) -> None:
        self.settings = settings
        self.root = index_dir(settings)
        self.manifest = _open_manifest(manifest_path(settings))
        self._embeddings = embeddings
        # concurrent first questions must open each component once (two Chroma clients created
        # at the same time on one path fail inside chromadb)
        self._opening = threading.RLock()
        self._dense: DenseIndex | None = None
        self._lexical: LexicalIndex | None = None
        self._vocabulary: LibraryVocabulary | None = None
        self.stale_vectors: set[str] = set()
        """Vectors of replaced chunks, deleted once nothing reads them (``delete_stale``)."""
        self.hold_stale = False
        """When set, ``finish`` keeps the stale vectors for readers of the previous index."""

    # -- components, opened lazily -------------------------------------------------------
    @property
    def embeddings(self) -> Embeddings:
        """The embedder given to the constructor, or the configured one loaded on first use."""
        if self._embeddings is None:
            from assistant.models import LazyEmbeddings

            with self._opening:
                if self._embeddings is None:
                    self._embeddings = LazyEmbeddings(self.settings.embedding)
        return self._embeddings

    @property
    def dense(self) -> DenseIndex:
        if self._dense is None:
            with self._opening:
                if self._dense is None:
                    self._dense = DenseIndex(self.settings, self.embeddings)
        return self._dense

    @property
    def lexical(self) -> LexicalIndex:
        """The lexical index, rebuilt from the manifest if it is missing or out of date."""
        if self._lexical is None:
            with self._opening:
                if self._lexical is None:
                    loaded = LexicalIndex.load(self.lexical_dir)
                    if loaded is None or loaded.generation != self.manifest.revision():
                        loaded = self.rebuild_lexical()
                    self._lexical = loaded
        return self._lexical

    @property
    def vocabulary(self) -> LibraryVocabulary:
        """The library's vocabulary, rebuilt from the manifest if missing or out of date."""
        generation = self.manifest.derived_generation()
        if self._vocabulary is None or self._vocabulary.generation != generation:
            loaded = LibraryVocabulary.load(self.vocabulary_path)
            if loaded is None or loaded.generation != generation:
                loaded = self.rebuild_vocabulary()
            self._vocabulary = loaded
        return self._vocabulary

    @property
    def vocabulary_path(self) -> Path:
        return self.root / "vocabulary.json"

    def rebuild_vocabulary(self) -> LibraryVocabulary:
        generation = self.manifest.derived_generation()
        vocabulary = build_vocabulary(self.manifest.iter_source_meta(), generation)
        vocabulary.save(self.vocabulary_path)
        self._vocabulary = vocabulary
        return vocabulary

    @property
    def lexical_dir(self) -> Path:
        return self.root / "lexical"

    def close(self) -> None:
        self.manifest.close()
        if self._dense is not None:
            self._dense.close()
            self._dense = None

    # -- state ---------------------------------------------------------------------------
    def is_built(self) -> bool:
        return self.manifest.count_chunks() > 0

    def require_built(self) -> None:
        if not self.is_built():
            raise IndexMissing(
                f"no library index in {self.settings.data_dir} for this configuration: "
                "build it with `assistant ingest corpus/` (or `make run`, which does it for you)"
            )

    def sources(self) -> list[SourceRow]:
        return self.manifest.sources()

    def last_built(self) -> float | None:
        value = self.manifest.get_meta("last_built")
        return float(value) if value else None

    # -- writes --------------------------------------------------------------------------
    def write_batch(
        self,
        items: list[tuple[SourceDoc, list[Chunk], list[str]]],
        progress: Callable[[int], None] | None = None,
    ) -> None:
        """Replace these sources' chunks: new vectors first, then the manifest (the commit
        point); the replaced vectors are deleted only after that (``delete_stale``), so an
        interruption anywhere leaves every stored source with its vectors (chunk ids are
        content hashes: a changed source gets new ids). The chunks and their units
        (sentences, deduplicated) are embedded together; ``progress`` is told how many of the
        batch's chunks' worth of texts each slice of the encoding covered (a large file moves)."""
        from assistant.ingest.derive import DERIVE_VERSION, derive_extras
        from assistant.ingest.manifest import DERIVED

        if self.manifest.get_meta(DERIVED) is None and self.manifest.count_sources() == 0:
            self.manifest.set_meta(DERIVED, DERIVE_VERSION)  # a new library: derived as written
        stale: list[str] = []
        ids: list[str] = []
        texts: list[str] = []
        metas: list[dict[str, Any]] = []
        unit_texts: dict[str, int] = {}
        for doc, chunks, embed_texts in items:
            new_ids = {c.chunk_id for c in chunks}
            stale.extend(self.manifest.chunk_ids(doc.source_id) - new_ids)
            ids.extend(c.chunk_id for c in chunks)
            texts.extend(embed_texts)
            metas.extend(chunk_metadata(doc, c) for c in chunks)
            for chunk in chunks:
                for unit in chunk_units(chunk):
                    unit_texts.setdefault(unit, len(unit_texts))
        vectors = self._embed([*texts, *unit_texts], len(ids), progress)
        unit_vectors = vectors[len(texts) :]
        extras: dict[str, SourceExtras] = {}
        for doc, chunks, _ in items:
            units = {
                c.chunk_id: [
                    (unit_role(c.heading, u), np.asarray(unit_vectors[unit_texts[u]]))
                    for u in chunk_units(c)
                ]
                for c in chunks
            }
            terms_json, record_json = derive_extras(doc, chunks)
            extras[doc.source_id] = SourceExtras(units, terms_json, record_json)
        self.dense.upsert(ids, texts, metas, vectors[: len(texts)])
        self.manifest.replace_sources(items, extras)
        self.stale_vectors.update(stale)
        self.stale_vectors.difference_update(ids)
        self._lexical = None

    def _embed(
        self, texts: list[str], n_chunks: int, progress: Callable[[int], None] | None
    ) -> np.ndarray:
        """The texts' vectors as one float32 array (a list of Python floats costs six times
        the memory: 2.3 GB for a 47k-chunk file's chunks and units). All texts in one encode
        call, or in slices of EMBED_SLICE when someone watches (each slice still large enough
        for the embedder's sort by length)."""
        if not texts:
            return np.zeros((0, 0), dtype=np.float32)
        if progress is None or len(texts) <= EMBED_SLICE:
            vectors = np.asarray(self.embeddings.embed_documents(texts), dtype=np.float32)
            if progress is not None:
                progress(n_chunks)
            return vectors
        parts: list[np.ndarray] = []
        done_texts = reported = 0
        for start in range(0, len(texts), EMBED_SLICE):
            part = self.embeddings.embed_documents(texts[start : start + EMBED_SLICE])
            parts.append(np.asarray(part, dtype=np.float32))
            done_texts += len(part)
            done = n_chunks * done_texts // len(texts)
            progress(done - reported)
            reported = done
        return np.concatenate(parts)

    def remove(self, source_ids: Sequence[str]) -> None:
        """Forget sources: the manifest first, then their vectors (an interruption leaves
        orphan vectors, which ``reconcile`` deletes, never a source without vectors)."""
        ids: list[str] = []
        for sid in source_ids:
            ids.extend(self.manifest.chunk_ids(sid))
        self.manifest.remove_sources(source_ids)
        self.stale_vectors.update(ids)
        self._lexical = None

    def delete_stale(self) -> None:
        """Delete the vectors that the manifest no longer names."""
        stale = sorted(self.stale_vectors - self.manifest.chunk_ids())
        self.dense.delete(stale)
        self.stale_vectors.clear()

    def reload_lexical(self) -> None:
        """Forget the loaded lexical index: the next use reads (or rebuilds) it from disk."""
        self._lexical = None

    def rebuild_lexical(self) -> LexicalIndex:
        # the revision is read first: a write racing with the build only causes another rebuild
        revision = self.manifest.revision()
        index = LexicalIndex.build(self.manifest.iter_embed_texts(), revision)
        try:
            index.save(self.lexical_dir)
        except OSError as exc:  # a read-only or full data directory: answer from memory
            logger.warning("lexical index kept in memory only: cannot save it (%s)", exc)
        self._lexical = index
        return index

    def ensure_derived(self) -> int:
        """Derive terms, evidence records and unit roles again from the stored chunks when the
        code that derives them changed (no re-embedding); the number of sources redone."""
        from assistant.ingest.derive import DERIVE_VERSION, derive_extras
        from assistant.ingest.manifest import DERIVED

        if self.manifest.get_meta(DERIVED) == DERIVE_VERSION:
            return 0
        rows = []
        roles: list[tuple[str, str, int]] = []
        for row in self.manifest.sources():
            sid = row.ref.source_id
            doc = self.manifest.source_doc(sid)
            if doc is None:
                continue
            chunks = self.manifest.chunks_of(sid)
            rows.append((sid, *derive_extras(doc, chunks)))
            for chunk in chunks:
                roles.extend(
                    (unit_role(chunk.heading, unit), chunk.chunk_id, i)
                    for i, unit in enumerate(chunk_units(chunk))
                )
        self.manifest.update_source_meta(rows, DERIVE_VERSION, roles)
        self._vocabulary = None
        return len(rows)

    def finish(self, changed: bool = True) -> None:
        """Bring the derived records, the lexical index and the vocabulary up to date and
        stamp the build time when the library ``changed`` (or was never stamped): answers show
        it as "library built", so a run that changed nothing must not move it."""
        self.ensure_derived()
        _ = self.lexical
        _ = self.vocabulary
        if changed or self.manifest.get_meta("last_built") is None:
            self.manifest.set_meta("last_built", str(time.time()))
        if not self.hold_stale:
            self.delete_stale()

    def reconcile(self) -> Reconciled:
        """Make Chroma and the lexical index agree with the manifest after an interruption.

        Vectors the manifest does not know are deleted; a source some of whose vectors are
        missing is marked dirty, so the next ingest of its file stores it again.
        """
        manifest_ids = self.manifest.chunk_ids()
        dense_ids = self.dense.all_ids()
        orphans = dense_ids - manifest_ids
        self.dense.delete(sorted(orphans))
        missing = manifest_ids - dense_ids
        dirty: set[str] = set()
        if missing:
            dirty = {c.source_id for c in self.manifest.chunks(missing).values()}
            self.manifest.mark_dirty(dirty)
        loaded = LexicalIndex.load(self.lexical_dir)
        rebuilt = loaded is None or loaded.generation != self.manifest.revision()
        if rebuilt and (manifest_ids or loaded is not None):
            self.rebuild_lexical()
        else:
            self._lexical = loaded
        if orphans or dirty:
            logger.warning(
                "recovered from an interrupted ingest: "
                "%d orphan vectors deleted, %d sources to redo",
                len(orphans),
                len(dirty),
            )
        return Reconciled(len(orphans), len(dirty), rebuilt)
