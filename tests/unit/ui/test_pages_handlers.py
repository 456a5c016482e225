"""The app's page handlers without a browser: serving, the stale notice, fresh answers, review."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from assistant.ask.session import Conversation
from assistant.pages.service import PageView, Served
from assistant.pages.store import NewPage, PageStore
from assistant.pages.workflow import REVIEWER_ROLE, User
from assistant.types import Answer
from assistant.ui import handlers as h
from assistant.ui import pages_handlers as ph

AskFn = Callable[[Conversation, str, str], Iterator[Any]]
RITA = User("rita", frozenset({REVIEWER_ROLE}))
PAGE_Q = "What is the efficacy of drug X?"


@pytest.fixture
def approved(tmp_path: Path, answer_factory: Callable[..., Answer]) -> PageView:
    store = PageStore(tmp_path / "pages.sqlite")
    answer = answer_factory(PAGE_Q)
    page = store.create(NewPage(answer, {"src-1": "h1", "src-2": "h2"}, "v1", "ann"))
    store.set_status(page.id, "under-review", RITA)
    store.set_status(page.id, "approved", RITA, "<b>fine</b>")
    view = PageView(store.get(page.id), store.history(page.id), [])
    store.close()
    return view


def _run(
    session: h.UISession, question: str, ask_fn: AskFn, served: Served | None
) -> tuple[list[h.TurnUpdate], list[tuple[str, str]]]:
    calls: list[tuple[str, str]] = []

    def match(q: str, audience: str) -> Served | None:
        calls.append((q, audience))
        return served

    updates = list(ph.ask_or_serve(session, question, "clinician", ask_fn, match))
    return updates, calls


def test_a_match_is_served_instead_of_answered(approved: PageView) -> None:
    asked: list[str] = []

    def never(conversation: Conversation, question: str, audience: str) -> Answer:
        asked.append(question)
        raise AssertionError("the chain must not run for a served page")

    session = h.UISession()
    updates, calls = _run(
        session, "How well does drug X work?", h.stream_of(never), Served(approved, 0.9)
    )
    assert calls == [("How well does drug X work?", "clinician")] and not asked
    [final] = updates
    chat = final.messages[-1]["content"]
    assert "Approved by rita on " in chat
    assert '<span class="review-status approved">Approved</span>' in chat
    assert "Last updated" in chat and "page updated " in chat
    assert f"\u201c{PAGE_Q}\u201d" in chat
    assert "Not medical advice." in chat and "\n" not in chat
    assert final.sources_html and 'id="ref-1"' in final.sources_html
    assert final.done and final.answer_json and final.follow_ups
    assert ph.last_is_served(session) and session.page_of == {0: approved.page.id}
    assert session.answer_at == {1: 0}, "likes and comments work on a served page"


def test_a_stale_match_is_announced_and_answered(approved: PageView, ask_fn: AskFn) -> None:
    stale = PageView(approved.page, approved.history, ["src-2"])
    session = h.UISession()
    updates, _ = _run(session, "How well does drug X work?", ask_fn, Served(stale, 0.9))
    assert len(updates) > 2, "a generated answer streams as usual"
    for update in updates[:-1]:
        assert "needs re-review" in update.messages[-1]["content"]
    final = session.messages[-1]["content"]
    assert "needs re-review" in final and "src-2" in final and "Approved by" not in final
    assert not ph.last_is_served(session)
    assert session.conversation.answers[-1].question == "How well does drug X work?"


def test_only_the_opening_question_is_matched(ask_fn: AskFn, approved: PageView) -> None:
    session = h.UISession()
    list(h.ask_turn(session, "first question", "clinician", ask_fn))
    _, calls = _run(session, "How well does drug X work?", ask_fn, Served(approved, 0.9))
    assert calls == [], "follow-ups are answered in context"
    empty, calls = _run(h.UISession(), "   ", ask_fn, Served(approved, 0.9))
    assert calls == [] and empty[-1].done


def test_matching_errors_never_block_an_answer(ask_fn: AskFn) -> None:
    def broken(q: str, audience: str) -> Served | None:
        raise RuntimeError("pages database unreadable")

    session = h.UISession()
    updates = list(ph.ask_or_serve(session, "a question", "clinician", ask_fn, broken))
    assert updates[-1].done and session.conversation.answers


def test_fresh_answer_follows_a_served_page(approved: PageView, ask_fn: AskFn) -> None:
    session = h.UISession()
    _run(session, "How well does drug X work?", ask_fn, Served(approved, 0.9))
    updates = list(ph.fresh_answer(session, "clinician", ask_fn))
    assert updates[-1].done and len(session.conversation.answers) == 2
    assert session.conversation.answers[-1].question == "How well does drug X work?"
    assert not ph.last_is_served(session)
    assert list(ph.fresh_answer(session, "clinician", ask_fn))[-1].messages == session.messages


def test_review_helpers_refuse_without_an_open_page_or_login(approved: PageView) -> None:
    anonymous = User("anonymous")
    message, view, opened = ph.apply_review(None, RITA, None, "approved", "")  # type: ignore[arg-type]
    assert "Open a page first" in message and opened is None
    assert "not logged in" in ph.identity_html(anonymous)
    assert "reviewer" in ph.identity_html(RITA) and "not a reviewer" in ph.identity_html(
        User("ann")
    )
    table = ph.pages_table_html([approved])
    assert "Approved by rita on" in table and "&lt;b&gt;" not in table
    assert "No pages here yet" in ph.pages_table_html([])


def test_saving_an_answer_shows_it_as_submitted(ask_fn: AskFn) -> None:
    class Pages:  # the part of PagesService that save_latest uses
        def save(self, answer: Answer, user: User) -> Any:
            return SimpleNamespace(id=7, status="submitted")

    session = h.UISession()
    list(h.ask_turn(session, "Does it work?", "clinician", ask_fn))
    assert "Not reviewed" in session.messages[-1]["content"]
    note = ph.save_latest(session, User("ann"), Pages())  # type: ignore[arg-type]
    assert "Saved as page 7" in note
    chat = session.messages[-1]["content"]
    assert '<span class="review-status submitted">Submitted</span>' in chat
    assert "Saved as page 7 by ann" in chat and "Not reviewed" not in chat
    assert "already page 7" in ph.save_latest(session, User("ann"), Pages())  # type: ignore[arg-type]
