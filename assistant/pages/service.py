"""The pages API used by the CLI and the app: save, review, re-answer, match, view.

Every operation that changes a status takes the acting ``User`` with its roles; the caller
establishes them (the app from its login and ``ui.reviewers``, the CLI from ``--reviewer`` and
the same setting). The library is read for two things only: the content hashes of cited
sources (library version, staleness) and the embedder (question vectors).
"""

from __future__ import annotations

import threading
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from assistant.ask.citations import check_answer_citations
from assistant.config import Settings
from assistant.ingest.manifest import Manifest
from assistant.ingest.store import manifest_path
from assistant.pages.match import MATCH_THRESHOLD, Candidate, find_matches
from assistant.pages.store import PAGES_FILE, HistoryEntry, NewPage, Page, PageStore
from assistant.pages.version import MISSING, changed_sources, library_version, source_versions
from assistant.pages.workflow import (
    NEEDS_REREVIEW,
    STATUS_LABELS,
    PageError,
    SourcesChanged,
    User,
    parse_status,
    user_from_settings,
)
from assistant.prompts import disclaimer
from assistant.types import Answer

if TYPE_CHECKING:
    from langchain_core.embeddings import Embeddings

    from assistant.ingest.store import Library

NEEDS_REREVIEW_FILTER = "needs-re-review"
"""Pseudo-status for listing: approved pages whose cited sources changed."""


@dataclass(frozen=True)
class PageView:
    """A page with what is known about it now: its history and which cited sources changed."""

    page: Page
    history: list[HistoryEntry] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)

    @property
    def needs_rereview(self) -> bool:
        return self.page.status == "approved" and bool(self.changed)

    @property
    def status_label(self) -> str:
        return NEEDS_REREVIEW if self.needs_rereview else STATUS_LABELS[self.page.status]


@dataclass(frozen=True)
class Served:
    """An approved page that answers a new question (``changed`` non-empty: it is stale)."""

    view: PageView
    similarity: float

    @property
    def fresh(self) -> bool:
        return not self.view.changed


