"""Follow-up -> standalone question, offline (with a small library's vocabulary) and with a
(fake) LLM."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from langchain_core.language_models import FakeListChatModel

from assistant.ask.condense import condense_offline, condense_with_llm, is_follow_up
from assistant.ask.question import QuestionProfile
from assistant.types import Turn

Analyze = Callable[[str], QuestionProfile]
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
    ("previous", "follow_up", "must_have", "must_not_have"),
    [
        (SEED, "and in children?", ["anakinra", "HLH", "children"], []),
        (SEED, "and in kids?", ["anakinra", "HLH", "kids"], []),
        (SEED, "what dose?", ["dose", "anakinra", "HLH"], []),
        (SEED, "how does that compare with etoposide?", ["anakinra", "etoposide", "HLH"], ["that"]),
        (SEED, "compared with etoposide?", ["anakinra", "etoposide", "HLH"], []),
        (SEED, "what about emapalumab?", ["emapalumab", "HLH"], ["anakinra"]),
        (SEED, "any side effects?", ["side effects", "anakinra", "HLH"], []),
        (SEED, "is it safe in the ICU?", ["safe", "anakinra", "ICU"], [" it "]),
        # the two rewrites the old condenser got wrong
        (
            "Does malignancy cause HLH in adults?",
            "and in children?",
            ["malignancy", "cause", "HLH", "children"],
            ["adults", "does children"],
        ),
        (
            "How is gestational diabetes treated?",
            "What are its risks?",
            ["gestational diabetes", "risks"],
            [" its "],
        ),
        ("What is glaucoma?", "how is it treated?", ["glaucoma", "treated"], [" it "]),
        # "it" is the whole name, modifier and all
        (
            "How is zorbimab-associated HLH diagnosed?",
            "how is it treated?",
            ["zorbimab-associated HLH", "treated"],
            [" it "],
        ),
        # after "what is <phrase>?", "it" is the whole phrase
        (
            "What is HLH after CAR T-cell therapy?",
            "how is it graded?",
            ["HLH after CAR T-cell therapy", "graded"],
            [" it "],
        ),
        # a population with an ordinary word before it is still only a population
        (
            "How is gestational diabetes treated?",
            "what about in young adults?",
            ["gestational diabetes", "treated", "young adults"],
            [" of "],
        ),
        # outcomes after a question on a medicine are the outcomes with it
        (SEED, "what were the outcomes?", ["outcomes", "anakinra", "HLH"], []),
        # "it" is the name the library does not know, not the condition it does
        ("Is zorbimab used in HLH?", "is it safe?", ["zorbimab", "safe"], [" it "]),
        # a plural pronoun after a condition is the people who have it, not the condition's
        (
            "How is gestational diabetes treated?",
            "what happened to their weight?",
            ["weight", "people with gestational diabetes"],
            ["their", "diabetes's"],
        ),
        (
            "Does anakinra help children with HLH?",
            "Does it matter how early it's started?",
            ["anakinra is started", "matter"],
            ["anakinra's"],
        ),
    ],
)
def test_follow_up_rewrites(
    analyze: Analyze, previous: str, follow_up: str, must_have: list[str], must_not_have: list[str]
) -> None:
    out = condense_offline(follow_up, history(previous), analyze)
    assert words_in(out, *must_have), out
    assert not any(w.lower() in f" {out.lower()} " for w in must_not_have), out
    assert out.endswith("?")
    assert out != follow_up


@pytest.mark.parametrize(
    ("previous", "question"),
    [
        # a question that names its own subject is never touched, whatever came before
        ("Is metformin safe in gestational diabetes?", "What are the side effects of metformin?"),
        ("How is gestational diabetes treated?", "What are the symptoms of glaucoma?"),
        ("What is emapalumab used for in HLH?", "Is anakinra effective in secondary HLH?"),
        ("What is emapalumab used for in HLH?", SEED),
        ("Is pregabalin used for neuropathic pain?", "Does etoposide improve survival in adults?"),
    ],
)
def test_a_self_contained_question_is_left_unchanged(
    analyze: Analyze, previous: str, question: str
) -> None:
    assert not is_follow_up(question, analyze(question))
    assert condense_offline(question, history(previous), analyze) == question


@pytest.mark.parametrize("question", ["and in children?", "what dose?", SEED, "  spaced   out  "])
def test_no_history_means_no_rewrite(analyze: Analyze, question: str) -> None:
    assert condense_offline(question, [], analyze) == " ".join(question.split())


def test_history_without_user_turns_means_no_rewrite(analyze: Analyze) -> None:
    only_assistant = [Turn(role="assistant", content="Hello, ask me about the library.")]
    assert condense_offline("what dose?", only_assistant, analyze) == "what dose?"


def test_multi_turn_history_carries_the_subject_forward(analyze: Analyze) -> None:
    turns = history(SEED, "and in children?")
    out = condense_offline("what dose?", turns, analyze)
    assert words_in(out, "dose", "anakinra", "HLH", "children"), out


def test_a_population_is_replaced_not_appended(analyze: Analyze) -> None:
    out = condense_offline(
        "and in children?", history("Does etoposide help adults with HLH?"), analyze
    )
    assert "children" in out and "adults" not in out, out


class _Counting(FakeListChatModel):
    calls: int = 0

    def invoke(self, *args: Any, **kwargs: Any) -> Any:
        self.calls += 1
        return super().invoke(*args, **kwargs)


def test_llm_rewrite_is_used_and_an_unusable_reply_falls_back(analyze: Analyze) -> None:
    model = _Counting(responses=["What dose of anakinra is used in HLH?"])
    assert condense_with_llm("what dose?", history(SEED), model, analyze) == (
        "What dose of anakinra is used in HLH?"
    )
    empty = _Counting(responses=[""])
    out = condense_with_llm("what dose?", history(SEED), empty, analyze)
    assert words_in(out, "dose", "anakinra"), out
    assert empty.calls == 1
