"""The LLM composer: a model writes the sentences, our code decides what is cited.

The model sees the retrieved sources numbered [1]..[k] (one number per source) and is asked to
end each sentence with a marker. Every sentence then goes through ``citations.resolve_bullet``:
markers that resolve to no shown source are dropped, sentences left uncited or carrying a number
that their cited passages lack are dropped. Then ``support.SupportChecker`` checks that the
cited sources state it (semantic score, negation, direction, absolute wording) and drops any
sentence about the disclaimer or the instructions. Surviving sentences are placed like the
extractive composer's: guidance-only citations under the guidelines, the rest under research
topics. If nothing survives, the extractive answer is used and a notice says so.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from contextvars import ContextVar
from typing import Any

from assistant.ask.citations import MARKER_RE, Verification, resolve_bullet
from assistant.ask.compose import TOPIC_ORDER, topic_of
from assistant.ask.draft import (
    Draft,
    DraftBullet,
    design_label,
    guidelines_section,
    research_section,
)
from assistant.ask.evidence import Candidate, unit_info
from assistant.ask.question import QuestionProfile
from assistant.ask.support import SupportChecker
from assistant.models import ModelUnavailable
from assistant.prompts import CANNOT_ANSWER_PHRASE, load_prompt
from assistant.text import sentences
from assistant.types import GUIDANCE_TYPES, Evidence

MAX_SOURCES = 8
FALLBACK_NOTICE = (
    "The language model's answer could not be verified against the sources, "
    "so the answer below is built from the sources' own sentences."
)


def number_sources(evidence: list[Evidence]) -> dict[int, list[Evidence]]:
    """Number the retrieved sources 1..k in retrieval order, each with all its chunks."""
    order: list[str] = []
    chunks: dict[str, list[Evidence]] = {}
    for e in evidence:
        sid = e.source.source_id
        if sid not in chunks:
            if len(order) >= MAX_SOURCES:
                continue
            order.append(sid)
        chunks.setdefault(sid, []).append(e)
    return {i: chunks[sid] for i, sid in enumerate(order, start=1)}


_MARKERS_AFTER_STOP = re.compile(
    rf"([.!?])((?:[ \t]*{MARKER_RE.pattern})+"  # "helped. [1]", "helped.[1][2]"
    rf"|[ \t]*\n(?:[ \t]*{MARKER_RE.pattern})+(?=[ \t]*(?:\n|$)))"  # markers on a line of their own
)


def attach_trailing_markers(text: str) -> str:
    """'Anakinra helped. [1] Fever fell.[2]' -> 'Anakinra helped [1]. Fever fell [2].'

    Markers written after the full stop belong to the sentence before it; left there, the
    sentence splitter would hand them to the next sentence (or to no sentence at all).
    """
    return _MARKERS_AFTER_STOP.sub(lambda m: f" {m.group(2).strip()}{m.group(1)}", text)


def format_sources(numbered: dict[int, list[Evidence]]) -> str:
    blocks = []
    for n, items in numbered.items():
        ref = items[0].source
        head = f"[{n}] {ref.title} ({design_label(ref.evidence_type)}"
        head += f", {ref.year})" if ref.year else ")"
        body = "\n".join(e.chunk.text for e in items)
        blocks.append(f"{head}\n{body}")
    return "\n\n".join(blocks)


def _reply_text(reply: Any) -> str:
    content = getattr(reply, "content", reply)
    if isinstance(content, list):  # content blocks
        content = " ".join(
            str(b.get("text", "")) if isinstance(b, dict) else str(b) for b in content
        )
    return str(content)


def declines(reply: str) -> bool:
    """Whether the model's reply is the cannot-answer phrase (with at most a few words around
    it). A reply that also makes claims (a prompt echo that quotes the phrase among its rules,
    say) goes through the sentence checks instead, which drop what is not cited and supported."""
    low = reply.lower()
    phrase = CANNOT_ANSWER_PHRASE.lower()
    if phrase not in low:
        return False
    rest = re.sub(r"[^a-z]+", " ", low.replace(phrase, " ")).split()
    return len(rest) <= 6


STREAM_TOKENS: ContextVar[bool] = ContextVar("stream_tokens", default=False)
"""Set by ``assistant.ask.stream`` while it relays the model's tokens (as an unverified draft)."""


