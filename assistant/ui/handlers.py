"""Pure functions behind the web app: session state, streaming steps, escaped HTML, filters.

Nothing here imports gradio: ``assistant.ui.app`` wires these functions to components, and the
unit tests call them directly. All text that comes from sources, answers or users is escaped
before it is put into HTML (``render_html`` / ``html.escape``), and the chat HTML is kept on one
line so that the chat's Markdown renderer treats it as a raw HTML block and never parses
Markdown (such as ``[x](javascript:...)``) inside it.
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from assistant.ask.render import render_html, render_reference_html
from assistant.ask.session import Conversation
from assistant.errors import InvalidQuestion
from assistant.feedback import FeedbackRecord, Verdict, make_record
from assistant.ingest.store import IndexMissing
from assistant.models import ModelUnavailable
from assistant.types import (
    EVIDENCE_LABELS,
    EVIDENCE_TYPES,
    Answer,
    AnswerSection,
    Passage,
    Reference,
)

AUDIENCE_QUESTION = "Which best describes you?"
AUDIENCE_CHOICES: list[tuple[str, str]] = [
    ("Clinician", "clinician"),
    ("Patient or caregiver", "patient"),
    ("Student", "student"),
]
SEED_QUESTION = "What is the efficacy of anakinra in HLH?"
EXAMPLES: list[str] = [
    SEED_QUESTION,
    "What dose of anakinra is used in secondary HLH?",
    "How is the HScore used to diagnose HLH?",
    "What ferritin level suggests HLH?",
]
EVIDENCE_CHOICES: list[tuple[str, str]] = [(EVIDENCE_LABELS[t], t) for t in EVIDENCE_TYPES]
PENDING_HTML = '<div class="answer pending"><p>Searching the library\u2026</p></div>'
SOURCES_EMPTY_HTML = (
    '<div class="sources-panel empty"><h3>Sources</h3><p class="hint">The sources of an answer '
    "appear here. Click a numbered marker such as [1] in an answer to jump to the passage it "
    "rests on.</p></div>"
)

AskFn = Callable[[Conversation, str, str], Answer]
"""(conversation, question, audience) -> Answer; records the turn in the conversation."""


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

    def reset(self) -> None:
        self.conversation.reset()
        self.messages.clear()
        self.answer_at.clear()
        self.verdicts.clear()

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


# -- rendering --------------------------------------------------------------------------------

_WS = re.compile(r"\s+")


def chat_safe(fragment: str) -> str:
    """Keep escaped HTML inert inside a Markdown chat bubble.

    One line (no blank line can end the raw HTML block), and the characters Markdown or LaTeX
    could still act on are turned into entities; the text reads the same.
    """
    one_line = _WS.sub(" ", fragment).strip()
    return one_line.replace("[", "&#91;").replace("]", "&#93;").replace("$", "&#36;")


def user_html(question: str) -> str:
    return chat_safe(f'<div class="question">{html.escape(question)}</div>')


def message_html(text: str, kind: str = "error") -> str:
    return chat_safe(f'<div class="answer {html.escape(kind)}"><p>{html.escape(text)}</p></div>')


def chat_html(
    answer: Answer, sections: list[AnswerSection] | None = None, final: bool = True
) -> str:
    """The answer as shown in the chat: sections, glossary and disclaimer, no reference list.

    References go to the Sources panel; the markers link there.
    """
    shown = answer.model_copy(
        update={
            "references": [],
            "follow_ups": [],
            "sections": answer.sections if sections is None else sections,
            "glossary": answer.glossary if final else {},
        }
    )
    body = render_html(shown)
    if final and answer.references:
        n = len(answer.references)
        hint = (
            f'<p class="sources-hint">{n} source{"s" if n != 1 else ""} in the Sources panel: '
            "click a marker to see the passage.</p>"
        )
        body = body.replace('<p class="disclaimer">', hint + '<p class="disclaimer">', 1)
    if not final:
        body = body.replace(
            '<p class="disclaimer">',
            '<p class="writing">Writing\u2026</p><p class="disclaimer">',
            1,
        )
    return chat_safe(body)


def stream_steps(answer: Answer) -> list[str]:
    """Progressively longer chat HTML, one step per sub-section; the last step is the answer."""
    steps: list[str] = []
    for i, section in enumerate(answer.sections):
        done = list(answer.sections[:i])
        subs = section.subsections
        if not subs:
            steps.append(chat_html(answer, [*done, section], final=False))
            continue
        for j in range(len(subs)):
            partial = section.model_copy(update={"subsections": subs[: j + 1]})
            steps.append(chat_html(answer, [*done, partial], final=False))
    if steps:
        steps.pop()  # the last partial step equals the full answer minus the glossary
    steps.append(chat_html(answer))
    return steps


def merge_references(answers: Sequence[Answer]) -> list[Reference]:
    """Every source cited in a conversation, by its (stable) number, passages merged."""
    merged: dict[int, Reference] = {}
    for answer in answers:
        for ref in answer.references:
            if ref.n not in merged:
                merged[ref.n] = ref.model_copy(deep=True)
                continue
            have = merged[ref.n]
            by_chunk = {p.chunk_id: p for p in have.passages}
            for p in ref.passages:
                old = by_chunk.get(p.chunk_id)
                if old is None:
                    by_chunk[p.chunk_id] = p.model_copy()
                else:
                    highlights = list(dict.fromkeys([*old.highlights, *p.highlights]))
                    by_chunk[p.chunk_id] = Passage(
                        chunk_id=p.chunk_id, heading=p.heading, text=p.text, highlights=highlights
                    )
            have.passages = list(by_chunk.values())
    return [merged[n] for n in sorted(merged)]


def sources_panel_html(answers: Sequence[Answer]) -> str:
    """The Sources panel: the conversation's cited sources, latest answer's marked current."""
    refs = merge_references(answers)
    if not refs:
        return SOURCES_EMPTY_HTML
    latest = {r.n for r in answers[-1].references} if answers else set()
    items = []
    for ref in refs:
        item = render_reference_html(ref)
        if ref.n not in latest:
            item = item.replace("<li ", '<li class="earlier" ', 1)
        items.append(item)
    n = len(refs)
    return (
        f'<div class="sources-panel" data-count="{n}"><h3>Sources ({n})</h3>'
        '<p class="hint">Highlighted: the sentence each answer rests on. Sources cited only by '
        "earlier answers in this conversation are dimmed.</p>"
        f'<ol class="references">{"".join(items)}</ol></div>'
    )


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


def ask_turn(
    session: UISession, question: str, audience: str, ask_fn: AskFn
) -> Iterator[TurnUpdate]:
    """Stream one question: placeholder, then the answer section by section, then sources."""
    question = (question or "").strip()
    if not question:
        yield TurnUpdate(list(session.messages), done=True)
        return
    session.messages.append({"role": "user", "content": user_html(question)})
    session.messages.append({"role": "assistant", "content": PENDING_HTML})
    yield TurnUpdate(list(session.messages))
    try:
        answer = ask_fn(session.conversation, question, audience)
    except Exception as exc:  # shown to the user in the chat, in words they can act on
        session.messages[-1] = {"role": "assistant", "content": message_html(_failure_text(exc))}
        yield TurnUpdate(list(session.messages), follow_ups=[], done=True)
        return
    for step in stream_steps(answer):
        session.messages[-1] = {"role": "assistant", "content": step}
        yield TurnUpdate(list(session.messages))
    session.answer_at[len(session.messages) - 1] = len(session.conversation.answers) - 1
    yield TurnUpdate(
        list(session.messages),
        sources_html=sources_panel_html(session.conversation.answers),
        follow_ups=list(answer.follow_ups),
        answer_json=answer.model_dump(mode="json"),
        done=True,
    )


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
