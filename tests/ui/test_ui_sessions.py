"""Ten gradio_client sessions at once, each with its own conversation: nothing leaks."""

from __future__ import annotations

import html
import re
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

pytestmark = pytest.mark.slow

CONVERSATIONS = [
    ("emapalumab", "What is emapalumab?", "What dose is used?"),
    ("ruxolitinib", "Does ruxolitinib work in HLH?", "What about in adults?"),
    ("hscore", "What is the HScore?", "What cutoff is used?"),
    ("etoposide", "How is etoposide used in HLH?", "What are its side effects?"),
    ("ferritin", "What is the role of ferritin in HLH diagnosis?", "What level is suspicious?"),
    ("ivig", "Is IVIG used in HLH?", "Is it safe?"),
    ("alemtuzumab", "What is alemtuzumab used for in HLH?", "What were the outcomes?"),
    ("mas", "How is MAS classified?", "What about in children?"),
    ("ciclosporin", "What is ciclosporin's role in HLH?", "How is it dosed?"),
    ("anakinra", "What is the efficacy of anakinra in HLH?", "How fast does fever resolve?"),
]
_TAGS = re.compile(r"<[^>]+>")


def text_of(message: dict[str, Any]) -> str:
    content = message["content"]
    if isinstance(content, list):
        content = " ".join(str(p.get("text", "")) for p in content if isinstance(p, dict))
    return html.unescape(_TAGS.sub("", str(content)))


def converse(url: str, first: str, follow_up: str) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    from gradio_client import Client

    client = Client(url, verbose=False)
    client.predict(first, "clinician", api_name="/ask")
    chat, _sources, answer, _box, _hint = client.predict(follow_up, "clinician", api_name="/ask")
    return chat, answer


def test_parallel_sessions_do_not_leak(app_server: Any) -> None:
    with ThreadPoolExecutor(max_workers=len(CONVERSATIONS)) as pool:
        futures = [pool.submit(converse, app_server.url, q, f) for _, q, f in CONVERSATIONS]
        results = [f.result(timeout=300) for f in futures]
    for (topic, first, follow_up), (chat, answer) in zip(CONVERSATIONS, results, strict=True):
        users = [text_of(m) for m in chat if m["role"] == "user"]
        assert users == [first, follow_up], f"session {topic!r} saw other turns: {users}"
        assert len(chat) == 4
        assert answer["question"] == follow_up
        assert topic in answer["standalone_question"].lower(), (
            f"the follow-up of session {topic!r} was not read with its own history: "
            f"{answer['standalone_question']!r}"
        )
        whole = " ".join(text_of(m) for m in chat)
        for other_topic, other_first, _ in CONVERSATIONS:
            if other_topic != topic:
                assert other_first not in whole, f"{other_first!r} leaked into {topic!r}"
