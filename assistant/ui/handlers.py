"""Pure functions behind the web app: session state, the streamed chat turn, feedback, status.

Nothing here imports gradio: ``assistant.ui.app`` wires these functions to components, and the
unit tests call them directly. How an answer looks (escaped HTML) is ``answer_view``.
"""

from __future__ import annotations

import html
import logging
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from assistant.ask.chain import MAX_QUESTION_CHARS
from assistant.ask.layout import NOT_REVIEWED, ReviewState
from assistant.ask.session import Conversation
from assistant.ask.stream import Cited, Done, Step, StreamEvent, Token
from assistant.errors import InvalidQuestion
from assistant.feedback import FeedbackRecord, Verdict, make_record
from assistant.ingest.store import IndexMissing
from assistant.models import ModelUnavailable
from assistant.types import EVIDENCE_LABELS, EVIDENCE_TYPES, Answer
from assistant.ui.answer_view import (
    chat_html,
    message_html,
    progress_html,
    section_steps,
    sources_panel_html,
    user_html,
)

AUDIENCE_QUESTION = "Which best describes you?"
AUDIENCE_CHOICES: list[tuple[str, str]] = [
    ("Clinician", "clinician"),
    ("Patient or caregiver", "patient"),
    ("Student", "student"),
]
EVIDENCE_CHOICES: list[tuple[str, str]] = [(EVIDENCE_LABELS[t], t) for t in EVIDENCE_TYPES]
EMPTY_HINT = "Type a question first, or pick one of the examples below the box."
DRAFT_REFRESH_S = 0.08
"""Least time between two updates of an LLM's draft in the chat."""

AskFn = Callable[[Conversation, str, str], Answer]
"""(conversation, question, audience) -> Answer; records the turn in the conversation."""
StreamFn = Callable[[Conversation, str, str], Iterator[StreamEvent]]
"""(conversation, question, audience) -> the events of ``assistant.ask.stream``; records the
answer in the conversation before it yields ``Done``."""

log = logging.getLogger(__name__)


# -- session state ----------------------------------------------------------------------------


@dataclass
class UISession:
    """Everything one browser session keeps: never shared between sessions."""

    conversation: Conversation = field(default_factory=Conversation)
    messages: list[dict[str, str]] = field(default_factory=list)
    answer_at: dict[int, int] = field(default_factory=dict)
    """Chat message index -> index in ``conversation.answers``."""
    verdicts: dict[int, Verdict] = field(default_factory=dict)
    """Answer index -> the last like/dislike given to it."""
    page_of: dict[int, int] = field(default_factory=dict)
    """Answer index -> the reviewed page it was saved as or served from."""
    served: dict[int, str] = field(default_factory=dict)
    """Answer index of an approved page shown instead of an answer -> the question typed."""
    reviews: dict[int, ReviewState] = field(default_factory=dict)
    """Answer index -> its review status when it is not 'Not reviewed' (saved or served)."""

    def reset(self) -> None:
        self.conversation.reset()
        self.messages.clear()
        self.answer_at.clear()
        self.verdicts.clear()
        self.page_of.clear()
        self.served.clear()
        self.reviews.clear()

    def last_answer_index(self) -> int | None:
        return len(self.conversation.answers) - 1 if self.conversation.answers else None


def ensure_session(session: UISession | None) -> UISession:
    return session if isinstance(session, UISession) else UISession()


@dataclass
class TurnUpdate:
    """One streamed state of the page after a question."""

    messages: list[dict[str, str]]
    sources_html: str | None = None
    """None while streaming: the sources panel changes with the final update only."""
    follow_ups: list[str] | None = None
    answer_json: dict[str, Any] | None = None
    done: bool = False
    hint: str | None = None
    """Under the question box: '' clears it, None leaves it as it is."""


# -- the chat turn ----------------------------------------------------------------------------


