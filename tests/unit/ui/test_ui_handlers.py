"""The app's pure handlers: streaming steps, escaping, per-session state, feedback, status."""

from __future__ import annotations

from collections.abc import Callable
from html.parser import HTMLParser
from typing import Any

import pytest

from assistant.ask.session import Conversation
from assistant.errors import InvalidQuestion
from assistant.ingest.store import IndexMissing
from assistant.models import ModelUnavailable
from assistant.types import Answer, Reference
from assistant.ui import handlers as h

AskFn = Callable[[Conversation, str, str], Answer]


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
                assert value and (value.startswith("#ref-") or value.startswith("https://")), value
    assert "\n" not in fragment
    assert "[" not in fragment and "]" not in fragment and "$" not in fragment


# -- streaming --------------------------------------------------------------------------------


def test_stream_steps_grow_section_by_section(answer_factory: Callable[..., Answer]) -> None:
    answer = answer_factory("Q")
    steps = h.stream_steps(answer)
    # 2 + 1 sub-sections: two partial steps, then the full answer
    assert len(steps) == 3
    assert steps[-1] == h.chat_html(answer)
    assert all(len(a) < len(b) for a, b in zip(steps, steps[1:], strict=False))
    assert "Bottom line" in steps[0] and "Key considerations" not in steps[0]
    assert "From the Research" not in steps[1]
    assert all("Not medical advice." in s for s in steps), "disclaimer on every step"
    assert all('class="writing"' in s for s in steps[:-1])
    assert 'class="writing"' not in steps[-1]


def test_chat_html_has_markers_no_reference_list(answer_factory: Callable[..., Answer]) -> None:
    html = h.chat_html(answer_factory("Q"))
    assert '<a class="cite" href="#ref-1"' in html and 'href="#ref-2"' in html
    assert "&#91;1&#93;" in html  # the marker text, turned inert for Markdown
    assert 'id="ref-' not in html  # references live in the Sources panel
    assert "2 sources in the Sources panel" in html
    assert_inert(html)


def test_abstained_answer_is_one_step() -> None:
    answer = Answer(
        question="Q", standalone_question="Q", abstained=True, notice="No evidence.", disclaimer="D"
    )
    steps = h.stream_steps(answer)
    assert len(steps) == 1 and "No evidence." in steps[0] and "D" in steps[0]


def test_escaping_of_answer_and_source_text(
    answer_factory: Callable[..., Answer], ref_factory: Callable[..., Reference], evil: str
) -> None:
    answer = answer_factory(evil)
    answer.references.append(ref_factory(9, "evil", evil, title=evil))
    chat = h.chat_html(answer)
    assert "<script" not in chat and "&lt;script&gt;" in chat
    assert_inert(chat)
    panel = h.sources_panel_html([answer])
    assert "<script" not in panel
    for tag, attrs in tags_of(panel):
        assert tag != "script"
        assert not any(k.startswith("on") for k in attrs)
        if "href" in attrs:
            assert (attrs["href"] or "").startswith("https://")
    assert h.user_html(evil).count("<") == 2  # only the wrapper div
    assert_inert(h.user_html(evil))
    assert_inert(h.message_html(evil))


def test_sources_panel_merges_references_and_dims_earlier(
    answer_factory: Callable[..., Answer],
) -> None:
    first, second = answer_factory("Q1", 1), answer_factory("Q2", 2)  # share number 2
    merged = h.merge_references([first, second])
    assert [r.n for r in merged] == [1, 2, 3]
    two = next(r for r in merged if r.n == 2)
    assert len(two.passages) == 1 and len(two.passages[0].highlights) == 2
    panel = h.sources_panel_html([first, second])
    assert '<li class="earlier" id="ref-1"' in panel
    assert '<li id="ref-2"' in panel and '<li id="ref-3"' in panel
    assert panel.count("<mark>") >= 3
    assert 'data-count="3"' in panel
    assert h.sources_panel_html([]) == h.SOURCES_EMPTY_HTML


# -- a chat turn ------------------------------------------------------------------------------


def test_ask_turn_streams_then_finishes(ask_fn: AskFn) -> None:
    session = h.UISession()
    updates = list(h.ask_turn(session, "  What works?  ", "clinician", ask_fn))
    assert updates[0].messages[-1]["content"] == h.PENDING_HTML
    assert updates[0].sources_html is None and not updates[0].done
    assert all(u.sources_html is None for u in updates[:-1])
    final = updates[-1]
    assert final.done and final.sources_html and 'id="ref-1"' in final.sources_html
    assert final.follow_ups == ["What works? follow-up A?", "What works? follow-up B?"]
    assert final.answer_json and final.answer_json["question"] == "What works?"
    assert [m["role"] for m in final.messages] == ["user", "assistant"]
    assert session.answer_at == {1: 0}


