"""Follow-up -> standalone question, offline and with a (fake) LLM."""

from __future__ import annotations

from typing import Any

import pytest
from langchain_core.language_models import FakeListChatModel

from assistant.ask.condense import condense_offline, condense_with_llm, is_elliptical
from assistant.ask.lexicon import load_lexicon
from assistant.types import Turn

SEED = "What is the efficacy of anakinra in HLH?"


def history(*questions: str) -> list[Turn]:
    """User questions, each followed by an assistant answer."""
    turns: list[Turn] = []
    for q in questions:
        turns.append(Turn(role="user", content=q))
        turns.append(Turn(role="assistant", content=f"Answer to {q} [1]", citations={"s": 1}))
    return turns


def words_in(text: str, *expected: str) -> bool:
    low = text.lower()
    return all(w.lower() in low for w in expected)


@pytest.mark.parametrize(
    ("follow_up", "must_have", "must_not_have"),
    [
        ("and in children?", ["anakinra", "HLH", "children"], []),
        ("and in kids?", ["anakinra", "HLH", "children"], []),
        ("what dose?", ["dose", "anakinra", "HLH"], []),
        ("how does that compare with etoposide?", ["anakinra", "etoposide", "HLH"], ["that"]),
        ("compared with etoposide?", ["anakinra", "etoposide", "HLH"], []),
        ("what about emapalumab?", ["emapalumab", "HLH"], ["anakinra"]),
        ("any side effects?", ["side effects", "anakinra", "HLH"], []),
        ("is it safe in the ICU?", ["safe", "anakinra", "ICU", "HLH"], [" it "]),
        ("what about MAS?", ["anakinra", "MAS"], ["HLH"]),
    ],
)
def test_follow_up_rewrites(follow_up: str, must_have: list[str], must_not_have: list[str]) -> None:
    out = condense_offline(follow_up, history(SEED))
    assert words_in(out, *must_have), out
    assert not any(w.lower() in f" {out.lower()} " for w in must_not_have), out
    assert out.endswith("?")
    assert out != follow_up


@pytest.mark.parametrize(
    "question",
    [
        "What are the HLH-2004 diagnostic criteria?",
        "Is anakinra effective in MAS?",
        "How does emapalumab compare with etoposide in primary HLH?",
        SEED,
    ],
)
def test_a_self_contained_question_is_left_unchanged(question: str) -> None:
    assert not is_elliptical(question, load_lexicon())
    assert condense_offline(question, history("What is emapalumab used for in HLH?")) == question


@pytest.mark.parametrize("question", ["and in children?", "what dose?", SEED, "  spaced   out  "])
def test_no_history_means_no_rewrite(question: str) -> None:
    assert condense_offline(question, []) == " ".join(question.split())


def test_history_without_user_turns_means_no_rewrite() -> None:
    only_assistant = [Turn(role="assistant", content="Hello, ask me about HLH.")]
    assert condense_offline("what dose?", only_assistant) == "what dose?"


def test_multi_turn_history_carries_the_subject_forward() -> None:
    turns = history(SEED, "and in children?")
    out = condense_offline("what dose?", turns)
    assert words_in(out, "dose", "anakinra", "HLH", "children"), out

    switched = condense_offline(
        "what dose?", history(SEED, "and in children?", "what about emapalumab?")
    )
    assert words_in(switched, "dose", "emapalumab", "HLH", "children"), switched
    assert "anakinra" not in switched.lower()


def test_a_new_subject_resets_the_conversation() -> None:
    turns = history(SEED, "What are the HLH-2004 diagnostic criteria?")
    out = condense_offline("and in adults?", turns)
    assert words_in(out, "HLH-2004", "criteria", "adults"), out
    assert "anakinra" not in out.lower()


def test_the_last_user_turn_counts_even_without_an_answer() -> None:
    turns = [Turn(role="user", content=SEED)]
    assert words_in(condense_offline("and in children?", turns), "anakinra", "children")


# -- LLM condenser --------------------------------------------------------------------------


class RecordingFake(FakeListChatModel):
    """FakeListChatModel that keeps the prompts it was sent."""

    prompts: list[str] = []

    def _call(self, messages: Any, stop: Any = None, run_manager: Any = None, **kw: Any) -> str:
        self.prompts.append(" ".join(str(m.content) for m in messages))
        return super()._call(messages, stop, run_manager, **kw)


def test_condense_with_llm_uses_the_model_reply() -> None:
    model = RecordingFake(responses=['"What is the efficacy of anakinra in children with HLH?"\n'])
    model.prompts = []
    out = condense_with_llm("and in children?", history(SEED), model)
    assert out == "What is the efficacy of anakinra in children with HLH?"
    assert len(model.prompts) == 1
    assert "and in children?" in model.prompts[0]
    assert SEED in model.prompts[0]  # the history reaches the prompt


def test_condense_with_llm_keeps_only_the_first_line() -> None:
    model = FakeListChatModel(responses=["Is anakinra safe in HLH?\nExplanation: I merged it."])
    assert condense_with_llm("is it safe?", history(SEED), model) == "Is anakinra safe in HLH?"


@pytest.mark.parametrize("reply", ["", "   \n  ", '""', "x" * 401])
def test_condense_with_llm_falls_back_to_the_offline_rewrite(reply: str) -> None:
    model = FakeListChatModel(responses=[reply])
    out = condense_with_llm("and in children?", history(SEED), model)
    assert out == condense_offline("and in children?", history(SEED))
    assert words_in(out, "anakinra", "children")
