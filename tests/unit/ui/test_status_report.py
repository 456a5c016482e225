"""`assistant status` / the app's status line, without loading any model."""

from __future__ import annotations

import json
import socket
from pathlib import Path

import pytest

from assistant.cli import main
from assistant.config import Settings
from assistant.ingest.manifest import Manifest
from assistant.ingest.store import manifest_path
from assistant.status import library_status, model_status
from assistant.types import Chunk, DocSection, SourceDoc


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_missing_index_creates_nothing(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "nothing")
    status = library_status(settings)
    assert status["index_exists"] is False and status["sources"] == 0
    assert "assistant ingest corpus/" in status["index_message"]
    assert status["answer_mode"] == "extractive" and status["model_reachable"] is None
    assert not (tmp_path / "nothing").exists()


def test_counts_from_manifest(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "data")
    manifest = Manifest(manifest_path(settings))
    doc = SourceDoc(source_id="s1", title="T", sections=[DocSection(text="Body.")])
    chunks = [Chunk(chunk_id=f"s1#{i}", source_id="s1", text="Body.") for i in range(2)]
    manifest.replace_sources([(doc, chunks, ["Body.", "Body."])])
    manifest.set_meta("last_built", "1700000000")
    manifest.close()
    status = library_status(settings)
    assert status["index_exists"] and status["sources"] == 1 and status["chunks"] == 2
    assert status["last_built"].startswith("2023-11-1") and status["index_message"] is None


def test_unreachable_model_server() -> None:
    port = _free_port()
    settings = Settings(
        compose={"composer": "ollama:tiny"}, llm={"base_url": f"http://127.0.0.1:{port}"}
    )
    info = model_status(settings)
    assert info["answer_mode"] == "ollama:tiny" and info["model_reachable"] is False
    assert "unreachable" in info["model_message"] and str(port) in info["model_message"]


def test_reachable_model_server() -> None:
    with socket.socket() as srv:
        srv.bind(("127.0.0.1", 0))
        srv.listen(1)
        port = srv.getsockname()[1]
        settings = Settings(
            compose={"composer": "openai:m"}, llm={"base_url": f"http://127.0.0.1:{port}/v1"}
        )
        info = model_status(settings)
    assert info["model_reachable"] is True and info["model_message"] is None


def test_llamacpp_file_check(tmp_path: Path) -> None:
    info = model_status(Settings(compose={"composer": f"llamacpp:{tmp_path / 'm.gguf'}"}))
    assert info["model_reachable"] is False and "does not exist" in info["model_message"]


def test_status_command(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["status", "--json", "--data-dir", str(tmp_path / "d")]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["index_exists"] is False and data["data_dir"] == str(tmp_path / "d")