class PagesService:
    def __init__(
        self,
        settings: Settings,
        library: Library | None = None,
        lock: AbstractContextManager[object] | None = None,
        store: PageStore | None = None,
        threshold: float = MATCH_THRESHOLD,
    ) -> None:
        """``library``/``lock``: the app passes its shared library and the lock that guards it;
        without a library, hashes are read from the manifest file and the embedder is loaded
        on first use."""
        self.settings = settings
        self.library = library
        self.lock: AbstractContextManager[object] = lock or nullcontext()
        self.store = store or PageStore(settings.data_dir / PAGES_FILE)
        self.threshold = threshold
        self._embeddings: Embeddings | None = None
        self._embed_lock = threading.Lock()

    # -- who and what ------------------------------------------------------------------------
    def user(self, name: str | None) -> User:
        """A user name with the roles the settings give it (``ui.reviewers``)."""
        return user_from_settings(name, self.settings.ui.reviewers)

    def current_hashes(self) -> dict[str, str]:
        """``{source_id: content_hash}`` of the library now (empty when it has no index)."""
        if self.library is not None:
            with self.lock:
                return self.library.manifest.hashes()
        path = manifest_path(self.settings)
        if not path.is_file():
            return {}
        manifest = Manifest(path, readonly=True)
        try:
            return manifest.hashes()
        finally:
            manifest.close()

    def embed(self, text: str) -> list[float]:
        if self.library is not None:
            with self.lock:
                return self.library.embeddings.embed_query(text)
        with self._embed_lock:
            if self._embeddings is None:
                from assistant.models import LazyEmbeddings

                self._embeddings = LazyEmbeddings(self.settings.embedding)
        return self._embeddings.embed_query(text)

    @property
    def vector_model(self) -> str:
        return self.settings.embedding.model

    def _new_page(self, answer: Answer, created_by: str) -> NewPage:
        versions = source_versions(answer, self.current_hashes())
        return NewPage(
            answer=answer,
            sources=versions,
            library_version=library_version(versions),
            created_by=created_by,
            vector=self.embed(answer.standalone_question or answer.question),
            vector_model=self.vector_model,
        )

    # -- operations --------------------------------------------------------------------------
    def save(self, answer: Answer, user: User) -> Page:
        """Store an answer as a new page (status submitted); anyone may do this.

        The answer must pass the citation checks every answer passes (each bullet cites, each
        citation resolves, numbers are in the cited passages) and cite only sources the library
        holds: an edited ``ask --json`` file cannot smuggle in an unsourced claim.
        """
        if not answer.disclaimer.strip():
            answer = answer.model_copy(update={"disclaimer": disclaimer()})
        try:
            check_answer_citations(answer.sections, answer.references)
        except AssertionError as exc:
            raise PageError(f"the answer fails the citation checks: {exc}") from exc
        new = self._new_page(answer, user.name)
        missing = [sid for sid, digest in new.sources.items() if digest == MISSING]
        if missing:
            raise PageError(
                "the answer cites sources this library does not hold: " + ", ".join(missing)
            )
        return self.store.create(new)

    def review(
        self,
        page_id: int,
        status: str,
        reviewer: User,
        note: str = "",
        expected_revision: int | None = None,
    ) -> Page:
        """Change a page's status as ``reviewer``; approval is refused while any cited source
        differs from the version the answer was made from."""
        target = parse_status(status)
        hashes = self.current_hashes() if target == "approved" else {}

        def sources_unchanged(page: Page) -> None:
            if target != "approved":
                return
            changed = changed_sources(page.sources, hashes)
            if changed:
                raise SourcesChanged(
                    f"page {page.id} cannot be approved: its cited sources changed since the "
                    f"answer was made ({', '.join(changed)}). Regenerate its answer first "
                    f"(`assistant pages reanswer {page.id}` or 'Regenerate answer' in the "
                    "Review tab), then review it again"
                )

        return self.store.set_status(
            page_id, target, reviewer, note.strip(), expected_revision, check=sources_unchanged
        )

    def replace_answer(
        self,
        page_id: int,
        answer: Answer,
        reviewer: User,
        note: str = "",
        expected_revision: int | None = None,
    ) -> Page:
        """Put a newly generated answer on the page (it goes back to submitted)."""
        new = self._new_page(answer, reviewer.name)
        return self.store.replace_answer(page_id, new, reviewer, note.strip(), expected_revision)

    # -- reading -----------------------------------------------------------------------------
    def view(self, page_id: int, hashes: dict[str, str] | None = None) -> PageView:
        page = self.store.get(page_id)
        current = self.current_hashes() if hashes is None else hashes
        return PageView(page, self.store.history(page_id), changed_sources(page.sources, current))

    def views(self, status: str | None = None) -> list[PageView]:
        """Pages (without their history), most recently updated first; ``status`` may be
        ``needs-re-review``."""
        stored = "approved" if status == NEEDS_REREVIEW_FILTER else status
        if stored is not None:
            parse_status(stored)
        hashes = self.current_hashes()
        out = [
            PageView(p, [], changed_sources(p.sources, hashes))
            for p in self.store.pages(status=stored)
        ]
        if status == NEEDS_REREVIEW_FILTER:
            out = [v for v in out if v.needs_rereview]
        return out

    def match(self, question: str, audience: str) -> Served | None:
        """The approved page that answers ``question`` for this audience: the most similar
        one whose sources are unchanged, else the most similar stale one, else None."""
        approved = self.store.pages(status="approved", audience=audience)
        if not approved:
            return None
        candidates = []
        for page in approved:
            vector = page.vector if page.vector_model == self.vector_model else None
            if vector is None:
                # saved under another embedder (or without a vector): compare like with like
                embedded = self.embed(page.standalone_question)
                self.store.set_vector(page.id, embedded, self.vector_model)
                vector = np.asarray(embedded, dtype=np.float32)
            candidates.append(Candidate(page.id, page.standalone_question, audience, vector))
        found = find_matches(question, self.embed(question), audience, candidates, self.threshold)
        if not found:
            return None
        hashes = self.current_hashes()
        by_id = {p.id: p for p in approved}
        served = [
            Served(
                PageView(by_id[m.page_id], [], changed_sources(by_id[m.page_id].sources, hashes)),
                m.similarity,
            )
            for m in found
        ]
        fresh = [s for s in served if s.fresh]
        best = fresh[0] if fresh else served[0]
        return Served(self.view(best.view.page.id, hashes), best.similarity)
