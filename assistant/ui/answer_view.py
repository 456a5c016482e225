"""How an answer looks in the app: the answer page in the chat, its streamed states, and the
Sources panel. Pure functions, no gradio import.

The answer page: the question as its title, the review status, "Last updated", the bottom line
first, the rest of the answer, its references (each with a back-link to its first marker),
a Copy button that copies clean Markdown, and the disclaimer. Streamed states before it: the
chain's steps so far, then (LLM composer) the model's text in a box marked as an unchecked
draft, then the checked sections one by one. Every id of an answer is prefixed with its
position in the conversation (``a1-``, ``a2-``...), so answers never share an id.

All text is escaped (``render_html`` / ``html.escape``), and the chat HTML is kept on one line
(``chat_safe``) so the chat's Markdown renderer treats it as a raw HTML block and never parses
Markdown (such as ``[x](javascript:...)``) inside it.
"""

from __future__ import annotations

import html
import re
from collections.abc import Sequence

from assistant.ask.layout import ReviewState, wording
from assistant.ask.render import render_html, render_markdown, render_reference_html
from assistant.ask.stream import Step
from assistant.types import Answer, AnswerSection, Passage, Reference

SOURCES_EMPTY_HTML = (
    '<div class="sources-panel empty"><h3>Sources</h3><p class="hint">The sources of an answer '
    "appear here and under the answer. Click a numbered marker such as [1] in an answer to see "
    "the passage it rests on; \u21a9 leads back to the text.</p></div>"
)
DRAFT_NOTE = (
    "Draft (being checked): the language model's text as it arrives. It is not the answer: "
    "its citations and numbers are checked against the sources next, and only the sentences "
    "that pass are kept."
)
COPY_TITLE = "Copy this answer, its references and the disclaimer as Markdown"

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


def hint_html(text: str) -> str:
    """A hint under the question box (empty text: none)."""
    if not text:
        return ""
    return f'<p class="question-hint" role="status">{html.escape(text)}</p>'


def anchor_of(index: int) -> str:
    """The id prefix of the conversation's answer number ``index`` (0-based)."""
    return f"a{index + 1}-"


def _pre_text(text: str) -> str:
    """Text for a ``<pre>`` that survives ``chat_safe``: newlines and runs of spaces become
    entities (the browser turns them back into the same characters)."""
    return html.escape(text).replace("\n", "&#10;").replace("  ", "&#32;&#32;")


def copy_control(answer: Answer, review: ReviewState | None = None) -> str:
    """The Copy button and the Markdown it copies (hidden; read by assets/cite.js)."""
    markdown = render_markdown(answer, with_passages=False, review=review, follow_ups=False)
    label = html.escape(wording(answer.audience).copy)
    return (
        f'<p class="answer-actions"><button type="button" class="copy-answer" '
        f'title="{COPY_TITLE}">{label}</button></p>'
        f'<pre class="copy-source" hidden>{_pre_text(markdown)}</pre>'
    )


def chat_html(
    answer: Answer,
    index: int,
    review: ReviewState | None = None,
    sections: list[AnswerSection] | None = None,
    final: bool = True,
) -> str:
    """The answer page in the chat (``final``), or its state while sections are still being
    shown: the sections so far, "Writing..." and the disclaimer, no references yet."""
    shown = answer.model_copy(
        update={
            "sections": answer.sections if sections is None else sections,
            "references": answer.references if final else [],
            "glossary": answer.glossary if final else {},
        }
    )
    extra = (
        copy_control(answer, review)
        if final
        else '<p class="writing" role="status">Writing\u2026</p>'
    )
    body = render_html(
        shown,
        review=review,
        level=3,
        anchor=anchor_of(index),
        follow_ups=False,
        fold_passages=True,
        before_disclaimer=extra,
    )
    return chat_safe(body)


def section_steps(answer: Answer, index: int, review: ReviewState | None = None) -> list[str]:
    """Progressively longer chat HTML, one step per top-level section (the bottom line, the
    guidance, the research) as they are shown; the last step is the answer page."""
    steps = [
        chat_html(answer, index, review, answer.sections[: i + 1], final=False)
        for i in range(len(answer.sections) - 1)
    ]
    steps.append(chat_html(answer, index, review))
    return steps


def progress_html(question: str, steps: Sequence[Step], draft: str | None = None) -> str:
    """Before the answer: its title, the chain's steps (done, and the one running), and an
    LLM's unverified draft when there is one."""
    e = html.escape
    items = [f'<li class="done">{e(s.label)}</li>' for s in steps[:-1]]
    if steps:
        items.append(f'<li class="current">{e(steps[-1].label)}\u2026</li>')
    else:
        items.append('<li class="current">Starting\u2026</li>')
    parts = [
        '<div class="answer pending">',
        f'<header class="answer-head"><h2 class="answer-title">{e(" ".join(question.split()))}'
        "</h2></header>",
        f'<ol class="progress" role="status">{"".join(items)}</ol>',
    ]
    if draft is not None:
        parts.append(
            f'<section class="draft"><p class="draft-label"><strong>{e(DRAFT_NOTE)}</strong>'
            f'</p><p class="draft-text">{e(draft)}</p></section>'
        )
    parts.append("</div>")
    return chat_safe("".join(parts))


# -- the Sources panel ------------------------------------------------------------------------


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
    """The Sources panel: the conversation's cited sources, the latest answer's marked
    current, each with a back-link to its marker in the latest answer that cites it."""
    refs = merge_references(answers)
    if not refs:
        return SOURCES_EMPTY_HTML
    latest = {r.n for r in answers[-1].references} if answers else set()
    cited_in: dict[int, int] = {}
    for index, answer in enumerate(answers):
        for r in answer.references:
            cited_in[r.n] = index
    items = []
    for ref in refs:
        back = f"{anchor_of(cited_in[ref.n])}cite-{ref.n}" if ref.n in cited_in else None
        item = render_reference_html(ref, back_to=back)
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
