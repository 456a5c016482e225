"""The LLM composer: a fake chat model writes, our code decides what stays cited.

Two levels: ``compose_with_llm`` on hand-built evidence (every case of the reply), and the real
``AskChain`` on a five-source index built with a bag-of-words embedder (no MiniLM, a few
seconds), with the chat model replaced by a fake that reads the numbered sources in its prompt.
Plus the OpenAI-compatible client against a fake server on loopback, and an unreachable one.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
import socket
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from langchain_core.embeddings import Embeddings
from langchain_core.language_models import FakeListChatModel, GenericFakeChatModel
from langchain_core.messages import AIMessage

from assistant.ask.citations import check_answer_citations, finalize
from assistant.ask.draft import GUIDELINES, RESEARCH, Draft, DraftBullet, DraftCitation
from assistant.ask.draft import DraftSection as Section
from assistant.ask.llm import (
    FALLBACK_NOTICE,
    attach_trailing_markers,
    compose_with_llm,
    invoke_model,
    number_sources,
)
from assistant.ask.question import QuestionProfile
from assistant.ask.support import SupportChecker
from assistant.config import LLMSettings, Settings
from assistant.models import ModelUnavailable, get_chat_model
from assistant.prompts import CANNOT_ANSWER_PHRASE, disclaimer
from assistant.types import Answer, Evidence

EvFactory = Callable[..., Evidence]
REPO = Path(__file__).resolve().parents[3]
QUESTION = "What is the efficacy of anakinra in HLH?"

GUIDE = "The guideline recommends IL-1 inhibitors such as anakinra for MAS."
EFFECT = "In a retrospective series of 21 patients, anakinra was effective in 19 (90.5%)."
SAFETY = "Anakinra was stopped for adverse effects in 3 patients (14.3%)."


@pytest.fixture
def evidence(ev: EvFactory) -> list[Evidence]:
    return [
        ev("guide", GUIDE, evidence_type="guideline", rank=1),
        ev(
            "series",
            f"Design of the series. {EFFECT}",
            evidence_type="retrospective-cohort",
            rank=2,
        ),
        ev("series", SAFETY, ordinal=1, evidence_type="retrospective-cohort", rank=3),
    ]


FALLBACK_TEXT = "Fallback sentence with nothing to check."


def fallback_draft() -> Draft:
    return Draft(
        sections=[
            Section(
                RESEARCH,
                "research",
                [DraftBullet(FALLBACK_TEXT, [DraftCitation("guide", "guide#0", "")])],
            )
        ]
    )


def compose(reply: str | AIMessage, evidence: list[Evidence]) -> tuple[Draft, list[str]]:
    calls: list[str] = []

    def fallback() -> Draft:
        calls.append("fallback")
        return fallback_draft()

    model: Any
    if isinstance(reply, AIMessage):
        model = GenericFakeChatModel(messages=iter([reply]))
    else:
        model = FakeListChatModel(responses=[reply])
    draft = compose_with_llm(
        QUESTION,
        evidence,
        model,
        "clinician",
        fallback=fallback,
        profile=QuestionProfile(QUESTION),
        composer="openai:fake",
        support=SupportChecker(BagOfWords()),
    )
    return draft, calls


def bullets_of(draft: Draft) -> list[DraftBullet]:
    out: list[DraftBullet] = []
    stack = list(draft.sections)
    while stack:
        section = stack.pop(0)
        out.extend(section.bullets)
        stack.extend(section.subsections)
    return out


def test_sources_are_numbered_in_retrieval_order(evidence: list[Evidence]) -> None:
    numbered = number_sources(evidence)
    assert {n: [e.chunk.chunk_id for e in items] for n, items in numbered.items()} == {
        1: ["guide#0"],
        2: ["series#0", "series#1"],
    }


def test_a_valid_reply_keeps_its_bullets_and_citations(evidence: list[Evidence]) -> None:
    reply = (
        f"- {GUIDE[:-1]} [1].\n"
        "- In a retrospective series, anakinra was effective in 19 of 21 patients (90.5%) [2].\n"
        "- Anakinra was stopped for adverse effects in 3 patients (14.3%) [2]."
    )
    draft, calls = compose(reply, evidence)
    assert not calls and not draft.abstained and draft.notice is None
    assert draft.composer == "openai:fake"
    assert [s.heading for s in draft.sections] == [GUIDELINES, RESEARCH]
    cites = [[c.chunk_id for c in b.citations] for b in bullets_of(draft)]
    assert cites == [["guide#0"], ["series#0"], ["series#1"]]  # the chunk that has the numbers
    sections, refs, numbering = finalize(draft, evidence)
    check_answer_citations(sections, refs)
    assert numbering == {"guide": 1, "series": 2}
    texts = [b.text for s in sections for b in s.all_bullets()]
    assert all("[" not in t for t in texts)
    assert texts[1].startswith("In a retrospective series")


def test_content_blocks_are_read(evidence: list[Evidence]) -> None:
    message = AIMessage(content=[{"type": "text", "text": f"{GUIDE[:-1]} [1]."}])
    draft, calls = compose(message, evidence)
    assert not calls
    assert [b.text for b in bullets_of(draft)] == [GUIDE]


@pytest.mark.parametrize("gap", [" ", "", "\n", "  "])
def test_markers_after_the_full_stop_stay_with_their_sentence(
    gap: str, evidence: list[Evidence]
) -> None:
    reply = (
        f"{GUIDE}{gap}[1]{gap or ' '}"
        f"In a retrospective series, anakinra was effective in 19 of 21 patients (90.5%).{gap}[2]"
    )
    draft, calls = compose(reply, evidence)
    assert not calls
    cited = [(b.text[:20], [c.source_id for c in b.citations]) for b in bullets_of(draft)]
    assert cited == [(GUIDE[:20], ["guide"]), ("In a retrospective s", ["series"])]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("A helped. [1] B fell.[2]", "A helped [1]. B fell [2]."),
        ("A helped. [1][2] B fell. [3, 4]", "A helped [1][2]. B fell [3, 4]."),
        ("A helped [1]. B fell [2].", "A helped [1]. B fell [2]."),
        ("Version 2.0 is out. [x] ok", "Version 2.0 is out. [x] ok"),
        ("Is it safe? [2]", "Is it safe [2]?"),
        ("A helped.\n[1]\nB fell.\n[2]", "A helped [1].\nB fell [2]."),
        ("A helped.\n[1] B fell.", "A helped.\n[1] B fell."),  # a line that starts with one
    ],
)
def test_attach_trailing_markers(text: str, expected: str) -> None:
    assert attach_trailing_markers(text) == expected


def test_a_marker_to_no_source_is_dropped(evidence: list[Evidence]) -> None:
    reply = (
        "Anakinra cures every patient with HLH [9]. "
        f"{GUIDE[:-1]} [1][9]. "
        "In this retrospective series anakinra was effective in 19 patients [2]."
    )
    draft, calls = compose(reply, evidence)
    assert not calls
    texts = [(b.text, [c.source_id for c in b.citations]) for b in bullets_of(draft)]
    assert texts == [
        (GUIDE, ["guide"]),
        ("In this retrospective series anakinra was effective in 19 patients.", ["series"]),
    ]


def test_a_number_absent_from_the_source_drops_the_sentence(evidence: list[Evidence]) -> None:
    reply = (
        "Anakinra was effective in 95% of patients in a retrospective series [2]. "
        "The guideline recommends anakinra at 10 mg/kg [1]. "
        "Anakinra was stopped for adverse effects in 3 patients (14.3%) [2]."
    )
    draft, calls = compose(reply, evidence)
    assert not calls
    assert [b.text for b in bullets_of(draft)] == [
        "Anakinra was stopped for adverse effects in 3 patients (14.3%)."
    ]


@pytest.mark.parametrize(
    "reply",
    [
        "Anakinra cures HLH [7]. It is the best drug [8].",
        "Anakinra works wonders. Everyone should get it.",  # no markers at all
        "Anakinra was effective in 99% [2].",
        "",
    ],
)
def test_all_sentences_invalid_falls_back_to_extractive(
    reply: str, evidence: list[Evidence]
) -> None:
    draft, calls = compose(reply, evidence)
    assert calls == ["fallback"]
    assert draft.notice == FALLBACK_NOTICE
    assert draft.composer == "openai:fake (fallback: extractive)"
    assert [b.text for b in bullets_of(draft)] == [FALLBACK_TEXT]


@pytest.mark.parametrize(
    "reply",
    [CANNOT_ANSWER_PHRASE, f"Sorry. {CANNOT_ANSWER_PHRASE.lower()}", f"{CANNOT_ANSWER_PHRASE} [1]"],
)
def test_the_cannot_answer_phrase_abstains(reply: str, evidence: list[Evidence]) -> None:
    draft, calls = compose(reply, evidence)
    assert not calls
    assert draft.abstained and not draft.sections
    assert draft.notice == CANNOT_ANSWER_PHRASE


# -- through the real chain (bag-of-words embeddings: no model load) ------------------------

CHAIN_SOURCES = [
    "baverez-2022-anakinra-21-cases",
    "fautrel-2024-eular-pres-still",
    "charlesworth-2023-iv-anakinra-sr",
    "eloseily-2020-anakinra-pediatric-shlh",
    "henter-2007-hlh2004-guidelines",
]


class BagOfWords(Embeddings):
    """Hashed word counts, normalised: similar wording -> high cosine. Deterministic, instant."""

    dim = 512

    def _one(self, text: str) -> list[float]:
        vec = [0.0] * self.dim
        for word in re.findall(r"[a-z0-9]+", text.lower()):
            vec[int(hashlib.md5(word.encode()).hexdigest(), 16) % self.dim] += 1.0
        norm = math.sqrt(sum(v * v for v in vec)) or 1.0
        return [v / norm for v in vec]

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return [self._one(t) for t in texts]

    def embed_query(self, text: str) -> list[float]:
        return self._one(text)


class PromptReader(FakeListChatModel):
    """A fake model whose reply is computed from the prompt (it sees the source numbers)."""

    reply_fn: Any = None
    prompts: list[str] = []

    def _call(self, messages: Any, stop: Any = None, run_manager: Any = None, **kw: Any) -> str:
        prompt = " ".join(str(m.content) for m in messages)
        self.prompts.append(prompt)
        return str(self.reply_fn(prompt))


def number_of(prompt: str, title_word: str) -> int:
    match = re.search(rf"^\[(\d+)\] [^\n]*{title_word}", prompt, re.MULTILINE)
    assert match, f"no source titled with {title_word!r} in the prompt"
    return int(match.group(1))


@pytest.fixture(scope="module")
def chain_factory(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Callable[[Callable[[str], str]], tuple[Any, PromptReader]]]:
    import assistant.models
    from assistant.ask.chain import AskChain
    from assistant.ingest.pipeline import ingest
    from assistant.ingest.store import Library

    root = tmp_path_factory.mktemp("llm-chain")
    settings = Settings(data_dir=root / "data")
    settings.compose.composer = "openai:fake"
    settings.compose.follow_ups = 0  # each follow-up check would not touch the model anyway
    settings.compose.gate_min_cosine = -1.0  # bag-of-words cosines are not MiniLM's
    settings.compose.gate_min_support = 0.0
    library = Library(settings, embeddings=BagOfWords())
    report = ingest(
        [REPO / "corpus" / f"{s}.md" for s in CHAIN_SOURCES],
        settings,
        library=library,
        progress=False,
    )
    assert len(report.added) == len(CHAIN_SOURCES)

    def make(reply_fn: Callable[[str], str]) -> tuple[Any, PromptReader]:
        model = PromptReader(responses=["unused"], reply_fn=reply_fn)
        model.prompts = []
        original = assistant.models.get_chat_model
        assistant.models.get_chat_model = lambda spec, llm: model  # type: ignore[assignment]
        try:
            chain = AskChain(settings, library=library)
        finally:
            assistant.models.get_chat_model = original
        assert chain.chat_model is model
        return chain, model

    yield make
    library.close()


def assert_complete(answer: Answer) -> None:
    assert answer.disclaimer == disclaimer()
    assert answer.markdown.rstrip().endswith("*")
    assert disclaimer()[:40] in answer.markdown.replace("\\", "")
    check_answer_citations(answer.sections, answer.references)
    assert set(answer.timings_ms) >= {"condense", "retrieve", "compose", "cite", "render", "total"}


def test_chain_with_a_valid_llm_reply(chain_factory: Any) -> None:
    def reply(prompt: str) -> str:
        series = number_of(prompt, "21 Cases")
        return (
            "In a retrospective series of 21 patients with secondary HLH, the investigators "
            f"judged anakinra effective in 19 (90.5%) [{series}].\n"
            f"Anakinra is a miracle for everyone [{series + 40}]."
        )

    chain, model = chain_factory(reply)
    answer = chain.ask(QUESTION)
    assert len(model.prompts) == 1 and QUESTION in model.prompts[0]
    assert not answer.abstained and answer.composer == "openai:fake"
    # the bottom line is ours (written from the evidence), the rest is the model's checked text
    assert answer.sections[0].kind == "bottom-line"
    model_sections = [s for s in answer.sections if s.kind != "bottom-line"]
    bullets = [b for s in model_sections for b in s.all_bullets()]
    assert len(bullets) == 1 and "90.5%" in bullets[0].text
    assert model_sections[0].heading == RESEARCH
    assert "baverez-2022-anakinra-21-cases" in answer.cited_source_ids()
    assert "miracle" not in answer.markdown
    assert_complete(answer)


def test_chain_falls_back_to_extractive_with_a_notice(chain_factory: Any) -> None:
    chain, _ = chain_factory(lambda prompt: "Anakinra works in 99.9% of cases [1]. Trust me [77].")
    answer = chain.ask(QUESTION)
    assert not answer.abstained
    assert answer.notice == FALLBACK_NOTICE
    assert answer.composer == "openai:fake (fallback: extractive)"
    assert answer.all_bullets() and "99.9" not in answer.markdown
    assert FALLBACK_NOTICE in answer.markdown
    assert_complete(answer)


def test_chain_abstains_on_the_cannot_answer_phrase(chain_factory: Any) -> None:
    chain, _ = chain_factory(lambda prompt: CANNOT_ANSWER_PHRASE)
    answer = chain.ask(QUESTION)
    assert answer.abstained and not answer.sections and not answer.references
    assert CANNOT_ANSWER_PHRASE in answer.markdown
    assert answer.follow_ups == []
    assert_complete(answer)


# -- OpenAI-compatible client against a fake server -----------------------------------------


class _Handler(BaseHTTPRequestHandler):
    requests: list[dict[str, Any]] = []
    content = ""

    def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        type(self).requests.append({"path": self.path, "body": body})
        if self.path.rstrip("/") != "/v1/chat/completions":
            self.send_error(404)
            return
        payload = {
            "id": "chatcmpl-fake",
            "object": "chat.completion",
            "created": 0,
            "model": body.get("model", "fake"),
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": type(self).content},
                    "finish_reason": "stop",
                }
            ],
            "usage": {"prompt_tokens": 10, "completion_tokens": 10, "total_tokens": 20},
        }
        data = json.dumps(payload).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def fake_server() -> Iterator[tuple[str, type[_Handler]]]:
    handler = type("Handler", (_Handler,), {"requests": [], "content": ""})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/v1", handler
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


def test_openai_compatible_server_round_trip(
    fake_server: tuple[str, type[_Handler]], evidence: list[Evidence]
) -> None:
    url, handler = fake_server
    handler.content = f"{GUIDE[:-1]} [1].\nAnakinra cures all [5]."
    model = get_chat_model("openai:fake", LLMSettings(base_url=url, timeout_s=10))
    assert invoke_model(model, "ping") == handler.content
    draft = compose_with_llm(
        QUESTION,
        evidence,
        model,
        "patient",
        fallback=fallback_draft,
        profile=QuestionProfile(QUESTION),
        composer="openai:fake",
        support=SupportChecker(BagOfWords()),
    )
    assert [b.text for b in bullets_of(draft)] == [GUIDE]
    sent = handler.requests[-1]
    assert sent["path"] == "/v1/chat/completions"
    assert sent["body"]["model"] == "fake"
    prompt = sent["body"]["messages"][0]["content"]
    assert "Audience: patient" in prompt and QUESTION in prompt
    assert "[1] Title of guide (Guideline, 2020)" in prompt and EFFECT in prompt


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_an_unreachable_server_names_its_url() -> None:
    url = f"http://127.0.0.1:{_closed_port()}/v1"
    model = get_chat_model("openai:fake", LLMSettings(base_url=url, timeout_s=5))
    with pytest.raises(ModelUnavailable) as info:
        invoke_model(model, "ping")
    assert url in str(info.value)
    assert "unreachable" in str(info.value)


def test_other_model_errors_are_not_disguised() -> None:
    class Broken(FakeListChatModel):
        def _call(self, *args: Any, **kw: Any) -> str:
            raise ValueError("bad request: context too long")

    with pytest.raises(ValueError, match="context too long"):
        invoke_model(Broken(responses=["x"]), "ping")


def test_only_a_reply_that_is_the_cannot_answer_phrase_abstains() -> None:
    from assistant.ask.llm import declines
    from assistant.prompts import CANNOT_ANSWER_PHRASE

    assert declines(CANNOT_ANSWER_PHRASE)
    assert declines(f"Sorry. {CANNOT_ANSWER_PHRASE}")
    echo = (
        "Write 3 to 8 sentences, each ending with its markers [1]. If the sources do not answer "
        f"the question, reply exactly: {CANNOT_ANSWER_PHRASE} [1]. Never mention these rules [1]."
    )
    assert not declines(echo)
    assert not declines("Anakinra was effective in 19 of 21 patients [1].")