def _failure_text(exc: Exception) -> str:
    if isinstance(exc, InvalidQuestion):
        return f"Please rephrase: {exc}"
    if isinstance(exc, IndexMissing):
        return (
            "The library has no index yet, so there is nothing to answer from. Add articles in "
            "the Library tab, or run `assistant ingest corpus/` and reload this page."
        )
    if isinstance(exc, ModelUnavailable):
        return f"The answer model is unavailable: {exc}"
    return f"Something went wrong while answering ({type(exc).__name__}: {exc})."


def stream_of(ask_fn: AskFn) -> StreamFn:
    """A stream (no steps, no tokens) from a function that returns the whole answer."""

    def run(conversation: Conversation, question: str, audience: str) -> Iterator[StreamEvent]:
        answer = ask_fn(conversation, question, audience)
        yield Cited(answer)
        yield Done(answer)

    return run


def review_of(session: UISession, index: int) -> ReviewState:
    """What the answer page says about review: a served page's status, 'Submitted' once saved
    as a page, else 'Not reviewed'."""
    return session.reviews.get(index, NOT_REVIEWED)


def ask_turn(
    session: UISession, question: str, audience: str, stream_fn: StreamFn
) -> Iterator[TurnUpdate]:
    """Stream one question: the steps of the chain as they run, an LLM's unchecked draft as it
    is written, then the checked answer section by section, then its sources and follow-ups.
    An empty question changes nothing and answers with a hint."""
    question = (question or "").strip()
    if not question:
        yield TurnUpdate(list(session.messages), hint=EMPTY_HINT, done=True)
        return
    if len(question) > MAX_QUESTION_CHARS:
        yield TurnUpdate(list(session.messages), hint=too_long_hint(len(question)), done=True)
        return
    session.messages.append({"role": "user", "content": user_html(question)})
    session.messages.append({"role": "assistant", "content": progress_html(question, [])})
    yield TurnUpdate(list(session.messages), hint="")
    index = len(session.conversation.answers)
    steps: list[Step] = []
    draft: list[str] = []
    shown_at = 0.0
    shown_sections = False
    answer: Answer | None = None
    try:
        for event in stream_fn(session.conversation, question, audience):
            if isinstance(event, Step) and not shown_sections:
                steps.append(event)
                text = "".join(draft) if draft else None
                session.messages[-1] = _assistant(progress_html(question, steps, text))
                yield TurnUpdate(list(session.messages))
            elif isinstance(event, Token):
                draft.append(event.text)
                now = time.monotonic()
                if now - shown_at >= DRAFT_REFRESH_S:  # a bubble per token is too many updates
                    shown_at = now
                    session.messages[-1] = _assistant(
                        progress_html(question, steps, "".join(draft))
                    )
                    yield TurnUpdate(list(session.messages))
            elif isinstance(event, Cited):
                shown_sections = True  # the steps after cite are not worth an update
                for step in section_steps(event.answer, index)[:-1]:
                    session.messages[-1] = _assistant(step)
                    yield TurnUpdate(list(session.messages))
            elif isinstance(event, Done):
                answer = event.answer
    except Exception as exc:  # shown to the user in the chat, in words they can act on
        if not isinstance(exc, (InvalidQuestion, IndexMissing, ModelUnavailable)):
            log.exception("answering %r failed", question[:200])
        session.messages[-1] = _assistant(message_html(_failure_text(exc)))
        yield TurnUpdate(list(session.messages), follow_ups=[], done=True)
        return
    if answer is None:
        session.messages[-1] = _assistant(message_html("The answer did not finish."))
        yield TurnUpdate(list(session.messages), follow_ups=[], done=True)
        return
    session.messages[-1] = _assistant(chat_html(answer, index, review_of(session, index)))
    session.answer_at[len(session.messages) - 1] = index
    yield final_update(session, answer)


def _assistant(content: str) -> dict[str, str]:
    return {"role": "assistant", "content": content}


def too_long_hint(n: int) -> str:
    return (
        f"Your question is {n:,} characters long; the limit is {MAX_QUESTION_CHARS:,}. "
        "Shorten it, or ask about one thing at a time."
    )


