"""Shared pieces of the fault and bad-input suite: small libraries, the CLI, other users, tmpfs.

Everything runs against the real code: real Chroma and manifest in tmp dirs, the real MiniLM
(the session-wide ``embeddings`` fixture, loaded once), real subprocesses for the CLI.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
CORPUS = REPO / "corpus"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class _Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))


def html_tags(fragment: str) -> list[tuple[str, dict[str, str | None]]]:
    """Every start tag of an HTML fragment, with its attributes."""
    parser = _Tags()
    parser.feed(fragment)
    return parser.tags


def write_doc(path: Path, source_id: str, title: str, *sentences: str, **meta: str) -> Path:
    """A small Markdown source with front matter (our own wording, fictional findings)."""
    lines = ["---", f"source_id: {source_id}", f'title: "{title}"', "evidence_type: case-series"]
    lines += [f"{key}: {value}" for key, value in meta.items()]
    lines += ["---", "", "## Findings", ""]
    lines += [f"- {s}" for s in sentences]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def add_finding(path: Path, sentence: str) -> None:
    """Insert a bullet after the first one of the body: the source's first chunk changes (a
    line appended at the end would land in a section that is never chunked)."""
    lines = path.read_text(encoding="utf-8").split("\n")
    first = next(i for i, line in enumerate(lines) if line.startswith("- "))
    lines.insert(first + 1, f"- {sentence}")
    path.write_text("\n".join(lines), encoding="utf-8")


def cli_env(**extra: str) -> dict[str, str]:
    """The environment of a CLI subprocess: no inherited ASSISTANT_ settings, offline."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("ASSISTANT_")}
    env.update(
        PYTHONPATH=str(REPO),
        HF_HUB_OFFLINE="1",
        ANONYMIZED_TELEMETRY="False",
        GRADIO_ANALYTICS_ENABLED="False",
        **extra,
    )
    return env


def run_cli(
    *args: str,
    cwd: Path | None = None,
    env: dict[str, str] | None = None,
    prefix: list[str] | None = None,
    timeout: float = 300,
) -> subprocess.CompletedProcess[str]:
    """`python -m assistant ARGS` to completion (``prefix``: e.g. ``without_privileges()``)."""
    return subprocess.run(
        [*(prefix or []), sys.executable, "-m", "assistant", *args],
        cwd=cwd or REPO,
        env=env or cli_env(),
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def is_root() -> bool:
    return os.geteuid() == 0


def without_privileges() -> list[str]:
    """A command prefix under which file permissions apply: nothing for an ordinary user; for
    root, `setpriv` without the capabilities that bypass them (root reads every folder)."""
    if not is_root():
        return []
    if shutil.which("setpriv") is None:
        pytest.skip("running as root without setpriv: permissions cannot be made to apply")
    drop = "-dac_override,-dac_read_search"
    return ["setpriv", f"--bounding-set={drop}", f"--inh-caps={drop}", "--"]


def _can_mount() -> bool:
    return is_root() and shutil.which("mount") is not None


@contextlib.contextmanager
def small_filesystem(size_mb: int) -> Iterator[Path]:
    """A tmpfs of ``size_mb`` (root only): a disk that can really fill up or be remounted
    read-only. Skips the test, with the reason, where mounting is not allowed."""
    if not _can_mount():
        pytest.skip("needs root to mount a small tmpfs (a real full / read-only filesystem)")
    point = Path(tempfile.mkdtemp(prefix="assistant-fs-"))
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size_mb}m,mode=0755", "tmpfs", str(point)],
        capture_output=True,
        text=True,
    )
    if done.returncode != 0:
        point.rmdir()
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip()}")
    try:
        yield point
    finally:
        subprocess.run(["umount", "-l", str(point)], check=False)
        point.rmdir()


def remount(point: Path, mode: str) -> None:
    subprocess.run(["mount", "-o", f"remount,{mode}", str(point)], check=True)


def fill_up(point: Path) -> Path:
    """Fill the filesystem at ``point`` to the last byte; returns the filler file."""
    filler = point / "filler.bin"
    block = b"\0" * (1 << 20)
    with contextlib.suppress(OSError), filler.open("wb") as fh:
        while True:
            fh.write(block)
            fh.flush()
    with contextlib.suppress(OSError), filler.open("ab") as fh:
        while True:
            fh.write(b"\0" * 4096)
            fh.flush()
    return filler
