"""The app under load: 20 sessions with interleaved follow-ups, and questions asked while
another session's upload is being ingested (they are answered at once, from the index as it
was before the upload, which appears whole when it is done)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from assistant.config import Settings
from assistant.ingest.pipeline import ingest
from assistant.ingest.store import Library
from assistant.ui.app import build_app, launch_kwargs
from assistant.ui.service import AppService
from tests.reliability.conftest import CORPUS, free_port, write_doc
from tests.ui.test_ui_sessions import CONVERSATIONS as TEN
from tests.ui.test_ui_sessions import text_of

pytestmark = [pytest.mark.slow, pytest.mark.filterwarnings("ignore::Warning:gradio.queueing")]

CONVERSATIONS = [
    *TEN,  # the ten of tests/ui/test_ui_sessions.py, and ten more
    ("sepsis", "Does anakinra help sepsis with MAS features?", "What happened to mortality?"),
    ("covid", "Is there a cytokine storm in COVID-19?", "Who should be screened?"),
    ("hlh-94", "What were the results of the HLH-94 protocol?", "And long term?"),
    ("ebv", "How is EBV-associated HLH treated?", "What about in young adults?"),
    ("car t", "What is HLH after CAR T-cell therapy?", "How is it graded?"),
    ("icu", "What is the mortality of HLH in the ICU?", "What predicts it?"),
    ("still", "How is Still's disease managed?", "What about in children?"),
    ("malignancy", "How is malignancy-associated HLH diagnosed?", "How is it treated?"),
    ("interleukin-1", "What does interleukin-1 do in inflammation?", "Which drugs block it?"),
    ("hlh-2004", "What are the HLH-2004 diagnostic criteria?", "What about in adults?"),
]
SLICE = [
    "locatelli-2020-emapalumab",
    "fardet-2014-hscore",
    "allen-2008-ferritin-hlh",
    "baverez-2022-anakinra-21-cases",
    "mehta-2020-covid-cytokine-storm",
    "henter-2007-hlh2004-guidelines",
]
"""Sources for some of the topics (the others abstain): condensing a follow-up needs none."""


@dataclass
class App:
    url: str
    service: AppService


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory, embeddings: Any) -> Iterator[App]:
    """The real app (as `assistant serve` builds it) on part of the built-in library."""
    port = free_port()
    data = tmp_path_factory.mktemp("sessions") / "data"
    settings = Settings(data_dir=data, ui={"port": port})
    library = Library(settings, embeddings=embeddings)
    ingest([CORPUS / f"{name}.md" for name in SLICE], settings, library=library, progress=False)
    service = AppService(settings, library=library)
    assert service.try_build_chain() is None
    demo = build_app(service)
    demo.queue(default_concurrency_limit=1)
    demo.launch(prevent_thread_lock=True, quiet=True, **launch_kwargs(settings))
    try:
        yield App(f"http://127.0.0.1:{port}/", service)
    finally:
        demo.close()


def test_twenty_sessions_with_interleaved_follow_ups_never_cross(app: App) -> None:
    from gradio_client import Client

    barrier = threading.Barrier(len(CONVERSATIONS))

    def converse(first: str, follow_up: str) -> tuple[list[dict[str, Any]], dict[str, Any]]:
        client = Client(app.url, verbose=False)
        client.predict(first, "clinician", api_name="/ask")
        barrier.wait(timeout=480)  # every first question answered before any follow-up
        chat, _sources, answer, _box, _hint = client.predict(
            follow_up, "clinician", api_name="/ask"
        )
        return chat, answer

    with ThreadPoolExecutor(max_workers=len(CONVERSATIONS)) as pool:
        futures = [pool.submit(converse, q, f) for _, q, f in CONVERSATIONS]
        results = [f.result(timeout=540) for f in futures]
    for (topic, first, follow_up), (chat, answer) in zip(CONVERSATIONS, results, strict=True):
        users = [text_of(m) for m in chat if m["role"] == "user"]
        assert users == [first, follow_up], f"session {topic!r} saw other turns: {users}"
        assert len(chat) == 4 and answer["question"] == follow_up
        assert topic in answer["standalone_question"].lower(), (
            topic,
            answer["standalone_question"],
        )
        whole = " ".join(text_of(m) for m in chat)
        for other, other_first, _ in CONVERSATIONS:
            if other != topic:
                assert other_first not in whole, f"{other_first!r} leaked into {topic!r}"


def _big_upload(path: Path, n: int) -> Path:
    """A fictional article with ``n`` findings (a few hundred chunks to embed)."""
    findings = [
        f"In cohort {i} of the pangolin registry, pangolin cough lasted {i % 9 + 2} days "
        f"and eased after rest and warm fluids in most of the {i + 20} animals followed."
        for i in range(n)
    ]
    return write_doc(path, "zz-pangolin-registry", "Pangolin cough registry", *findings)


def test_questions_are_answered_while_an_upload_is_ingested(app: App, tmp_path: Path) -> None:
    from gradio_client import Client, handle_file

    before = {r.ref.source_id for r in app.service.sources()}
    upload = _big_upload(tmp_path / "pangolin.md", 400)
    uploader = Client(app.url, verbose=False)
    asker = Client(app.url, verbose=False)
    report: dict[str, Any] = {}

    def add() -> None:
        started = time.perf_counter()
        report["html"] = uploader.predict(
            [handle_file(str(upload))], [], None, None, "", api_name="/add_files"
        )[0]
        report["seconds"] = time.perf_counter() - started

    thread = threading.Thread(target=add)
    thread.start()
    staged = app.service.upload_dir / upload.name
    deadline = time.monotonic() + 60
    while not staged.exists() and time.monotonic() < deadline:  # copied: the ingest begins
        time.sleep(0.05)
    assert staged.exists(), "the upload never started"
    time.sleep(1.0)
    latencies: list[float] = []
    during: list[dict[str, Any]] = []
    for question in ("How fast does fever resolve with anakinra?", "Does pangolin cough ease?"):
        started = time.perf_counter()
        _chat, _sources, answer, _box, _hint = asker.predict(question, "clinician", api_name="/ask")
        latencies.append(time.perf_counter() - started)
        during.append(answer)
        assert latencies[-1] < 5.0, (latencies, "the question waited for the upload")
        assert thread.is_alive(), "the upload finished before the questions: make it bigger"
        assert {r.ref.source_id for r in app.service.sources()} == before  # the last index
    thread.join(300)
    assert all("zz-pangolin-registry" not in str(a["references"]) for a in during)
    assert "added: Pangolin cough registry" in report["html"], report
    after = {r.ref.source_id for r in app.service.sources()}
    assert after == before | {"zz-pangolin-registry"}
    _chat, _sources, answer, _box, _hint = Client(app.url, verbose=False).predict(
        "How long did pangolin cough last?", "clinician", api_name="/ask"
    )
    assert "zz-pangolin-registry" in str(answer["references"]), (
        answer["notice"],
        answer["retrieved_ids"][:5],
    )
    print(f"ask latencies during a {report['seconds']:.1f} s upload: {latencies}")