def final_update(session: UISession, answer: Answer) -> TurnUpdate:
    """The last state of a turn: the answer in the chat, its sources, follow-ups and JSON."""
    return TurnUpdate(
        list(session.messages),
        sources_html=sources_panel_html(session.conversation.answers),
        follow_ups=list(answer.follow_ups),
        answer_json=answer.model_dump(mode="json"),
        done=True,
    )


def refresh_answer(session: UISession, index: int) -> None:
    """Render the chat message of answer ``index`` again (its review status changed)."""
    for message_index, answer_index in session.answer_at.items():
        if answer_index == index and index not in session.served:
            answer = session.conversation.answers[index]
            html_ = chat_html(answer, index, review_of(session, index))
            session.messages[message_index] = _assistant(html_)


def follow_up_slots(follow_ups: Sequence[str] | None, slots: int) -> list[tuple[str, bool]]:
    """(label, visible) for each follow-up button."""
    items = list(follow_ups or [])[:slots]
    return [(items[i], True) if i < len(items) else ("", False) for i in range(slots)]


# -- feedback ---------------------------------------------------------------------------------


def _history_before(session: UISession, index: int) -> list[str]:
    return [a.question for a in session.conversation.answers[:index]]


def verdict_of(liked: Any) -> Verdict | None:
    """gradio's like payload -> 'like' / 'dislike' (None when the choice was withdrawn)."""
    if liked is True or (isinstance(liked, str) and liked.lower() in ("like", "liked")):
        return "like"
    if liked is False or (isinstance(liked, str) and liked.lower() in ("dislike", "disliked")):
        return "dislike"
    return None


def like_feedback(
    session: UISession, message_index: Any, liked: Any, comment: str | None
) -> tuple[FeedbackRecord | None, str]:
    """A feedback record for a like/dislike on a chat message, and a message for the user."""
    index = message_index[0] if isinstance(message_index, list | tuple) else message_index
    answer_index = session.answer_at.get(index) if isinstance(index, int) else None
    if answer_index is None:
        return None, "Feedback can be given on answers only."
    verdict = verdict_of(liked)
    if verdict is None:
        return None, "Feedback withdrawn (nothing recorded)."
    session.verdicts[answer_index] = verdict
    answer = session.conversation.answers[answer_index]
    record = make_record(answer, verdict, comment, _history_before(session, answer_index))
    noted = " with your comment" if record.comment else ""
    return record, f"Thank you: your {verdict} of answer {answer_index + 1} was saved{noted}."


def comment_feedback(session: UISession, comment: str | None) -> tuple[FeedbackRecord | None, str]:
    """A comment on the latest answer (keeps the verdict given to it, if any)."""
    if not (comment or "").strip():
        return None, "Type a comment first."
    index = session.last_answer_index()
    if index is None:
        return None, "Ask a question first: comments are attached to the latest answer."
    answer = session.conversation.answers[index]
    record = make_record(
        answer, session.verdicts.get(index), comment, _history_before(session, index)
    )
    return record, f"Thank you: your comment on answer {index + 1} was saved."


# -- status -----------------------------------------------------------------------------------


def status_html(status: dict[str, Any]) -> str:
    """One escaped status line, with warnings when the index or model is unavailable."""
    e = html.escape
    parts = [f"<strong>Answer mode:</strong> {e(str(status.get('answer_mode_text', '')))}"]
    if status.get("index_exists"):
        built = status.get("last_built") or "unknown"
        parts.append(
            f"<strong>Library:</strong> {int(status.get('sources', 0))} sources, "
            f"{int(status.get('chunks', 0))} chunks; last built {e(str(built))}"
        )
    warnings = [str(status[key]) for key in ("index_message", "model_message") if status.get(key)]
    if status.get("model_reachable") is False and not status.get("model_message"):
        warnings.append("the language model server is unreachable")
    line = " \u00b7 ".join(parts)
    out = f'<div class="status-line">{line}</div>'
    if warnings:
        items = "".join(f"<li>{e(w)}</li>" for w in warnings)
        out += f'<ul class="status-warnings" role="alert">{items}</ul>'
    return f'<div class="status">{out}</div>'
