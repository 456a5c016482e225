"""Reviewed pages on disk: one SQLite file in the data directory (WAL, forward migrations).

Every write is one ``BEGIN IMMEDIATE`` transaction, so two writers never interleave; every
status change also names the page ``revision`` its author saw, and is refused (``Conflict``)
when the page changed in between: two reviewers never silently overwrite each other. The
answer is stored as its JSON (whatever fields the Answer model has today) and rendered by the
shared renderers when read.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import ValidationError

from assistant.pages.schema import migrate
from assistant.pages.workflow import (
    INITIAL_STATUS,
    Conflict,
    PageError,
    PageNotFound,
    User,
    check_transition,
    require_reviewer,
)
from assistant.types import Answer

PAGES_FILE = "pages.sqlite"
BUSY_TIMEOUT_S = 15.0


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


@dataclass(frozen=True)
class HistoryEntry:
    at: str
    actor: str
    action: str
    """'saved', 'status' or 'answer-replaced'."""
    from_status: str | None
    to_status: str
    note: str
    revision: int


@dataclass(frozen=True)
class Page:
    id: int
    question: str
    standalone_question: str
    audience: str
    answer_json: str
    sources: dict[str, str]
    """source_id -> content hash of every source the answer cites, as they were at saving."""
    library_version: str
    status: str
    revision: int
    created_at: str
    created_by: str
    updated_at: str
    approved_by: str | None = None
    approved_at: str | None = None
    vector: np.ndarray | None = field(default=None, compare=False, repr=False)
    vector_model: str | None = None

    def answer(self) -> Answer:
        try:
            return Answer.model_validate_json(self.answer_json)
        except ValidationError as exc:
            raise PageError(
                f"page {self.id} holds an answer this version cannot read "
                f"({exc.error_count()} problems); export it with an older version"
            ) from exc

    def answer_data(self) -> dict[str, Any]:
        data: dict[str, Any] = json.loads(self.answer_json)
        return data


@dataclass(frozen=True)
class NewPage:
    """What saving an answer stores."""

    answer: Answer
    sources: dict[str, str]
    library_version: str
    created_by: str
    vector: list[float] | None = None
    vector_model: str | None = None


_COLUMNS = (
    "id, question, standalone_question, audience, answer_json, sources_json, library_version, "
    "status, revision, created_at, created_by, updated_at, approved_by, approved_at, vector, "
    "vector_model"
)


def _page(row: tuple[Any, ...]) -> Page:
    vector = np.frombuffer(row[14], dtype=np.float32) if row[14] is not None else None
    return Page(
        id=row[0],
        question=row[1],
        standalone_question=row[2],
        audience=row[3],
        answer_json=row[4],
        sources=json.loads(row[5]),
        library_version=row[6],
        status=row[7],
        revision=row[8],
        created_at=row[9],
        created_by=row[10],
        updated_at=row[11],
        approved_by=row[12],
        approved_at=row[13],
        vector=vector,
        vector_model=row[15],
    )


def _blob(vector: list[float] | np.ndarray | None) -> bytes | None:
    return None if vector is None else np.asarray(vector, dtype=np.float32).tobytes()


class PageStore:
    """One connection per instance; safe to share between threads (calls are serialised).
    Several instances or processes may use the same file at once."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.RLock()
        self._db = sqlite3.connect(
            path, isolation_level=None, check_same_thread=False, timeout=BUSY_TIMEOUT_S
        )
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.execute("PRAGMA foreign_keys=ON")
        migrate(self._db)

    def close(self) -> None:
        with self._lock:
            self._db.close()

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    # -- reads ---------------------------------------------------------------------------
    def get(self, page_id: int) -> Page:
        with self._lock:
            row = self._db.execute(
                f"SELECT {_COLUMNS} FROM pages WHERE id = ?", (page_id,)
            ).fetchone()
        if row is None:
            raise PageNotFound(f"there is no page {page_id}: `assistant pages list` shows them")
        return _page(row)

    def pages(self, status: str | None = None, audience: str | None = None) -> list[Page]:
        """Pages, most recently updated first, optionally of one status and audience."""
        query = f"SELECT {_COLUMNS} FROM pages"
        where, args = [], []
        if status is not None:
            where.append("status = ?")
            args.append(status)
        if audience is not None:
            where.append("audience = ?")
            args.append(audience)
        if where:
            query += " WHERE " + " AND ".join(where)
        with self._lock:
            # the latest history row is the latest change (timestamps tie within a second)
            order = " ORDER BY (SELECT MAX(h.id) FROM history h WHERE h.page_id = pages.id) DESC"
            rows = self._db.execute(query + order, args).fetchall()
        return [_page(r) for r in rows]

    def history(self, page_id: int) -> list[HistoryEntry]:
        with self._lock:
            rows = self._db.execute(
                "SELECT at, actor, action, from_status, to_status, note, revision FROM history "
                "WHERE page_id = ? ORDER BY id",
                (page_id,),
            ).fetchall()
        return [HistoryEntry(*r) for r in rows]

    # -- writes --------------------------------------------------------------------------
    def create(self, new: NewPage) -> Page:
        answer, at = new.answer, now_iso()
        with self._write() as db:
            cursor = db.execute(
                "INSERT INTO pages (question, standalone_question, audience, answer_json, "
                "sources_json, library_version, status, revision, created_at, created_by, "
                "updated_at, vector, vector_model) VALUES (?, ?, ?, ?, ?, ?, ?, 1, ?, ?, ?, ?, ?)",
                (
                    # a follow-up ("and in children?") is titled by the question it stands for
                    answer.standalone_question or answer.question,
                    answer.standalone_question or answer.question,
                    answer.audience,
                    answer.model_dump_json(),
                    json.dumps(new.sources, sort_keys=True),
                    new.library_version,
                    INITIAL_STATUS,
                    at,
                    new.created_by,
                    at,
                    _blob(new.vector),
                    new.vector_model,
                ),
            )
            page_id = int(cursor.lastrowid or 0)
            _log(db, page_id, at, new.created_by, "saved", None, INITIAL_STATUS, "", 1)
        return self.get(page_id)

    def set_status(
        self,
        page_id: int,
        status: str,
        actor: User,
        note: str = "",
        expected_revision: int | None = None,
        check: Callable[[Page], None] | None = None,
    ) -> Page:
        """Move a page to ``status`` as ``actor`` (a reviewer), in one transaction.

        ``expected_revision``: the revision the caller decided on; a page changed since is
        refused with Conflict. ``check`` may refuse the change after the current page is read
        (inside the transaction, so what it checks cannot change before the write).
        """
        require_reviewer(actor)
        at = now_iso()
        with self._write() as db:
            page = self._locked_page(db, page_id, expected_revision)
            check_transition(page.status, status)
            if check is not None:
                check(page)
            revision = page.revision + 1
            approved = status == "approved"
            db.execute(
                "UPDATE pages SET status = ?, revision = ?, updated_at = ?, approved_by = ?, "
                "approved_at = ? WHERE id = ?",
                (
                    status,
                    revision,
                    at,
                    actor.name if approved else None,
                    at if approved else None,
                    page_id,
                ),
            )
            _log(db, page_id, at, actor.name, "status", page.status, status, note, revision)
        return self.get(page_id)

    def replace_answer(
        self,
        page_id: int,
        new: NewPage,
        actor: User,
        note: str = "",
        expected_revision: int | None = None,
    ) -> Page:
        """A regenerated answer replaces the page's; the page goes back to submitted (nobody
        has reviewed the new text). Reviewers only: it can take a page out of approved."""
        require_reviewer(actor)
        at = now_iso()
        with self._write() as db:
            page = self._locked_page(db, page_id, expected_revision)
            if new.answer.audience != page.audience:
                raise PageError(
                    f"page {page_id} is for {page.audience}s; its answer cannot be replaced by "
                    f"one written for {new.answer.audience}s"
                )
            revision = page.revision + 1
            db.execute(
                "UPDATE pages SET answer_json = ?, sources_json = ?, library_version = ?, "
                "standalone_question = ?, status = ?, revision = ?, updated_at = ?, "
                "approved_by = NULL, approved_at = NULL, vector = ?, vector_model = ? "
                "WHERE id = ?",
                (
                    new.answer.model_dump_json(),
                    json.dumps(new.sources, sort_keys=True),
                    new.library_version,
                    new.answer.standalone_question or new.answer.question,
                    INITIAL_STATUS,
                    revision,
                    at,
                    _blob(new.vector),
                    new.vector_model,
                    page_id,
                ),
            )
            _log(
                db,
                page_id,
                at,
                actor.name,
                "answer-replaced",
                page.status,
                INITIAL_STATUS,
                note,
                revision,
            )
        return self.get(page_id)

    def set_vector(self, page_id: int, vector: list[float], model: str) -> None:
        """Cache a question vector (made by another embedder than the stored one)."""
        with self._write() as db:
            db.execute(
                "UPDATE pages SET vector = ?, vector_model = ? WHERE id = ?",
                (_blob(vector), model, page_id),
            )

    def _locked_page(
        self, db: sqlite3.Connection, page_id: int, expected_revision: int | None
    ) -> Page:
        row = db.execute(f"SELECT {_COLUMNS} FROM pages WHERE id = ?", (page_id,)).fetchone()
        if row is None:
            raise PageNotFound(f"there is no page {page_id}: `assistant pages list` shows them")
        page = _page(row)
        if expected_revision is not None and page.revision != expected_revision:
            last = db.execute(
                "SELECT actor, at FROM history WHERE page_id = ? ORDER BY id DESC LIMIT 1",
                (page_id,),
            ).fetchone()
            who = f" by {last[0]} at {last[1]}" if last else ""
            raise Conflict(
                f"page {page_id} changed{who} since you opened it (it is now {page.status}, "
                f"revision {page.revision}; you had revision {expected_revision}): reload it "
                "and decide again"
            )
        return page


def _log(
    db: sqlite3.Connection,
    page_id: int,
    at: str,
    actor: str,
    action: str,
    from_status: str | None,
    to_status: str,
    note: str,
    revision: int,
) -> None:
    db.execute(
        "INSERT INTO history (page_id, at, actor, action, from_status, to_status, note, "
        "revision) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        (page_id, at, actor, action, from_status, to_status, note, revision),
    )
