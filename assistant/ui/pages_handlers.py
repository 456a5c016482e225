"""Pure functions behind the app's reviewed pages: serving approved pages, saving, reviewing.

No gradio import (``assistant.ui.review`` wires these to components). Every text from pages,
answers, users or notes is escaped, and what goes into the chat passes through ``chat_safe``.
The acting user is always a ``User`` built by the caller from the login (``request.username``)
and ``ui.reviewers``; without a login nobody has the reviewer role.
"""

from __future__ import annotations

import html
import logging
import tempfile
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

from assistant.ask.layout import ReviewState
from assistant.pages.export import (
    approval_line,
    changed_warning,
    export_page,
    fmt_time,
    page_fragment_html,
    review_state,
    status_class,
)
from assistant.pages.service import NEEDS_REREVIEW_FILTER, PagesService, PageView, Served
from assistant.pages.workflow import STATUS_LABELS, STATUSES, PageError, User
from assistant.types import Answer
from assistant.ui.answer_view import chat_html, chat_safe, user_html
from assistant.ui.handlers import (
    StreamFn,
    TurnUpdate,
    UISession,
    ask_turn,
    final_update,
    refresh_answer,
)

logger = logging.getLogger(__name__)

MatchFn = Callable[[str, str], Served | None]
"""(question, audience) -> the approved page that answers it, or None."""

STATUS_FILTERS: list[tuple[str, str]] = [
    ("All pages", ""),
    *[(STATUS_LABELS[s], s) for s in STATUSES],
    ("Needs re-review", NEEDS_REREVIEW_FILTER),
]
REVIEW_CHOICES: list[tuple[str, str]] = [
    (STATUS_LABELS[s], s) for s in STATUSES if s != "submitted"
]
NO_LOGIN = (
    "You are not logged in, so you cannot change a status. Start the app with a login "
    "(--auth) and list reviewers in the ui.reviewers setting."
)
_e = html.escape


# -- serving approved pages in the chat --------------------------------------------------------


def served_html(served: Served, index: int) -> str:
    """The approved page in the chat: a banner saying which page it is, then the page with its
    status, who approved it and when, and "Last updated"."""
    view = served.view
    page = view.page
    banner = (
        f'<div class="page-banner" data-page="{page.id}"><p><strong>Reviewed page</strong> '
        f"(page {page.id}), approved as the answer to \u201c{_e(page.question)}\u201d.</p>"
        "<p>Not what you asked? Use \u201cGenerate a fresh answer\u201d below.</p></div>"
    )
    body = chat_html(page.answer(), index, review_state(view))
    return chat_safe(f'<div class="served-page">{banner}{body}</div>')


def stale_notice_html(served: Served) -> str:
    warning = changed_warning(served.view) or ""
    return chat_safe(
        f'<div class="stale-notice" data-page="{served.view.page.id}"><p><strong>'
        f"An approved page (page {served.view.page.id}) matches this question but needs "
        f"re-review.</strong> {_e(warning)} A fresh answer follows.</p></div>"
    )


def ask_or_serve(
    session: UISession,
    question: str,
    audience: str,
    stream_fn: StreamFn,
    match_fn: MatchFn | None,
) -> Iterator[TurnUpdate]:
    """The opening question of a conversation is first matched against approved pages: a
    match is shown as the page (no answer is generated); a stale match is announced and a
    fresh answer generated. Follow-ups, and questions without a match, go to the chain."""
    text = (question or "").strip()
    served: Served | None = None
    if text and match_fn is not None and not session.conversation.answers:
        try:
            served = match_fn(text, audience)
        except Exception:  # matching must never stop a question from being answered
            logger.exception("matching approved pages failed")
    if served is None:
        yield from ask_turn(session, question, audience, stream_fn)
        return
    if not served.fresh:
        notice = stale_notice_html(served)
        for update in ask_turn(session, question, audience, stream_fn):
            last = dict(update.messages[-1])
            if last["role"] == "assistant":
                last["content"] = notice + last["content"]
                update.messages[-1] = last
                if update.done:
                    session.messages[-1] = last
            yield update
        return
    answer = served.view.page.answer()
    session.conversation.record(answer)
    index = len(session.conversation.answers) - 1
    session.reviews[index] = review_state(served.view)
    session.messages.append({"role": "user", "content": user_html(text)})
    session.messages.append({"role": "assistant", "content": served_html(served, index)})
    session.answer_at[len(session.messages) - 1] = index
    session.page_of[index] = served.view.page.id
    session.served[index] = text
    yield final_update(session, answer)


def last_is_served(session: UISession) -> bool:
    index = session.last_answer_index()
    return index is not None and index in session.served


def fresh_answer(session: UISession, audience: str, stream_fn: StreamFn) -> Iterator[TurnUpdate]:
    """Generate an answer to the question that was served an approved page (a new turn)."""
    index = session.last_answer_index()
    if index is None or index not in session.served:
        yield TurnUpdate(list(session.messages), done=True)
        return
    yield from ask_turn(session, session.served[index], audience, stream_fn)


