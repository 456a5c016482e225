"""The app's backend with a real (small) library: uploads, refresh, escaping end to end."""

from __future__ import annotations

import re
import shutil
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest

from assistant.ask.session import Conversation
from assistant.config import Settings
from assistant.ingest.store import IndexMissing, Library
from assistant.ui import handlers as h
from assistant.ui.service import AppService

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]
EVIL = Path(__file__).resolve().parent / "data" / "zz-injection-test.md"


class _Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.found: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.found.append((tag, dict(attrs)))


def assert_no_active_markup(fragment: str) -> None:
    parser = _Tags()
    parser.feed(fragment)
    for tag, attrs in parser.found:
        assert tag not in {"script", "img", "iframe"}, tag
        assert not any(name.startswith("on") for name in attrs), (tag, attrs)
        href = attrs.get("href")
        if href is not None:  # a marker, a reference or a back-link in the page, or https
            assert re.fullmatch(r"#(a\d+-)?(ref|cite)-\d+", href) or href.startswith("https://"), (
                href
            )


@pytest.fixture
def service(tmp_path: Path, embeddings: Any) -> AppService:
    settings = Settings(data_dir=tmp_path / "data")
    return AppService(settings, library=Library(settings, embeddings=embeddings))


def test_empty_library_then_upload_then_ask(service: AppService, tmp_path: Path) -> None:
    assert service.try_build_chain(warm_up=False) is not None
    with pytest.raises(IndexMissing):
        service.ask(Conversation(), "Does quokka fever settle with rest?", "clinician")
    report = service.add_files([EVIL])
    assert "added: Quokka fever &lt;script&gt;" in report and "1 sources" in report
    assert (service.upload_dir / EVIL.name).is_file()
    assert service.chain is not None, "the chain is built once the library has an index"

    session = h.UISession()
    updates = list(
        h.ask_turn(session, "Does quokka fever settle with rest?", "clinician", service.ask_stream)
    )
    final = updates[-1]
    assert final.done and final.sources_html and "zz-injection-test" not in final.messages[-1]
    chat = final.messages[-1]["content"]
    assert "&lt;script&gt;" in chat and "Quokka fever" in chat
    for fragment in (chat, final.sources_html, *(u.messages[-1]["content"] for u in updates)):
        assert "<script" not in fragment
        assert_no_active_markup(fragment)

    # a second upload keeps what is stored and the chain sees the new source
    extra = tmp_path / "baverez.md"
    shutil.copy(REPO / "corpus" / "baverez-2022-anakinra-21-cases.md", extra)
    empty = tmp_path / "empty.txt"
    empty.write_text("")
    report = service.add_files([extra, empty])
    assert "empty.txt</strong>: not added: the file is empty" in report
    assert "2 sources" in report
    assert {r.ref.source_id for r in service.sources()} == {
        "zz-injection-test",
        "baverez-2022-anakinra-21-cases",
    }
    answer = service.ask(Conversation(), "How fast does fever resolve with anakinra?", "clinician")
    assert "baverez-2022-anakinra-21-cases" in answer.cited_source_ids()
    status = service.status()
    assert status["index_exists"] and status["sources"] == 2
