"""The answer page in the chat, its streamed states and the Sources panel, without a browser."""

from __future__ import annotations

import html
import re
from collections.abc import Callable
from html.parser import HTMLParser

from markdown_it import MarkdownIt

from assistant.ask.layout import NOT_REVIEWED, ReviewState
from assistant.ask.stream import Step
from assistant.types import Answer, Reference
from assistant.ui import answer_view as v


class _Tags(HTMLParser):
    """Collects tags and attributes, to assert nothing executable was produced."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))


def tags_of(fragment: str) -> list[tuple[str, dict[str, str | None]]]:
    parser = _Tags()
    parser.feed(fragment)
    return parser.tags


def assert_inert(fragment: str) -> None:
    for tag, attrs in tags_of(fragment):
        assert tag not in {"script", "iframe", "object", "embed", "img", "svg"}, tag
        for name, value in attrs.items():
            assert not name.startswith("on"), (tag, name)
            if name == "href":
                assert value and (
                    re.fullmatch(r"#(a\d+-)?(ref|cite)-\d+", value) or value.startswith("https://")
                ), value
    assert "\n" not in fragment
    assert "[" not in fragment and "]" not in fragment and "$" not in fragment


def copied_markdown(chat: str) -> str:
    """What the Copy button copies: the text of the hidden <pre>, as the browser reads it."""
    match = re.search(r'<pre class="copy-source" hidden>(.*?)</pre>', chat)
    assert match, "the answer carries its Markdown for Copy"
    return html.unescape(match.group(1))


def test_the_answer_page_layout(answer_factory: Callable[..., Answer]) -> None:
    chat = v.chat_html(answer_factory("Does X work?"), 0)
    # title, review status and "Last updated" come first, then the bottom line
    title = chat.index('<h2 class="answer-title">Does X work?</h2>')
    status = chat.index('<span class="review-status not-reviewed">Not reviewed</span>')
    updated = chat.index("newest cited source 2021; library built 2026-12-01 08:30 UTC")
    bottom = chat.index('<section class="bottom-line"><h3>Bottom line</h3>')
    research = chat.index("From the Research")
    assert title < status < updated < bottom < research
    assert "saving it as a page" in chat, "a fresh answer says how to send it for review"
    # the references are under the answer too, ids prefixed by the answer's position
    refs = chat.index('<section class="references"><h3>References</h3>')
    assert research < refs < chat.index('class="disclaimer"')
    assert 'id="a1-ref-1"' in chat and 'id="a1-ref-2"' in chat
    # every marker links to its reference; each reference links back to its first marker
    assert '<a class="cite" href="#a1-ref-1" id="a1-cite-1"' in chat
    assert chat.count('id="a1-cite-1"') == 1, "only the first marker of a source has the id"
    assert '<a class="backref" href="#a1-cite-1"' in chat
    assert '<a class="backref" href="#a1-cite-2"' in chat
    assert "<details><summary>Supporting passage</summary><blockquote>" in chat
    assert 'class="copy-answer"' in chat and "follow-up A" not in chat
    assert_inert(chat)


def test_copy_is_clean_markdown(answer_factory: Callable[..., Answer], evil: str) -> None:
    answer = answer_factory("Does X work?")
    answer.references[0].title = evil
    answer.references[1].provenance = "a secondary report"
    md = copied_markdown(v.chat_html(answer, 0))
    assert md.startswith("# Does X work?\n\n**Review status:** Not reviewed")
    assert "**Last updated:** newest cited source 2021" in md
    assert "- Does X work? finding one. [1]" in md, "plain [n] markers"
    assert "## References\n\n1. Doe J, Roe R." in md and "\n2. Doe J, Roe R." in md
    assert (
        md.index("## Bottom line") < md.index("## From the Guidelines") < md.index("## References")
    )
    assert md.rstrip().endswith("*Not medical advice.*")
    for leftover in ("&#91;", "&#93;", "&lt;", "&amp;", "<div", "<a ", "class="):
        assert leftover not in md, leftover
    assert "\n   - Provenance: a secondary report\n" in md, "indentation survives"
    rendered = MarkdownIt("commonmark").render(md)
    assert "<script" not in rendered and 'href="javascript' not in rendered
    assert "Supporting passage" not in md and "follow-up A" not in md


def test_review_status_of_saved_and_served_answers(answer_factory: Callable[..., Answer]) -> None:
    answer = answer_factory("Q")
    approved = ReviewState(
        "Approved", "approved", "Approved by rita on 2026-12-02", "2026-12-02T10:00:00Z"
    )
    chat = v.chat_html(answer, 2, approved)
    assert '<span class="review-status approved">Approved</span>' in chat
    assert "Approved by rita on 2026-12-02" in chat
    assert "page updated 2026-12-02 10:00 UTC; newest cited source 2021" in chat
    assert 'id="a3-ref-1"' in chat and "Not reviewed" not in chat
    md = copied_markdown(chat)
    assert "**Review status:** Approved \u2014 Approved by rita on 2026-12-02" in md
    assert NOT_REVIEWED.label in copied_markdown(v.chat_html(answer, 0))


def test_patient_wording(answer_factory: Callable[..., Answer]) -> None:
    chat = v.chat_html(answer_factory("Q", audience="patient"), 0)
    assert "Checked by a reviewer:" in chat and "Where this information comes from" in chat
    assert "newest source used 2021" in chat and "Copy this answer" in chat
    assert "In short" in chat, "the patient headings of the composer"


def test_streamed_states(answer_factory: Callable[..., Answer]) -> None:
    answer = answer_factory("Q")
    steps = v.section_steps(answer, 0)
    # the bottom line, then with the guidance, then the whole page
    assert len(steps) == 3 and steps[-1] == v.chat_html(answer, 0)
    assert all(len(a) < len(b) for a, b in zip(steps, steps[1:], strict=False))
    assert "Bottom line" in steps[0] and "Key considerations" not in steps[0]
    assert all("Not medical advice." in s for s in steps), "disclaimer on every step"
    assert all('class="writing"' in s and 'id="a1-ref-' not in s for s in steps[:-1])
    assert all('class="answer-title">Q<' in s for s in steps), "the title stays on top"
    progress = v.progress_html("Q", [Step("retrieve", "Searching"), Step("compose", "Composing")])
    assert '<li class="done">Searching</li><li class="current">Composing\u2026</li>' in progress
    assert 'class="answer pending"' in progress and "draft" not in progress
    draft = v.progress_html("Q", [Step("compose", "Composing")], "It works [1] <b>x</b>")
    assert "Draft (being checked)" in draft and "&lt;b&gt;" in draft
    assert "It works &#91;1&#93;" in draft and 'class="cite"' not in draft
    assert_inert(draft)


def test_abstained_answer(answer_factory: Callable[..., Answer]) -> None:
    answer = Answer(
        question="Q", standalone_question="Q", abstained=True, notice="No evidence.", disclaimer="D"
    )
    steps = v.section_steps(answer, 0)
    assert len(steps) == 1 and "No evidence." in steps[0] and "D" in steps[0]
    assert "Last updated" not in steps[0], "nothing cited, no build time: no date to show"


def test_escaping_of_answer_and_source_text(
    answer_factory: Callable[..., Answer], ref_factory: Callable[..., Reference], evil: str
) -> None:
    answer = answer_factory(evil)
    answer.references.append(ref_factory(9, "evil", evil, title=evil))
    chat = v.chat_html(answer, 0)
    assert "<script" not in chat and "&lt;script&gt;" in chat
    assert_inert(chat)
    panel = v.sources_panel_html([answer])
    assert "<script" not in panel
    for tag, attrs in tags_of(panel):
        assert tag != "script"
        assert not any(k.startswith("on") for k in attrs)
        if "href" in attrs:
            href = attrs["href"] or ""
            assert href.startswith("https://") or re.fullmatch(r"#a\d+-cite-\d+", href), href
    assert v.user_html(evil).count("<") == 2  # only the wrapper div
    assert_inert(v.user_html(evil))
    assert_inert(v.message_html(evil))
    assert "&lt;script&gt;" in v.hint_html(evil) and v.hint_html("") == ""


def test_sources_panel_merges_references_and_links_back(
    answer_factory: Callable[..., Answer],
) -> None:
    first, second = answer_factory("Q1", 1), answer_factory("Q2", 2)  # share number 2
    merged = v.merge_references([first, second])
    assert [r.n for r in merged] == [1, 2, 3]
    two = next(r for r in merged if r.n == 2)
    assert len(two.passages) == 1 and len(two.passages[0].highlights) == 2
    panel = v.sources_panel_html([first, second])
    assert '<li class="earlier" id="ref-1"' in panel
    assert '<li id="ref-2"' in panel and '<li id="ref-3"' in panel
    # back to the latest answer that cites each source
    assert 'href="#a1-cite-1"' in panel and 'href="#a2-cite-2"' in panel
    assert 'href="#a2-cite-3"' in panel
    assert panel.count("<mark>") >= 3
    assert 'data-count="3"' in panel
    assert v.sources_panel_html([]) == v.SOURCES_EMPTY_HTML