def save_latest(session: UISession, user: User, pages: PagesService) -> str:
    """Save the latest answer as a page; a message for the user (escaped Markdown-free text)."""
    index = session.last_answer_index()
    if index is None:
        return "Ask a question first: the latest answer is what gets saved."
    if index in session.page_of:
        return f"This answer is already page {session.page_of[index]}."
    try:
        page = pages.save(session.conversation.answers[index], user)
    except PageError as exc:
        return f"Not saved: {exc}"
    session.page_of[index] = page.id
    session.reviews[index] = ReviewState(
        STATUS_LABELS[page.status],
        page.status,
        f"Saved as page {page.id} by {user.name}; a reviewer will check it in the Review tab.",
    )
    refresh_answer(session, index)
    return (
        f"Saved as page {page.id} (submitted) by {user.name}. Reviewers find it in the Review tab."
    )


# -- the Review tab ----------------------------------------------------------------------------


def identity_html(user: User) -> str:
    if user.name == "anonymous":
        return f'<p class="review-identity">{_e(NO_LOGIN)}</p>'
    role = "reviewer" if user.is_reviewer else "not a reviewer (you can read and export pages)"
    return f'<p class="review-identity">Signed in as <strong>{_e(user.name)}</strong>: {role}.</p>'


def pages_table_html(views: Sequence[PageView]) -> str:
    if not views:
        return (
            '<div class="pages empty"><p>No pages here yet. Save an answer with '
            "\u201cSave as page\u201d in the Ask tab.</p></div>"
        )
    rows = []
    for v in views:
        p = v.page
        approved = approval_line(v) or ""
        rows.append(
            f'<tr data-page="{p.id}"><td>{p.id}</td><td>{_e(p.question)}</td>'
            f'<td>{_e(p.audience)}</td><td><span class="page-status {_e(status_class(v))}">'
            f"{_e(v.status_label)}</span></td><td>{_e(fmt_time(p.updated_at))}</td>"
            f"<td>{_e(approved)}</td></tr>"
        )
    return (
        '<div class="pages"><table class="pages-table"><thead><tr><th>Page</th><th>Question</th>'
        "<th>Audience</th><th>Status</th><th>Last updated</th><th>Approval</th></tr></thead>"
        f"<tbody>{''.join(rows)}</tbody></table></div>"
    )


def list_pages(pages: PagesService, status: str | None) -> str:
    try:
        return pages_table_html(pages.views(status or None))
    except PageError as exc:
        return message_html(str(exc), ok=False)


def message_html(text: str, ok: bool = True) -> str:
    kind = "ok" if ok else "error"
    return f'<p class="review-message {kind}" role="status">{_e(text)}</p>'


def _page_id(value: object) -> int | None:
    try:
        number = int(float(value))  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    return number if number > 0 else None


Opened = tuple[int, int]
"""(page id, revision) of the page a reviewer has open: what a decision is about."""


def open_page(pages: PagesService, page_id: object) -> tuple[str, Opened | None, str]:
    """(page HTML, the page and revision shown, message)."""
    number = _page_id(page_id)
    if number is None:
        return "", None, message_html("Type the number of a page first.", ok=False)
    try:
        view = pages.view(number)
    except PageError as exc:
        return "", None, message_html(str(exc), ok=False)
    return page_fragment_html(view), (view.page.id, view.page.revision), ""


def _reload(pages: PagesService, number: int) -> tuple[str, Opened | None]:
    fragment, opened, _ = open_page(pages, number)
    return fragment, opened


def apply_review(
    pages: PagesService,
    user: User,
    opened: Opened | None,
    status: str | None,
    note: str | None,
) -> tuple[str, str, Opened | None]:
    """(message, page HTML, page now shown) after a status change or its refusal. The change
    is about the page and revision the reviewer has open, so a page changed meanwhile is
    refused, not overwritten."""
    if not opened:
        return message_html("Open a page first.", ok=False), "", None
    number, revision = opened
    if user.name == "anonymous":
        return (message_html(NO_LOGIN, ok=False), *_reload(pages, number))
    if not status:
        return (message_html("Choose the new status.", ok=False), *_reload(pages, number))
    try:
        page = pages.review(number, status, user, note or "", expected_revision=revision)
        message = message_html(f"Page {page.id} is now {STATUS_LABELS[page.status]}.")
    except PageError as exc:
        message = message_html(str(exc), ok=False)
    return (message, *_reload(pages, number))


def reanswer_page(
    pages: PagesService,
    user: User,
    opened: Opened | None,
    answer_fn: Callable[[str, str], Answer],
) -> tuple[str, str, Opened | None]:
    """Regenerate the open page's answer from the library now (reviewers only)."""
    if not opened:
        return message_html("Open a page first.", ok=False), "", None
    number, revision = opened
    if not user.is_reviewer:
        reason = NO_LOGIN if user.name == "anonymous" else f"{user.name} is not a reviewer."
        return (message_html(reason, ok=False), *_reload(pages, number))
    try:
        page = pages.store.get(number)
        answer = answer_fn(page.standalone_question, page.audience)
        page = pages.replace_answer(number, answer, user, "answer regenerated", revision)
        message = message_html(f"Page {page.id} has a new answer and is submitted again.")
    except PageError as exc:
        message = message_html(str(exc), ok=False)
    return (message, *_reload(pages, number))


def export_to_file(
    pages: PagesService, opened: Opened | None, fmt: str, out_dir: Path | None = None
) -> Path:
    """Write the open page as ``fmt`` into a temporary directory gradio may serve; its path."""
    if not opened:
        raise PageError("open a page first")
    number = opened[0]
    text = export_page(pages.view(number), fmt)
    folder = out_dir or Path(tempfile.mkdtemp(prefix="assistant-page-"))
    path = folder / f"page-{number}.{fmt}"
    path.write_text(text, encoding="utf-8")
    return path
