"""The app's one shared backend: library, ask chain and feedback log, behind one lock.

Per-session state never lives here (it is a ``UISession`` in each browser session's gr.State);
this object only holds what every session shares. No gradio import.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from assistant.config import Settings
from assistant.feedback import FeedbackRecord, log_feedback
from assistant.ingest.manifest import SourceRow
from assistant.ingest.store import IndexMissing, Library
from assistant.status import library_status
from assistant.types import Answer
from assistant.ui.library import stage_uploads, upload_report_html

if TYPE_CHECKING:
    from assistant.ask.chain import AskChain
    from assistant.ask.session import Conversation

logger = logging.getLogger(__name__)

UPLOAD_DIR = "uploads"


class AppService:
    """Built once by ``serve``; its methods are called from gradio's worker threads."""

    def __init__(
        self, settings: Settings, library: Library | None = None, chain: AskChain | None = None
    ) -> None:
        self.settings = settings
        self.library = library or (chain.library if chain is not None else Library(settings))
        self.chain = chain
        self.lock = threading.RLock()

    @property
    def upload_dir(self) -> Path:
        return self.settings.data_dir / UPLOAD_DIR

    def _chain(self) -> AskChain:
        """The ask chain, built on first use when the index appeared after start-up."""
        if self.chain is None:
            from assistant.ask.chain import AskChain

            self.chain = AskChain(self.settings, self.library)  # raises IndexMissing
        return self.chain

    def try_build_chain(self, warm_up: bool = True) -> str | None:
        """Build the chain now (and load the embedder, so the first question is fast);
        the reason when it cannot be built (shown in the status)."""
        with self.lock:
            try:
                chain = self._chain()
            except IndexMissing as exc:
                return str(exc)
            if warm_up:
                chain.retriever.embed("warm up")
        return None

    def ask(self, conversation: Conversation, question: str, audience: str) -> Answer:
        with self.lock:
            return conversation.ask(self._chain(), question, audience)

    def sources(self) -> list[SourceRow]:
        with self.lock:
            return self.library.sources()

    def status(self) -> dict[str, Any]:
        return library_status(self.settings)

    def save_feedback(self, record: FeedbackRecord) -> Path:
        return log_feedback(self.settings, record)

    def add_files(
        self,
        uploads: Sequence[Path],
        progress: bool = True,
        guard: Callable[[Path], str | None] | None = None,
    ) -> str:
        """Check, copy into <data_dir>/uploads/ and ingest uploads; an escaped per-file report.

        ``guard`` refuses paths that are not files the app received (see ``ui.uploads``).
        """
        from assistant.ingest.pipeline import ingest

        ui = self.settings.ui
        staged = stage_uploads(
            uploads, self.upload_dir, ui.upload_max_mb, guard=guard, max_files=ui.upload_max_files
        )
        summary: dict[str, Any] | None = None
        error = ""
        if staged.files:
            with self.lock:
                try:
                    report = ingest(
                        staged.files, self.settings, library=self.library, progress=progress
                    )
                    summary = report.summary()
                    if self.chain is not None:
                        self.chain.refresh()
                    elif self.library.is_built():
                        self._chain()
                except Exception as exc:  # shown in the report; the stored library is kept
                    logger.exception("ingest of uploads failed")
                    error = f"The files could not be added ({type(exc).__name__}: {exc})."
        rows = self.sources()
        out = upload_report_html(staged, summary, rows)
        if error:
            import html

            out = out.replace(
                '<div class="upload-report">',
                f'<div class="upload-report"><p class="error">{html.escape(error)}</p>',
                1,
            )
        return out
