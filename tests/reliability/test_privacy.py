"""Privacy: questions and feedback stay in the data directory, the feedback log can be turned
off, no log or file holds the API key, and nothing is traced to LangSmith even when the
environment asks for it."""

from __future__ import annotations

import logging
import re
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from assistant.config import Settings
from assistant.ui import handlers as h
from assistant.ui.service import AppService
from tests.reliability.conftest import CORPUS, cli_env, free_port
from tests.reliability.fakes import fake_openai, recorder

pytestmark = [pytest.mark.slow, pytest.mark.filterwarnings("ignore::Warning:gradio.queueing")]

API_KEY = "sk-privacy-probe-6d1f0c27e4"
QUESTION = "How fast does fever resolve with anakinra?"
COMMENT = "privacy-probe-comment-5821: please cite the ICU study"
SLICE = ["baverez-2022-anakinra-21-cases"]


def copy_of_first_source(prompt: str) -> str:
    """A model that copies the first sentence of source [1] and cites it."""
    block = prompt.split("Sources:", 1)[-1]
    match = re.search(r"^\[(\d+)\][^\n]*\n([^\n]+)", block, re.MULTILINE)
    if not match:
        return "I cannot tell."
    sentence = re.split(r"(?<=[.!?])\s", match.group(2).strip())[0].rstrip(".")
    return f"{sentence} [{match.group(1)}]."


def _files_containing(root: Path, *needles: str) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for path in root.rglob("*"):
        if path.is_file() and not path.is_symlink():
            try:
                data = path.read_bytes()
            except OSError:
                continue
            hits = [n for n in needles if n.encode() in data]
            if hits:
                found[str(path.relative_to(root))] = hits
    return found


def test_questions_feedback_and_key_stay_local(tmp_path: Path) -> None:
    from gradio_client import Client

    home, tmp, cwd, data, lib = (tmp_path / d for d in ("home", "tmp", "cwd", "data", "lib"))
    for d in (home, tmp, cwd, lib):
        d.mkdir()
    for name in SLICE:
        shutil.copy(CORPUS / f"{name}.md", lib)
    port = free_port()
    log = tmp_path / "server.log"
    with fake_openai(copy_of_first_source) as (llm_url, llm), recorder() as (ls_url, traces):
        env = cli_env(
            HOME=str(home),
            TMPDIR=str(tmp),
            ASSISTANT_LLM__API_KEY=API_KEY,
            ASSISTANT_LLM__BASE_URL=llm_url,
            LANGSMITH_TRACING="true",
            LANGCHAIN_TRACING_V2="true",
            LANGSMITH_ENDPOINT=ls_url,
            LANGCHAIN_ENDPOINT=ls_url,
            LANGSMITH_API_KEY="ls-probe-key",
            PYTHONUNBUFFERED="1",
        )
        env.pop("GRADIO_TEMP_DIR", None)
        args = ["serve", "--port", str(port), "--data-dir", str(data), "--corpus", str(lib)]
        with log.open("wb") as out:
            proc = subprocess.Popen(
                [sys.executable, "-m", "assistant", *args, "--composer", "openai:fake"],
                env=env,
                cwd=cwd,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        try:
            deadline = time.monotonic() + 240
            while time.monotonic() < deadline:
                assert proc.poll() is None, log.read_text()[-3000:]
                try:
                    with socket.create_connection(("127.0.0.1", port), timeout=1):
                        break
                except OSError:
                    time.sleep(0.5)
            client = Client(f"http://127.0.0.1:{port}/", verbose=False)
            _chat, _sources, answer, _box, _hint = client.predict(
                QUESTION, "clinician", api_name="/ask"
            )
            assert answer.get("composer") == "openai:fake", (_chat[-1:], log.read_text()[-3000:])
            note = client.predict(COMMENT, api_name="/comment")[0]
            assert "saved" in note, note
            time.sleep(1.0)  # a tracer would flush its batch by now
        finally:
            proc.terminate()
            proc.wait(30)
        assert llm.requests, "the LLM path was not used"
        headers = {k.lower(): v for k, v in llm.requests[0]["headers"].items()}
        assert headers.get("authorization") == f"Bearer {API_KEY}"
        assert traces.requests == [], f"traced to LangSmith: {traces.requests[:1]}"
    server_log = log.read_text(errors="replace")
    assert API_KEY not in server_log and COMMENT not in server_log
    for where in (home, tmp, cwd):
        assert _files_containing(where, API_KEY, QUESTION, COMMENT) == {}, where
    assert _files_containing(data, API_KEY) == {}
    assert _files_containing(data, COMMENT) == {"feedback.jsonl": [COMMENT]}


def test_the_feedback_log_can_be_turned_off(tmp_path: Path) -> None:
    from tests.unit.ui.conftest import make_answer

    settings = Settings(data_dir=tmp_path / "data", ui={"feedback_log": False})
    service = AppService(settings)
    session = h.UISession()
    session.conversation.record(make_answer("Q one?"))
    session.answer_at[1] = 0
    record, _ = h.comment_feedback(session, "a comment")
    assert record is not None
    assert service.save_feedback(record) is None
    assert not (settings.data_dir / "feedback.jsonl").exists()
    assert "not recorded" in service.feedback_note("saved")


def test_no_log_record_holds_the_api_key(
    tmp_path: Path, embeddings: Any, caplog: pytest.LogCaptureFixture
) -> None:
    """Everything logged at DEBUG by us, LangChain, openai and httpx during an LLM answer."""
    from assistant.ask.chain import AskChain
    from assistant.ingest.pipeline import ingest
    from assistant.ingest.store import Library
    from assistant.status import library_status

    with fake_openai(copy_of_first_source) as (url, llm):
        settings = Settings(
            data_dir=tmp_path / "data",
            compose={"composer": "openai:fake", "follow_ups": 0},
            llm={"api_key": API_KEY, "base_url": url},
        )
        library = Library(settings, embeddings=embeddings)
        ingest([CORPUS / f"{n}.md" for n in SLICE], settings, library=library, progress=False)
        caplog.set_level(logging.DEBUG)
        chain = AskChain(settings, library)
        answer = chain.ask(QUESTION)
        library.close()
    assert llm.requests and answer.composer == "openai:fake"
    assert caplog.records, "nothing was logged: the check would be empty"
    assert API_KEY not in caplog.text
    assert API_KEY not in repr(settings) and API_KEY not in str(settings.model_dump())
    assert API_KEY not in settings.model_dump_json()
    assert API_KEY not in str(library_status(settings))
    assert API_KEY not in answer.model_dump_json() and API_KEY not in repr(chain.chat_model)
    assert _files_containing(tmp_path / "data", API_KEY) == {}
