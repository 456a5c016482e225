"""Pages made from hand-built answers in a real SQLite file (no model, no index)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from assistant.pages.store import NewPage, Page, PageStore
from assistant.pages.version import library_version
from assistant.pages.workflow import REVIEWER_ROLE, User
from assistant.types import Answer, AnswerSection, Bullet, Passage, Reference

RITA = User("rita", frozenset({REVIEWER_ROLE}))
SAM = User("sam", frozenset({REVIEWER_ROLE}))
ANN = User("ann")


def make_answer(question: str = "What is the dose of drug X?", title: str = "A study") -> Answer:
    sentence = "Drug X was given at 2 mg/kg daily."
    return Answer(
        question=question,
        standalone_question=question,
        sections=[
            AnswerSection(
                heading="From the Research",
                subsections=[
                    AnswerSection(heading="Dosing", bullets=[Bullet(text=sentence, citations=[1])])
                ],
            )
        ],
        references=[
            Reference(
                n=1,
                source_id="src-a",
                title=title,
                year=2021,
                pmid="111",
                evidence_type="rct",
                passages=[Passage(chunk_id="src-a#0", text=sentence, highlights=[sentence])],
            )
        ],
        disclaimer="Not medical advice.",
    )


def new_page(answer: Answer | None = None, sources: dict[str, str] | None = None) -> NewPage:
    versions = sources if sources is not None else {"src-a": "hash-a"}
    return NewPage(
        answer=answer or make_answer(),
        sources=versions,
        library_version=library_version(versions),
        created_by="ann",
        vector=[1.0, 0.0, 0.0],
        vector_model="test-model",
    )


@pytest.fixture
def store(tmp_path: Path) -> Iterator[PageStore]:
    s = PageStore(tmp_path / "pages.sqlite")
    try:
        yield s
    finally:
        s.close()


@pytest.fixture
def saved(store: PageStore) -> Callable[..., Page]:
    def _save(**kwargs: object) -> Page:
        return store.create(new_page(**kwargs))  # type: ignore[arg-type]

    return _save
