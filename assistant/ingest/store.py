"""The library on disk: manifest (truth), Chroma vectors and the lexical index, kept in agreement.

Layout of the data directory::

    DATA_DIR/chroma/                      embedded Chroma (unless a Chroma server URL is set)
    DATA_DIR/index/<collection>/manifest.sqlite
    DATA_DIR/index/<collection>/lexical/  bm25s files + ids.json
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlparse

from assistant.config import Settings
from assistant.ingest.lexical import LexicalIndex
from assistant.ingest.manifest import Manifest, SourceRow
from assistant.types import GUIDANCE_TYPES, Chunk, SourceDoc

if TYPE_CHECKING:
    from langchain_core.embeddings import Embeddings

logger = logging.getLogger(__name__)


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
            path = settings.data_dir / "chroma"
            path.mkdir(parents=True, exist_ok=True)
            client = chromadb.PersistentClient(path=str(path), settings=chroma_settings)
            self.location = str(path)
        self.store = Chroma(
            collection_name=settings.index_name(),
            embedding_function=embeddings,
            client=client,
            collection_metadata={"hnsw:space": "cosine"},
        )

    def upsert(self, ids: list[str], texts: list[str], metadatas: list[dict[str, Any]]) -> None:
        if ids:
            self.store.add_texts(texts=texts, metadatas=metadatas, ids=ids)

    def delete(self, ids: Sequence[str]) -> None:
        ids = list(ids)
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

    def count(self) -> int:
        return int(self.store._collection.count())

    def search(
        self, vector: list[float], k: int, where: dict[str, Any] | None = None
    ) -> list[tuple[str, float]]:
        """Top ``k`` (chunk id, cosine similarity), most similar first."""
        # despite its name this returns Chroma's distances (cosine space: 1 - similarity)
        hits = self.store.similarity_search_by_vector_with_relevance_scores(
            vector, k=k, filter=where
        )
        return [(str(doc.id), 1.0 - float(distance)) for doc, distance in hits if doc.id]


class Library:
    """Everything ingest writes and retrieval reads, opened from one Settings object."""

    def __init__(self, settings: Settings, embeddings: Embeddings | None = None) -> None:
        self.settings = settings
        self.root = index_dir(settings)
        self.manifest = Manifest(manifest_path(settings))
        self._embeddings = embeddings
        self._dense: DenseIndex | None = None
        self._lexical: LexicalIndex | None = None

    # -- components, opened lazily -------------------------------------------------------
    @property
    def embeddings(self) -> Embeddings:
        """The embedder given to the constructor, or the configured one loaded on first use."""
        if self._embeddings is None:
            from assistant.models import LazyEmbeddings

            self._embeddings = LazyEmbeddings(self.settings.embedding)
        return self._embeddings

    @property
    def dense(self) -> DenseIndex:
        if self._dense is None:
            self._dense = DenseIndex(self.settings, self.embeddings)
        return self._dense

    @property
    def lexical(self) -> LexicalIndex:
        """The lexical index, rebuilt from the manifest if it is missing or out of date."""
        if self._lexical is None:
            loaded = LexicalIndex.load(self.lexical_dir)
            if loaded is None or loaded.generation != self.manifest.revision():
                loaded = self.rebuild_lexical()
            self._lexical = loaded
        return self._lexical

    @property
    def lexical_dir(self) -> Path:
        return self.root / "lexical"

    def close(self) -> None:
        self.manifest.close()

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
    def write_batch(self, items: list[tuple[SourceDoc, list[Chunk], list[str]]]) -> None:
        """Replace these sources' chunks: vectors first, then the manifest (the commit point)."""
        stale: list[str] = []
        ids: list[str] = []
        texts: list[str] = []
        metas: list[dict[str, Any]] = []
        for doc, chunks, embed_texts in items:
            new_ids = {c.chunk_id for c in chunks}
            stale.extend(self.manifest.chunk_ids(doc.source_id) - new_ids)
            ids.extend(c.chunk_id for c in chunks)
            texts.extend(embed_texts)
            metas.extend(chunk_metadata(doc, c) for c in chunks)
        self.dense.delete(stale)
        self.dense.upsert(ids, texts, metas)
        self.manifest.replace_sources(items)
        self._lexical = None

    def remove(self, source_ids: Sequence[str]) -> None:
        ids: list[str] = []
        for sid in source_ids:
            ids.extend(self.manifest.chunk_ids(sid))
        self.dense.delete(ids)
        self.manifest.remove_sources(source_ids)
        self._lexical = None

    def reload_lexical(self) -> None:
        """Forget the loaded lexical index: the next use reads (or rebuilds) it from disk."""
        self._lexical = None

    def rebuild_lexical(self) -> LexicalIndex:
        # the revision is read first: a write racing with the build only causes another rebuild
        revision = self.manifest.revision()
        index = LexicalIndex.build(self.manifest.iter_embed_texts(), revision)
        index.save(self.lexical_dir)
        self._lexical = index
        return index

    def finish(self) -> None:
        """Bring the lexical index up to date and stamp the build time."""
        _ = self.lexical
        self.manifest.set_meta("last_built", str(time.time()))

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