def test_conversation_numbering_and_reset(ask_fn: AskFn) -> None:
    session = h.UISession()
    list(h.ask_turn(session, "First?", "clinician", ask_fn))
    final = list(h.ask_turn(session, "Second?", "clinician", ask_fn))[-1]
    assert len(session.conversation.answers) == 2 and len(session.conversation.turns) == 4
    assert session.answer_at == {1: 0, 3: 1}
    assert final.sources_html and all(f'id="ref-{n}"' in final.sources_html for n in (1, 2, 3, 4))
    session.reset()
    assert not session.messages and not session.conversation.turns and not session.answer_at


def test_sessions_are_independent(ask_fn: AskFn) -> None:
    a, b = h.UISession(), h.UISession()
    list(h.ask_turn(a, "Only in A?", "clinician", ask_fn))
    list(h.ask_turn(b, "Only in B?", "student", ask_fn))
    assert all("Only in B" not in m["content"] for m in a.messages)
    assert all("Only in A" not in m["content"] for m in b.messages)
    assert b.conversation.answers[0].audience == "student"
    assert h.ensure_session(None) is not h.ensure_session(None)
    assert h.ensure_session(a) is a


def test_empty_question_does_nothing(ask_fn: AskFn) -> None:
    session = h.UISession()
    updates = list(h.ask_turn(session, "   ", "clinician", ask_fn))
    assert len(updates) == 1 and updates[0].done and not session.messages


@pytest.mark.parametrize(
    "exc,expect",
    [
        (InvalidQuestion("the question is empty"), "Please rephrase"),
        (IndexMissing("no index"), "Library tab"),
        (ModelUnavailable("server at http://x:1 is unreachable"), "unreachable"),
        (RuntimeError("<b>boom</b>"), "&lt;b&gt;boom"),
    ],
)
def test_failures_become_messages(exc: Exception, expect: str) -> None:
    def failing(conversation: Conversation, question: str, audience: str) -> Answer:
        raise exc

    session = h.UISession()
    updates = list(h.ask_turn(session, "Q?", "clinician", failing))
    final = updates[-1]
    assert final.done and final.follow_ups == [] and final.sources_html is None
    assert expect in final.messages[-1]["content"]
    assert not session.answer_at and not session.conversation.answers


def test_follow_up_slots() -> None:
    assert h.follow_up_slots(["a", "b"], 3) == [("a", True), ("b", True), ("", False)]
    assert h.follow_up_slots(None, 2) == [("", False), ("", False)]
    assert h.follow_up_slots(["a", "b", "c"], 2) == [("a", True), ("b", True)]


# -- feedback ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "liked,verdict",
    [(True, "like"), (False, "dislike"), ("Like", "like"), ("Dislike", "dislike"), (None, None)],
)
def test_verdict_of(liked: Any, verdict: str | None) -> None:
    assert h.verdict_of(liked) == verdict


def test_like_and_comment_feedback(ask_fn: AskFn) -> None:
    session = h.UISession()
    list(h.ask_turn(session, "First?", "patient", ask_fn))
    list(h.ask_turn(session, "Second?", "patient", ask_fn))
    record, note = h.like_feedback(session, 0, True, "")
    assert record is None and "answers only" in note
    record, note = h.like_feedback(session, 3, False, "  missing the dose  ")
    assert record is not None and "saved" in note
    assert record.verdict == "dislike" and record.comment == "missing the dose"
    assert record.question == "Second?" and record.history == ["First?"]
    assert record.audience == "patient" and record.answer["question"] == "Second?"
    assert [c["n"] for c in record.citations] == [3, 4]
    record, _ = h.like_feedback(session, [1, 0], True, None)
    assert record is not None and record.verdict == "like" and record.question == "First?"
    record, note = h.comment_feedback(session, "a comment")
    assert record is not None and record.verdict == "dislike"  # keeps the last verdict
    assert record.question == "Second?" and "answer 2" in note
    assert h.comment_feedback(session, "  ")[0] is None
    assert h.comment_feedback(h.UISession(), "hello")[0] is None


# -- status -----------------------------------------------------------------------------------


def test_status_html_ready_and_problems() -> None:
    ready = {
        "answer_mode_text": "extractive <offline>",
        "index_exists": True,
        "sources": 44,
        "chunks": 151,
        "last_built": "2025-01-01T00:00:00",
        "index_message": None,
        "model_message": None,
        "model_reachable": None,
    }
    out = h.status_html(ready)
    assert "44 sources, 151 chunks" in out and "&lt;offline&gt;" in out
    assert "status-warnings" not in out
    broken = {
        **ready,
        "index_exists": False,
        "index_message": "no library index in /x",
        "model_reachable": False,
        "model_message": "the language model server at http://127.0.0.1:9 is unreachable",
    }
    out = h.status_html(broken)
    assert 'role="alert"' in out and "no library index" in out and "unreachable" in out
    assert "151 chunks" not in out


def test_handlers_do_not_import_gradio() -> None:
    import subprocess
    import sys

    code = (
        "import sys, assistant.ui.handlers, assistant.ui.library, assistant.ui.service, "
        "assistant.feedback, assistant.status; print('gradio' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
