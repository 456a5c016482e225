"""The app's pure handlers: streaming steps, escaping, per-session state, feedback, status."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from assistant.ask.session import Conversation
from assistant.ask.stream import Cited, Done, Token
from assistant.errors import InvalidQuestion
from assistant.ingest.store import IndexMissing
from assistant.models import ModelUnavailable
from assistant.types import Answer
from assistant.ui import handlers as h

StreamFn = Callable[[Conversation, str, str], Iterator[Any]]


# -- a chat turn ------------------------------------------------------------------------------


def test_ask_turn_streams_then_finishes(ask_fn: StreamFn) -> None:
    session = h.UISession()
    updates = list(h.ask_turn(session, "  What works?  ", "clinician", ask_fn))
    first = updates[0]
    assert 'class="answer pending"' in first.messages[-1]["content"]
    assert "What works?" in first.messages[-1]["content"], "the title shows at once"
    assert first.sources_html is None and not first.done and first.hint == ""
    assert all(u.sources_html is None for u in updates[:-1])
    # one update per top-level section, then the answer page
    partial = [u.messages[-1]["content"] for u in updates[1:-1]]
    assert len(partial) == 2 and all('class="writing"' in c for c in partial)
    assert "Bottom line" in partial[0] and "From the Research" not in partial[0]
    final = updates[-1]
    assert final.done and final.sources_html and 'id="ref-1"' in final.sources_html
    chat = final.messages[-1]["content"]
    assert 'class="writing"' not in chat and 'id="a1-ref-1"' in chat
    assert final.follow_ups == ["What works? follow-up A?", "What works? follow-up B?"]
    assert final.answer_json and final.answer_json["question"] == "What works?"
    assert [m["role"] for m in final.messages] == ["user", "assistant"]
    assert session.answer_at == {1: 0}


def test_steps_and_draft_tokens_are_shown_then_replaced(stream_fn: StreamFn) -> None:
    session = h.UISession()
    updates = list(h.ask_turn(session, "Q?", "clinician", stream_fn))
    contents = [u.messages[-1]["content"] for u in updates]
    searching = next(c for c in contents if "Searching the library" in c)
    assert 'class="current">Searching the library' in searching
    drafts = [c for c in contents if 'class="draft"' in c]
    assert drafts, "an LLM's tokens are shown while it writes"
    for c in drafts:
        assert "Draft (being checked)" in c and 'class="answer pending"' in c
        assert 'class="cite"' not in c, "a draft's markers are text, never resolved links"
    assert "unchecked." in drafts[-1]
    assert 'class="done">Composing the answer' in drafts[-1] or "Checking every" in drafts[-1]
    final = contents[-1]
    assert "Draft" not in final and "unchecked" not in final and 'class="cite"' in final


def test_draft_updates_are_throttled(answer_factory: Callable[..., Answer]) -> None:
    def many_tokens(conversation: Conversation, question: str, audience: str) -> Iterator[Any]:
        for i in range(500):
            yield Token(f"t{i} ")
        answer = answer_factory(question)
        conversation.record(answer)
        yield Cited(answer)
        yield Done(answer)

    session = h.UISession()
    updates = list(h.ask_turn(session, "Q?", "clinician", many_tokens))
    assert len(updates) < 60, "500 tokens in a few milliseconds are not 500 chat updates"
    assert "t499" not in "".join(u.messages[-1]["content"] for u in updates[-1:])


def test_conversation_numbering_and_reset(ask_fn: StreamFn) -> None:
    session = h.UISession()
    list(h.ask_turn(session, "First?", "clinician", ask_fn))
    final = list(h.ask_turn(session, "Second?", "clinician", ask_fn))[-1]
    assert len(session.conversation.answers) == 2 and len(session.conversation.turns) == 4
    assert session.answer_at == {1: 0, 3: 1}
    assert final.sources_html and all(f'id="ref-{n}"' in final.sources_html for n in (1, 2, 3, 4))
    session.reset()
    assert not session.messages and not session.conversation.turns and not session.answer_at


def test_sessions_are_independent(ask_fn: StreamFn) -> None:
    a, b = h.UISession(), h.UISession()
    list(h.ask_turn(a, "Only in A?", "clinician", ask_fn))
    list(h.ask_turn(b, "Only in B?", "student", ask_fn))
    assert all("Only in B" not in m["content"] for m in a.messages)
    assert all("Only in A" not in m["content"] for m in b.messages)
    assert b.conversation.answers[0].audience == "student"
    assert h.ensure_session(None) is not h.ensure_session(None)
    assert h.ensure_session(a) is a


def test_empty_or_too_long_question_gets_a_hint(ask_fn: StreamFn) -> None:
    session = h.UISession()
    updates = list(h.ask_turn(session, "   ", "clinician", ask_fn))
    assert len(updates) == 1 and updates[0].done and not session.messages
    assert updates[0].hint == h.EMPTY_HINT and "Type a question first" in h.EMPTY_HINT
    [long] = list(h.ask_turn(session, "x" * 2001, "clinician", ask_fn))
    assert long.hint and "2,001 characters" in long.hint and "2,000" in long.hint
    assert not session.messages and not session.conversation.answers


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
    updates = list(h.ask_turn(session, "Q?", "clinician", h.stream_of(failing)))
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


def test_like_and_comment_feedback(ask_fn: StreamFn) -> None:
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
