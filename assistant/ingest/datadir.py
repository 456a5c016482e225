"""The data directory when it is read-only or full: readers still answer, writers say why.

A read-only data directory (a read-only mount, a folder the user cannot write) still holds a
usable index: the manifest is opened read-only and Chroma, which cannot open a database it is
not allowed to write, is read from a private temporary copy. Writes (ingest) are checked first
and any failure caused by a read-only or full disk becomes one ``DataDirError`` line.
"""

from __future__ import annotations

import atexit
import contextlib
import errno
import logging
import os
import shutil
import sqlite3
import tempfile
from collections.abc import Iterator
from pathlib import Path

logger = logging.getLogger(__name__)

MIN_FREE_BYTES = 2 * 1024 * 1024
"""Below this much free space an ingest does not start (SQLite and Chroma need room to commit)."""
_FULL = ("disk is full", "no space left", "quota exceeded", "file too large", "code: 13")
_READ_ONLY = ("readonly database", "read-only file system", "code: 8")


class DataDirError(RuntimeError):
    """The data directory cannot be written (read-only or full); the message says what to do."""


def _existing(path: Path) -> Path:
    """``path`` or its nearest existing parent."""
    while not path.exists() and path.parent != path:
        path = path.parent
    return path


def is_writable(path: Path) -> bool:
    """Whether files can be created in ``path`` (or where it would be created)."""
    return os.access(_existing(path), os.W_OK)


def free_bytes(path: Path) -> int | None:
    try:
        info = os.statvfs(_existing(path))
    except OSError:
        return None
    return info.f_bavail * info.f_frsize


def _read_only_message(data_dir: Path) -> str:
    return (
        f"the data directory {data_dir} is read-only: ingest has to write there; make it "
        "writable or pass another --data-dir (the existing index is unchanged and still answers)"
    )


def _full_message(data_dir: Path, detail: str = "no space left on device") -> str:
    free = free_bytes(data_dir)
    left = f", {free / 1048576:.1f} MB free" if free is not None else ""
    return (
        f"the data directory {data_dir} is full ({detail}{left}): free some space and run the "
        "ingest again (the existing index is unchanged and still answers)"
    )


def check_writable(data_dir: Path) -> None:
    """Raise DataDirError before an ingest that cannot write ``data_dir``."""
    if not is_writable(data_dir):
        raise DataDirError(_read_only_message(data_dir))
    free = free_bytes(data_dir)
    if free is not None and free < MIN_FREE_BYTES:
        raise DataDirError(_full_message(data_dir))


def as_data_dir_error(exc: BaseException, data_dir: Path) -> DataDirError | None:
    """The DataDirError behind a write failure (OSError, SQLite or Chroma), else None."""
    text = str(exc).lower()
    code = getattr(exc, "errno", None)
    if code == errno.EROFS or any(m in text for m in _READ_ONLY) or not is_writable(data_dir):
        return DataDirError(_read_only_message(data_dir))
    full = code in (errno.ENOSPC, errno.EDQUOT, errno.EFBIG) or any(m in text for m in _FULL)
    free = free_bytes(data_dir)
    if full or (free is not None and free < MIN_FREE_BYTES):
        return DataDirError(_full_message(data_dir))
    return None


@contextlib.contextmanager
def guarded_writes(data_dir: Path) -> Iterator[None]:
    """Check the data directory first; turn disk failures inside the block into DataDirError."""
    check_writable(data_dir)
    try:
        yield
    except DataDirError:
        raise
    except Exception as exc:
        problem = as_data_dir_error(exc, data_dir)
        if problem is None:
            raise
        logger.warning("ingest stopped: %s (%s: %s)", problem, type(exc).__name__, exc)
        raise problem from exc


def chroma_path(data_dir: Path) -> Path | None:
    """``DATA_DIR/chroma`` when it can be written, else None (see ``chroma_snapshot``)."""
    path = data_dir / "chroma"
    if is_writable(path) and (not path.exists() or is_writable(path / "chroma.sqlite3")):
        path.mkdir(parents=True, exist_ok=True)
        return path
    return None


def chroma_snapshot(data_dir: Path) -> Path:
    """A private copy of ``DATA_DIR/chroma`` to read from: Chroma cannot open a database it
    may not write (a read-only or full disk). Removed when the process ends."""
    path = data_dir / "chroma"
    if not path.is_dir():
        raise DataDirError(f"the data directory {data_dir} cannot be written and holds no index")
    snapshot = Path(tempfile.mkdtemp(prefix="assistant-chroma-ro-")) / "chroma"
    try:
        shutil.copytree(path, snapshot)
    except OSError as exc:
        shutil.rmtree(snapshot.parent, ignore_errors=True)
        raise DataDirError(
            f"the data directory {data_dir} cannot be written and its index cannot be copied "
            f"to {tempfile.gettempdir()} to be read ({exc.strerror or exc})"
        ) from exc
    atexit.register(shutil.rmtree, snapshot.parent, True)
    logger.warning("%s cannot be written: answering from a copy of its index", data_dir)
    return snapshot


def read_only_error(data_dir: Path) -> DataDirError:
    return DataDirError(_read_only_message(data_dir))


def open_sqlite(path: Path) -> sqlite3.Connection:
    """A read-only connection to an existing SQLite file (sqlite3.Error when it is missing).

    A WAL database needs its -shm file even to be read; where that file cannot be created (a
    read-only or full disk) the database is opened as immutable: nothing can commit there.
    """
    if not path.is_file():
        raise sqlite3.OperationalError(f"no database at {path}")
    try:
        db = sqlite3.connect(
            f"file:{path}?mode=ro", uri=True, isolation_level=None, check_same_thread=False
        )
        db.execute("SELECT 1 FROM sqlite_master LIMIT 1").fetchall()
        return db
    except sqlite3.OperationalError:
        logger.info("%s opened as immutable (its folder cannot be written)", path)
    return sqlite3.connect(
        f"file:{path}?mode=ro&immutable=1", uri=True, isolation_level=None, check_same_thread=False
    )
