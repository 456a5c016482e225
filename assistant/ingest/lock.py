"""One ingest at a time per data directory: an advisory lock file, ``DATA_DIR/ingest.lock``.

The lock is ``flock`` on an open file, so it is released by the kernel when its holder dies
(``kill -9`` included): a stale lock file never blocks anyone. The file records the holder's
pid and start time, only for the message another ingest shows while it waits or gives up.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import sys
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

LOCK_FILE = "ingest.lock"
POLL_S = 0.2


class IngestBusy(RuntimeError):
    """Another ingest holds the data directory (and we were asked not to wait)."""


def _holder(fd: int) -> str:
    try:
        os.lseek(fd, 0, os.SEEK_SET)
        pid, _, started = os.read(fd, 200).decode("ascii", "replace").strip().partition(" ")
        when = datetime.fromtimestamp(float(started)).isoformat(sep=" ", timespec="seconds")
        return f"pid {int(pid)}, started {when}"
    except (OSError, ValueError):
        return "another process"


def is_locked(data_dir: Path) -> bool:
    """Whether an ingest is running on ``data_dir`` right now (never creates the file)."""
    path = data_dir / LOCK_FILE
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)
    return False


@contextlib.contextmanager
def ingest_lock(
    data_dir: Path, wait: bool = True, timeout_s: float | None = None
) -> Iterator[None]:
    """Hold the data directory's ingest lock for the block.

    A second ingest waits (saying so on stderr) when ``wait``, for at most ``timeout_s``
    seconds when given; otherwise it raises IngestBusy at once with who holds the lock.
    """
    data_dir.mkdir(parents=True, exist_ok=True)
    fd = os.open(data_dir / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _holder(fd)
            if not wait:
                raise IngestBusy(
                    f"another ingest ({holder}) is updating {data_dir}: try again when it has "
                    "finished (the CLI waits for it unless --no-wait is given)"
                ) from None
            print(f"waiting for another ingest ({holder}) on {data_dir} to finish", file=sys.stderr)
            deadline = None if timeout_s is None else time.monotonic() + timeout_s
            while True:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if deadline is not None and time.monotonic() > deadline:
                        raise IngestBusy(
                            f"another ingest ({holder}) still holds {data_dir} after "
                            f"{timeout_s:g} s"
                        ) from None
                    time.sleep(POLL_S)
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()} {time.time():.3f}\n".encode(), 0)
        yield
    finally:
        os.close(fd)  # releases the lock
