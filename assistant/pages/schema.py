"""The pages database schema and its forward migrations.

``schema_version`` records every migration applied; opening a file runs the missing ones in
order, inside one IMMEDIATE transaction (two processes opening a new file at once apply each
exactly once, and a failed migration leaves the file as it was). A file from a newer version
is refused and never altered.
"""

from __future__ import annotations

import sqlite3

from assistant.pages.workflow import PageError

_V1 = """
CREATE TABLE pages (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    question TEXT NOT NULL,
    standalone_question TEXT NOT NULL,
    audience TEXT NOT NULL,
    answer_json TEXT NOT NULL,
    sources_json TEXT NOT NULL,
    library_version TEXT NOT NULL,
    status TEXT NOT NULL,
    revision INTEGER NOT NULL,
    created_at TEXT NOT NULL,
    created_by TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    approved_by TEXT,
    approved_at TEXT,
    vector BLOB,
    vector_model TEXT
);
CREATE INDEX pages_by_status ON pages(status, audience);
CREATE TABLE history (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    page_id INTEGER NOT NULL REFERENCES pages(id),
    at TEXT NOT NULL,
    actor TEXT NOT NULL,
    action TEXT NOT NULL,
    from_status TEXT,
    to_status TEXT NOT NULL,
    note TEXT NOT NULL,
    revision INTEGER NOT NULL
);
CREATE INDEX history_by_page ON history(page_id, id);
"""

MIGRATIONS: list[tuple[int, str]] = [(1, _V1)]
"""(version, SQL) in order; a database is brought forward by running the ones it lacks."""


def schema_version(db: sqlite3.Connection) -> int:
    db.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
    row = db.execute("SELECT MAX(version) FROM schema_version").fetchone()
    return int(row[0] or 0)


def migrate(db: sqlite3.Connection) -> int:
    """Bring the database forward to the latest schema; returns the version it is at.

    Runs in one IMMEDIATE transaction, so two processes opening a new file at once apply each
    migration exactly once. A file written by a newer version is refused, never altered.
    """
    latest = MIGRATIONS[-1][0]
    db.execute("BEGIN IMMEDIATE")
    try:
        current = schema_version(db)
        if current > latest:
            raise PageError(
                f"the pages database is at schema version {current}, newer than this program "
                f"knows ({latest}): upgrade the assistant instead of opening it with this one"
            )
        for version, sql in MIGRATIONS:
            if version <= current:
                continue
            for statement in sql.split(";"):
                if statement.strip():
                    db.execute(statement)
            db.execute("INSERT INTO schema_version(version) VALUES (?)", (version,))
            current = version
    except BaseException:
        db.execute("ROLLBACK")
        raise
    db.execute("COMMIT")
    return current