def invoke_model(model: Any, prompt: str) -> str:
    try:
        if STREAM_TOKENS.get():  # the calling run's callback handlers see each token
            try:
                text = "".join(_reply_text(chunk) for chunk in model.stream(prompt))
            except ValueError:  # a server that answers a streaming request without chunks
                text = ""
            if text:
                return text
        return _reply_text(model.invoke(prompt))
    except Exception as exc:  # connection errors differ per client library
        name = type(exc).__name__
        if "Connect" in name or "Connection" in str(exc) or "refused" in str(exc).lower():
            url = (
                getattr(model, "openai_api_base", None)
                or getattr(model, "base_url", None)
                or "the configured server"
            )
            raise ModelUnavailable(
                f"the language model server at {url} is unreachable ({name}); start it, fix "
                "ASSISTANT_LLM__BASE_URL, or use --composer extractive"
            ) from exc
        raise


def compose_with_llm(
    question: str,
    evidence: list[Evidence],
    model: Any,
    audience: str,
    *,
    fallback: Callable[[], Draft],
    profile: QuestionProfile,
    composer: str,
    support: SupportChecker,
) -> Draft:
    numbered = number_sources(evidence)
    prompt = load_prompt("answer").format(
        audience=audience,
        question=question,
        sources=format_sources(numbered),
        cannot_answer=CANNOT_ANSWER_PHRASE,
    )
    reply = invoke_model(model, prompt).strip()
    if declines(reply):
        return Draft(abstained=True, notice=CANNOT_ANSWER_PHRASE, composer=composer)
    report = Verification()
    bullets: list[tuple[DraftBullet, list[Evidence]]] = []
    for sentence in sentences(attach_trailing_markers(reply).replace("\n", " \n")):
        bullet = resolve_bullet(sentence.lstrip("-*• ").strip(), numbered, report)
        if bullet is None:
            continue
        sids = {c.source_id for c in bullet.citations}
        shown = [
            e.chunk.text for items in numbered.values() for e in items if e.source.source_id in sids
        ]
        verdict = support.check(bullet.text, shown)  # all the cited sources' passages it saw
        if not verdict.supported:
            report.dropped_sentences.append(bullet.text)
            report.reasons.append(verdict.reason or "not supported")
            continue
        cited = [e for c in bullet.citations for e in evidence if e.chunk.chunk_id == c.chunk_id]
        bullets.append((bullet, cited))
    if not bullets:
        draft = fallback()
        draft.notice = FALLBACK_NOTICE
        draft.composer = f"{composer} (fallback: extractive)"
        return draft
    return _arrange(profile, bullets, composer)


def _arrange(
    profile: QuestionProfile,
    bullets: list[tuple[DraftBullet, list[Evidence]]],
    composer: str,
) -> Draft:
    """Place verified sentences like the extractive composer does: sentences citing guidance
    only under the guidelines, the rest under the research topic their wording speaks to."""
    guidance: list[DraftBullet] = []
    topics: dict[str, list[DraftBullet]] = {}
    for bullet, cited in bullets:
        if cited and all(e.source.evidence_type in GUIDANCE_TYPES for e in cited):
            guidance.append(bullet)
            continue
        info = unit_info(bullet.text)
        probe = Candidate(bullet.text, cited[0], 0, "other", None, info)
        topics.setdefault(topic_of(probe, profile), []).append(bullet)
    sections = []
    if guidance:
        sections.append(guidelines_section(guidance))
    if topics:
        order = sorted(topics, key=lambda t: TOPIC_ORDER.index(t) if t in TOPIC_ORDER else 99)
        sections.append(research_section(topics, order))
    return Draft(sections=sections, composer=composer)
