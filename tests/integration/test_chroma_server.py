"""`--chroma-url`: the same ingest and retrieval against a Chroma server (`chroma run`)."""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from assistant.ask.retrieve import HybridRetriever
from assistant.config import Settings
from assistant.ingest.lexical import LexicalIndex
from assistant.ingest.pipeline import ingest
from assistant.ingest.store import Library
from tests.conftest import write_pubmedqa_jsonl

pytestmark = pytest.mark.slow
N_ITEMS = 6


def chroma_executable() -> str | None:
    beside = Path(sys.executable).with_name("chroma")
    return str(beside) if beside.is_file() else shutil.which("chroma")


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for_heartbeat(url: str, proc: subprocess.Popen[bytes], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"chroma run exited early with code {proc.returncode}")
        try:
            with urllib.request.urlopen(f"{url}/api/v2/heartbeat", timeout=1) as resp:
                body = json.loads(resp.read())
                if resp.status == 200 and any("heartbeat" in key for key in body):
                    return
        except (urllib.error.URLError, OSError, ValueError):
            pass
        time.sleep(0.2)
    raise TimeoutError(f"no heartbeat from {url} within {timeout:.0f} s")


@pytest.fixture
def chroma_server(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    exe = chroma_executable()
    if exe is None:
        pytest.skip("the `chroma` executable (from chromadb) is not installed in this environment")
    path = tmp_path / "server-db"
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log = (tmp_path / "chroma.log").open("wb")
    proc = subprocess.Popen(
        [exe, "run", "--path", str(path), "--host", "127.0.0.1", "--port", str(port)],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        wait_for_heartbeat(url, proc, timeout=60)
        yield url, path
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


def test_ingest_and_retrieve_through_a_chroma_server(
    tmp_path: Path,
    chroma_server: tuple[str, Path],
    pubmedqa_rows: list[dict[str, Any]],
    make_settings: Callable[..., Settings],
    embeddings: Any,
) -> None:
    url, server_path = chroma_server
    rows = [r for r in pubmedqa_rows if r.get("split") == "dev"][20 : 20 + N_ITEMS]
    root = tmp_path / "lib"
    root.mkdir()
    write_pubmedqa_jsonl(rows, root / "slice.jsonl")
    settings = make_settings(store={"chroma_url": url})
    lib = Library(settings, embeddings=embeddings)
    try:
        first = ingest([root], settings, library=lib, progress=False)
        assert sorted(first.added) == sorted(r["pmid"] for r in rows)
        assert lib.dense.location == url
        assert not (settings.data_dir / "chroma").exists()  # nothing embedded locally
        assert server_path.is_dir() and any(server_path.iterdir())

        manifest_ids = lib.manifest.chunk_ids()
        dense = list(lib.dense.store.get(include=[])["ids"])
        lexical = LexicalIndex.load(lib.lexical_dir)
        assert lexical is not None
        assert len(dense) == len(set(dense)) == first.chunks_total
        assert set(dense) == manifest_ids == set(lexical.ids)

        retriever = HybridRetriever(lib, settings.retrieval)
        for row in rows:
            ranked: list[str] = []
            for item in retriever.retrieve(row["question"]).evidence:
                if item.source.source_id not in ranked:
                    ranked.append(item.source.source_id)
            assert row["pmid"] in ranked[:3], (row["question"], ranked[:3])
        # dense scores come back as cosine similarities from the server too
        hits = retriever.dense_search(retriever.embed(rows[0]["question"]), 3)
        assert hits and all(-1.0 <= score <= 1.0 for _, score in hits)

        again = ingest([root], settings, library=lib, progress=False)
        assert len(again.unchanged) == N_ITEMS and again.chunks_written == 0
        assert set(lib.dense.all_ids()) == manifest_ids
    finally:
        lib.close()

    # a second client sees the same collection on the server
    import chromadb
    from chromadb.config import Settings as ChromaSettings

    port = int(url.rsplit(":", 1)[1])
    client = chromadb.HttpClient(
        host="127.0.0.1", port=port, settings=ChromaSettings(anonymized_telemetry=False)
    )
    collection = client.get_collection(settings.index_name())
    assert collection.count() == len(manifest_ids)
    assert (collection.metadata or {}).get("hnsw:space") == "cosine"
