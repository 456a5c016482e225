"""The app's one shared backend: library, ask chain and feedback log.

Per-session state never lives here (it is a ``UISession`` in each browser session's gr.State);
this object only holds what every session shares.

Questions never wait for an upload: an upload is ingested through its own ``Library`` (own
connections) while the chain keeps reading the index as it was when the upload started (a held
manifest snapshot; the replaced vectors are kept until then). Once the upload is complete the
chain switches to the new index in one short exclusive step. No gradio import.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from assistant.config import Settings
from assistant.feedback import FeedbackRecord, log_feedback
from assistant.ingest.datadir import DataDirError
from assistant.ingest.lock import IngestBusy
from assistant.ingest.manifest import SourceRow
from assistant.ingest.store import IndexMissing, Library
from assistant.privacy import keep_local
from assistant.status import library_status
from assistant.types import Answer
from assistant.ui.library import Staged, stage_uploads, upload_report_html
from assistant.ui.rwlock import ReadWriteLock

if TYPE_CHECKING:
    from assistant.ask.chain import AskChain
    from assistant.ask.session import Conversation
    from assistant.ask.stream import StreamEvent

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
        keep_local()
        self.lock = threading.RLock()
        """Guards building the chain."""
        self.readers = ReadWriteLock()
        """Questions share it; switching to a new index takes it alone (briefly)."""
        self._roles: dict[str, str] | None = None
        self._ingest = threading.Lock()
        """One upload ingested at a time in this app (the data-dir lock covers other processes)."""

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

    def examples(self, n: int = 4) -> list[str]:
        """Example questions the library can answer (none before it is built)."""
        if self.settings.ui.examples:
            return list(self.settings.ui.examples)
        if self.chain is None:
            return []
        return self.chain.example_questions(n)

    def ask(self, conversation: Conversation, question: str, audience: str) -> Answer:
        with self.readers.shared():
            with self.lock:
                chain = self._chain()
            return conversation.ask(chain, question, audience)

    def ask_stream(
        self, conversation: Conversation, question: str, audience: str
    ) -> Iterator[StreamEvent]:
        """``ask`` as the events of ``assistant.ask.stream``; the answer is recorded in the
        conversation before ``Done`` is yielded."""
        from assistant.ask.stream import Done, stream_answer

        with self.lock:
            chain = self._chain()
        events = stream_answer(
            chain,
            question,
            conversation.turns,
            audience,
            citation_map=conversation.citation_map,
            hold=self.readers.shared,
        )
        for event in events:
            if isinstance(event, Done):
                conversation.record(event.answer)
            yield event

    def sources(self) -> list[SourceRow]:
        with self.readers.shared():
            return self.library.sources()

    @property
    def ingesting(self) -> bool:
        """Whether an upload is being ingested by this app right now."""
        return self._ingest.locked()

    def role_of(self, user: str | None) -> str | None:
        """The role of a logged-in user (``gr.Request.username``): 'reader' or 'reviewer';
        None when the app has no login or the name is unknown."""
        if self._roles is None:
            from assistant.ui.auth import load_accounts

            self._roles = {a.user: a.role for a in load_accounts(self.settings).values()}
        return self._roles.get(user or "")

    def status(self) -> dict[str, Any]:
        return library_status(self.settings)

    def _ingest_uploads(self, files: list[Path], progress: bool) -> dict[str, Any]:
        """Ingest beside the readers, then switch them to the new index."""
        from assistant.ingest.pipeline import ingest

        writer = Library(self.settings, embeddings=self.library.embeddings)
        writer.hold_stale = True  # the chain may still read them until it switches
        self.library.manifest.hold_snapshot()
        try:
            report = ingest(files, self.settings, library=writer, progress=progress, wait=False)
        finally:
            with self.readers.exclusive():
                self.library.manifest.release_snapshot()
                with self.lock:
                    if self.chain is not None:
                        self.chain.refresh()
                    elif self.library.is_built():
                        self._chain()
            try:
                writer.delete_stale()
            finally:
                writer.close()
        return report.summary()

    def save_feedback(self, record: FeedbackRecord) -> Path | None:
        """Append to the feedback log; None (nothing written) when ``ui.feedback_log`` is off."""
        if not self.settings.ui.feedback_log:
            return None
        return log_feedback(self.settings, record)

    def feedback_note(self, message: str) -> str:
        """What to tell the user after feedback (says so when the log is off)."""
        if self.settings.ui.feedback_log:
            return message
        return "Thank you. Feedback is not recorded on this server (its feedback log is off)."

    def add_files(
        self,
        uploads: Sequence[Path],
        progress: bool = True,
        guard: Callable[[Path], str | None] | None = None,
    ) -> str:
        """Check, copy into <data_dir>/uploads/ and ingest uploads; an escaped per-file report.

        ``guard`` refuses paths that are not files the app received (see ``ui.uploads``).
        """
        ui = self.settings.ui
        staged = Staged()
        summary: dict[str, Any] | None = None
        error = ""
        if not self._ingest.acquire(blocking=False):  # before copying: never replace its files
            staged = Staged(rejected=[(p.name, "not added") for p in uploads])
            error = "Another upload is being added to the library: try again when it is done."
        else:
            try:
                staged = stage_uploads(
                    uploads, self.upload_dir, ui.upload_max_mb, guard, ui.upload_max_files
                )
                if staged.files:
                    summary = self._ingest_uploads(staged.files, progress)
            except (IngestBusy, DataDirError) as exc:
                error = f"The files could not be added: {exc}."
            except Exception as exc:  # shown in the report; the stored library is kept
                logger.exception("ingest of uploads failed")
                error = f"The files could not be added ({type(exc).__name__}: {exc})."
            finally:
                self._ingest.release()
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
