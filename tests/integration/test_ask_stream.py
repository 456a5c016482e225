"""The ask chain as a stream, on a real library (MiniLM, Chroma): the same answer as
``AskChain.ask``, the steps in order, and an LLM composer's tokens as an unverified draft
(``GenericFakeChatModel`` streams its reply word by word)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from langchain_core.language_models import GenericFakeChatModel
from langchain_core.messages import AIMessage

from assistant.ask.chain import AskChain
from assistant.ask.citations import check_answer_citations
from assistant.ask.llm import number_sources
from assistant.ask.retrieve import Filters
from assistant.ask.stream import Cited, Done, Step, Token, stream_answer
from assistant.config import Settings
from assistant.errors import InvalidQuestion
from assistant.ingest.pipeline import ingest
from assistant.ingest.store import Library
from assistant.types import Answer, Turn

pytestmark = pytest.mark.slow

CORPUS = Path(__file__).resolve().parents[2] / "corpus"
ARTICLES = [
    "baverez-2022-anakinra-21-cases",
    "charlesworth-2023-iv-anakinra-sr",
    "eloseily-2020-anakinra-pediatric-shlh",
    "henter-2007-hlh2004-guidelines",
]
QUESTION = "What is the efficacy of anakinra in HLH?"
INVENTED = "It cured 97% of 1,234 patients within 2 hours"


@pytest.fixture(scope="module")
def chain(tmp_path_factory: pytest.TempPathFactory, embeddings: Any) -> Iterator[AskChain]:
    settings = Settings(data_dir=tmp_path_factory.mktemp("stream") / "data")
    library = Library(settings, embeddings=embeddings)
    ingest([CORPUS / f"{a}.md" for a in ARTICLES], settings, library=library, progress=False)
    yield AskChain(settings, library=library)
    library.close()


def comparable(answer: Answer) -> dict[str, Any]:
    return answer.model_dump(exclude={"timings_ms"})


def test_streamed_answer_is_the_chains_answer(chain: AskChain) -> None:
    events = list(stream_answer(chain, QUESTION))
    steps = [e.name for e in events if isinstance(e, Step)]
    assert steps == ["retrieve", "compose", "cite", "suggest", "render"], "no condense alone"
    kinds = [type(e).__name__ for e in events]
    assert kinds.index("Cited") == steps.index("cite") + 1, "the checked answer follows cite"
    assert kinds[-1] == "Done" and not any(isinstance(e, Token) for e in events)
    cited = next(e.answer for e in events if isinstance(e, Cited))
    done = events[-1].answer  # type: ignore[union-attr]
    assert cited.sections == done.sections and cited.references == done.references
    assert not cited.follow_ups and not cited.markdown, "those come with Done"
    assert comparable(done) == comparable(chain.ask(QUESTION))
    assert done.library_built and re.fullmatch(
        r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", done.library_built
    )
    assert {"retrieve", "compose", "cite", "render", "total"} <= set(done.timings_ms)
    assert done.markdown.startswith(f"# {QUESTION}\n\n**Review status:** Not reviewed")


def test_a_follow_up_streams_its_condense_step(chain: AskChain) -> None:
    first = chain.ask(QUESTION)
    history = [
        Turn(role="user", content=QUESTION),
        Turn(role="assistant", content=first.markdown, citations=first.citation_map),
    ]
    events = list(stream_answer(chain, "And in children?", history))
    assert [e.name for e in events if isinstance(e, Step)][0] == "condense"
    done = events[-1]
    assert isinstance(done, Done) and "anakinra" in done.answer.standalone_question.lower()


def test_the_hold_is_taken_and_errors_surface(chain: AskChain) -> None:
    entered: list[str] = []

    @contextmanager
    def hold() -> Iterator[None]:
        entered.append("in")
        yield
        entered.append("out")

    list(stream_answer(chain, QUESTION, hold=hold))
    assert entered == ["in", "out"]
    with pytest.raises(InvalidQuestion):
        next(iter(stream_answer(chain, "   ")))  # refused before any step runs

    @contextmanager
    def broken() -> Iterator[None]:
        raise OSError("library locked")
        yield

    with pytest.raises(OSError, match="library locked"):
        list(stream_answer(chain, QUESTION, hold=broken))


def test_llm_tokens_stream_as_a_draft_and_only_checked_sentences_stay(chain: AskChain) -> None:
    retrieval = chain.retriever.retrieve(
        QUESTION, Filters(), lexical_query=chain.lexical_query(QUESTION)
    )
    first = number_sources(retrieval.evidence)[1][0].chunk.text
    sentence = next(s for s in re.split(r"(?<=\.)\s+", first) if len(s.split()) > 6)
    reply = f"{sentence.rstrip('.')} [1]. {INVENTED} [1]."
    model = GenericFakeChatModel(messages=iter([AIMessage(content=reply)]))
    chain.chat_model, chain.composer = model, "fake:streaming"
    try:
        events = list(stream_answer(chain, QUESTION))
    finally:
        chain.chat_model, chain.composer = None, "extractive"
    tokens = [e.text for e in events if isinstance(e, Token)]
    assert len(tokens) > 10, "the model's reply arrives word by word"
    assert "".join(tokens) == reply
    kinds = [type(e).__name__ for e in events]
    assert max(i for i, k in enumerate(kinds) if k == "Token") < kinds.index("Cited")
    answer = events[-1].answer  # type: ignore[union-attr]
    check_answer_citations(answer.sections, answer.references)
    text = " ".join(b.text for b in answer.all_bullets())
    assert "97%" not in text and "1,234" not in text, "the invented number was dropped"
    assert sentence.rstrip(".")[:40] in text, "the checked sentence stays, cited"
    assert answer.composer == "fake:streaming"
