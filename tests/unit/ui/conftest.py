"""Small hand-made answers for the UI unit tests (no model, no index, no gradio)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from assistant.ask.session import Conversation
from assistant.ask.stream import Cited, Done, Step, Token
from assistant.types import Answer, AnswerSection, Bullet, Passage, Reference

EVIL = "<script>alert(1)</script> see [x](javascript:alert(1)) and $$x$$"


def make_ref(n: int, source_id: str, sentence: str, title: str = "A study") -> Reference:
    return Reference(
        n=n,
        source_id=source_id,
        title=title,
        authors=["Doe J", "Roe R"],
        journal="J Test",
        year=2020,
        pmid="123456",
        doi="10.1000/xyz",
        evidence_type="retrospective-cohort",
        passages=[
            Passage(
                chunk_id=f"{source_id}#0",
                heading="Findings",
                text=f"Before. {sentence} After.",
                highlights=[sentence],
            )
        ],
    )


def make_answer(question: str, n0: int = 1, audience: str = "clinician") -> Answer:
    """The engine's shape: a bottom line, guidance (one sub-section), research (one topic);
    two references (years 2019 and 2021)."""
    s1, s2 = f"{question} finding one.", f"{question} finding two."
    sections = [
        AnswerSection(
            heading="Bottom line",
            kind="bottom-line",
            bullets=[Bullet(text=s1, citations=[n0])],
        ),
        AnswerSection(
            heading="From the Guidelines",
            kind="guidelines",
            subsections=[
                AnswerSection(
                    heading="Key considerations",
                    kind="key-considerations",
                    bullets=[Bullet(text=s1, citations=[n0])],
                ),
            ],
        ),
        AnswerSection(
            heading="From the Research",
            kind="research",
            subsections=[
                AnswerSection(
                    heading="Efficacy",
                    kind="research-topic",
                    bullets=[Bullet(text=s2, citations=[n0 + 1])],
                )
            ],
        ),
    ]
    first, second = make_ref(n0, f"src-{n0}", s1), make_ref(n0 + 1, f"src-{n0 + 1}", s2)
    first.year, second.year = 2019, 2021
    return Answer(
        question=question,
        standalone_question=question,
        audience=audience,
        sections=sections,
        references=[first, second],
        disclaimer="Not medical advice.",
        follow_ups=[f"{question} follow-up A?", f"{question} follow-up B?"],
        markdown=f"answer to {question}",
        citation_map={f"src-{n0}": n0, f"src-{n0 + 1}": n0 + 1},
        library_built="2026-12-01T08:30:00Z",
    )


def fake_ask(conversation: Conversation, question: str, audience: str) -> Answer:
    """Like AskChain + Conversation.ask: numbering continues across the conversation."""
    n0 = 1 + 2 * len(conversation.answers)
    answer = make_answer(question, n0, audience)
    conversation.record(answer)
    return answer


def fake_stream(conversation: Conversation, question: str, audience: str) -> Iterator[Any]:
    """Like AppService.ask_stream with an LLM composer: steps, draft tokens, then the answer."""
    yield Step("retrieve", "Searching the library")
    yield Step("compose", "Composing the answer")
    for token in ["Draft ", "text ", "[1] ", "unchecked."]:
        yield Token(token)
    yield Step("cite", "Checking every citation against its source")
    answer = make_answer(question, 1 + 2 * len(conversation.answers), audience)
    yield Cited(answer)
    conversation.record(answer)
    yield Done(answer)


@pytest.fixture
def ask_fn() -> Callable[[Conversation, str, str], Iterator[Any]]:
    """A stream function (``handlers.StreamFn``) over ``fake_ask``."""
    from assistant.ui.handlers import stream_of

    return stream_of(fake_ask)


@pytest.fixture
def stream_fn() -> Callable[[Conversation, str, str], Iterator[Any]]:
    return fake_stream


@pytest.fixture
def answer_factory() -> Callable[..., Answer]:
    return make_answer


@pytest.fixture
def ref_factory() -> Callable[..., Reference]:
    return make_ref


@pytest.fixture
def evil() -> str:
    return EVIL
