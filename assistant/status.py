"""What state the library and the answer model are in: for `assistant status` and the app.

Reading the status never loads the embedding model and never creates files: a missing index is
reported as missing, not built empty.
"""

from __future__ import annotations

import socket
import sqlite3
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from assistant.config import Settings
from assistant.ingest.manifest import Manifest
from assistant.ingest.store import manifest_path

PROBE_TIMEOUT_S = 1.0
OLLAMA_DEFAULT_URL = "http://127.0.0.1:11434"


def _read_manifest(path: Path) -> tuple[int, int, float | None]:
    """(sources, chunks, last build time), read-only from the manifest."""
    manifest = Manifest(path, readonly=True)
    try:
        last = manifest.get_meta("last_built")
        return manifest.count_sources(), manifest.count_chunks(), float(last) if last else None
    finally:
        manifest.close()


def _reachable(url: str) -> bool:
    parsed = urlparse(url)
    if not parsed.hostname:
        return False
    port = parsed.port or (443 if parsed.scheme == "https" else 80)
    try:
        with socket.create_connection((parsed.hostname, port), timeout=PROBE_TIMEOUT_S):
            return True
    except OSError:
        return False


def model_status(settings: Settings) -> dict[str, Any]:
    """The answer mode and, for a model served over HTTP, whether its server answers."""
    composer = settings.compose.composer
    if composer == "extractive":
        return {
            "answer_mode": "extractive",
            "answer_mode_text": "extractive: answers are built from the sources' own sentences "
            "(offline, no language model)",
            "model_server": None,
            "model_reachable": None,
            "model_message": None,
        }
    backend, _, model = composer.partition(":")
    info: dict[str, Any] = {
        "answer_mode": composer,
        "answer_mode_text": f"language model {composer}; citations are checked against the "
        "sources and unverifiable sentences are dropped",
        "model_server": None,
        "model_reachable": None,
        "model_message": None,
    }
    if backend == "llamacpp":
        ok = Path(model).is_file()
        info["model_reachable"] = ok
        if not ok:
            info["model_message"] = f"the GGUF model file {model} does not exist"
        return info
    url = settings.llm.base_url or (OLLAMA_DEFAULT_URL if backend == "ollama" else None)
    info["model_server"] = url
    if url is None:
        info["model_message"] = "the hosted OpenAI API is not probed (no base_url set)"
        return info
    ok = _reachable(url)
    info["model_reachable"] = ok
    if not ok:
        info["model_message"] = (
            f"the language model server at {url} is unreachable: start it, fix "
            "ASSISTANT_LLM__BASE_URL, or use --composer extractive"
        )
    return info


def library_status(settings: Settings) -> dict[str, Any]:
    """Answer mode, index size, last build time, data dir and whether the index exists."""
    path = manifest_path(settings)
    n_sources = n_chunks = 0
    last: float | None = None
    error: str | None = None
    if path.is_file():
        try:
            n_sources, n_chunks, last = _read_manifest(path)
        except sqlite3.Error as exc:
            error = f"the index manifest {path} cannot be read: {exc}"
    exists = n_chunks > 0
    status: dict[str, Any] = {
        "data_dir": str(settings.data_dir),
        "index_name": settings.index_name(),
        "index_exists": exists,
        "sources": n_sources,
        "chunks": n_chunks,
        "last_built": datetime.fromtimestamp(last).isoformat(timespec="seconds") if last else None,
        "vector_store": settings.store.chroma_url or str(settings.data_dir / "chroma"),
    }
    status.update(model_status(settings))
    if error:
        status["index_message"] = error
    elif not exists:
        status["index_message"] = (
            f"no library index in {settings.data_dir}: build it with `assistant ingest corpus/` "
            "or add files in the app's Library tab"
        )
    else:
        status["index_message"] = None
    return status
