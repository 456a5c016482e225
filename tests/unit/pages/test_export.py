"""Exports escape everything: hostile titles, links, reviewer notes and questions stay text."""

from __future__ import annotations

import re
from html.parser import HTMLParser

import pytest
from markdown_it import MarkdownIt

from assistant.pages.export import export_page, page_fragment_html, page_html, page_markdown
from assistant.pages.service import PageView
from assistant.pages.store import PageStore
from assistant.types import Reference

from .conftest import RITA, make_answer, new_page

EVIL_TITLE = "Drug X <script>window.__pwned=1</script> trial"
EVIL_NOTE = (
    "Looks fine ![pixel](https://evil.example/p.png) [click](javascript:window.__pwned=2) "
    "<img src=x onerror=window.__pwned=3>\n\n# Injected heading"
)
EVIL_QUESTION = "What is the dose of <b>X</b> [x](javascript:alert(1))?"


class Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))


def assert_inert(document: str) -> list[tuple[str, dict[str, str | None]]]:
    parser = Tags()
    parser.feed(document)
    for tag, attrs in parser.tags:
        assert tag not in {"script", "img", "iframe", "object", "embed", "svg", "b"}, tag
        assert not any(name.startswith("on") for name in attrs), (tag, attrs)
        href = attrs.get("href")
        if href is not None:  # links within the page (marker <-> reference) or out to https
            assert re.fullmatch(r"#(page\d+-)?(ref|cite)-\d+", href) or href.startswith(
                "https://"
            ), href
    return parser.tags


@pytest.fixture
def hostile(store: PageStore) -> PageView:
    answer = make_answer(EVIL_QUESTION, title=EVIL_TITLE)
    ref = answer.references[0]
    evil_ref = Reference(
        **{**ref.model_dump(), "link": "javascript:window.__pwned=4", "pmid": None}
    )
    answer = answer.model_copy(update={"references": [evil_ref]})
    page = store.create(new_page(answer))
    store.set_status(page.id, "under-review", RITA, EVIL_NOTE)
    store.set_status(page.id, "approved", RITA, "ok")
    return PageView(store.get(page.id), store.history(page.id), [])


def test_html_export_is_standalone_and_inert(hostile: PageView) -> None:
    document = page_html(hostile)
    tags = assert_inert(document)
    assert document.startswith("<!DOCTYPE html>")
    assert "&lt;script&gt;window.__pwned=1&lt;/script&gt;" in document
    assert "javascript:" not in [a.get("href") for _, a in tags if a.get("href")]
    csp = [a for t, a in tags if t == "meta" and a.get("http-equiv")]
    assert csp and "default-src 'none'" in (csp[0]["content"] or "")
    assert "<style>" in document and "<link" not in document, "inline CSS, nothing fetched"
    assert f"<title>{'What is the dose of &lt;b&gt;X&lt;/b&gt;'}" in document
    assert "Approved by rita on " in document and "Review history" in document
    assert "&lt;img src=x onerror=window.__pwned=3&gt;" in document
    assert "Not medical advice." in document.rsplit("Review history", 1)[1]
    assert "Library version " + hostile.page.library_version in document
    # the references are under the answer, and each links back to its first marker
    assert '<a class="cite" href="#ref-1" id="cite-1"' in document
    assert '<li id="ref-1" value="1">' in document and 'class="backref" href="#cite-1"' in document
    assert document.count("<h1>") == 1, "one title: the page header's, not the answer's too"


def test_markdown_export_renders_inert(hostile: PageView) -> None:
    text = page_markdown(hostile)
    assert text.startswith("# What is the dose of")
    assert "\n# Injected heading" not in text, "a note cannot start a line"
    rendered = MarkdownIt("commonmark").render(text)
    tags = assert_inert(rendered)
    assert not any(t == "img" for t, _ in tags)
    assert [a["href"] for t, a in tags if t == "a"] == [], "no link survives, not even https"
    assert "Approved by rita on" in text and text.rstrip().endswith("*Not medical advice.*")


def test_fragment_and_formats(hostile: PageView) -> None:
    assert_inert(page_fragment_html(hostile))
    assert export_page(hostile, "md") == page_markdown(hostile)
    assert export_page(hostile, "html") == page_html(hostile)
    with pytest.raises(ValueError, match="use html or md"):
        export_page(hostile, "pdf")


def test_needs_rereview_is_shown_instead_of_approved(hostile: PageView) -> None:
    stale = PageView(hostile.page, hostile.history, ["src-a"])
    assert stale.needs_rereview and stale.status_label == "Needs re-review"
    for text in (page_html(stale), page_markdown(stale)):
        assert "Needs re-review" in text and "src-a" in text
    assert 'class="page-status needs-re-review"' in page_html(stale)
