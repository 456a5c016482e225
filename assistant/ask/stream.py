"""The ask chain as a stream of events: which step is running, the model's tokens as they
arrive (LLM composer only, unverified), the answer once its citations are checked, then the
finished answer.

It runs the chain's own named LCEL steps (``AskChain.runnable``: condense, retrieve, compose,
cite, suggest, render) one by one, so a streamed answer is exactly the answer ``AskChain.ask``
gives. The steps run in a worker thread: a model's tokens are reported through LangChain
callbacks while the compose step is still running, and this generator yields them as they
come. Tokens are the model's raw text, before any citation is resolved or any sentence checked:
a consumer must show them as a draft and replace them with the ``Cited`` answer.
"""

from __future__ import annotations

import contextvars
import queue
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from langchain_core.callbacks import BaseCallbackHandler
from langchain_core.runnables import Runnable, RunnableBinding, RunnableSequence

from assistant.ask.llm import STREAM_TOKENS
from assistant.types import Answer, Turn

if TYPE_CHECKING:
    from assistant.ask.chain import AskChain, AskState
    from assistant.ask.retrieve import Filters

STEP_LABELS: dict[str, str] = {
    "condense": "Reading the question with the conversation",
    "retrieve": "Searching the library",
    "compose": "Composing the answer",
    "cite": "Checking every citation against its source",
    "suggest": "Finding follow-up questions the library can answer",
    "render": "Formatting the answer",
}


@dataclass(frozen=True)
class Step:
    """A step of the chain starts."""

    name: str
    label: str


@dataclass(frozen=True)
class Token:
    """A piece of the model's reply, as it arrives: unverified."""

    text: str


@dataclass(frozen=True)
class Cited:
    """The answer after its citations were checked: its sections and references are final;
    follow-ups, glossary and Markdown come with ``Done``."""

    answer: Answer


@dataclass(frozen=True)
class Done:
    """The finished answer, as ``AskChain.ask`` returns it."""

    answer: Answer


StreamEvent = Step | Token | Cited | Done


@dataclass(frozen=True)
class _Failed:
    error: BaseException


def named_steps(runnable: Runnable[Any, Any]) -> list[tuple[str, Runnable[Any, Any]]]:
    """The (run name, runnable) steps of an LCEL sequence built with ``with_config(run_name)``."""
    sequence = runnable.bound if isinstance(runnable, RunnableBinding) else runnable
    if not isinstance(sequence, RunnableSequence):
        raise TypeError(f"expected a RunnableSequence, got {type(sequence).__name__}")
    out = []
    for step in sequence.steps:
        name = step.config.get("run_name") if isinstance(step, RunnableBinding) else None
        out.append((str(name or step.get_name()), step))
    return out


class _TokenRelay(BaseCallbackHandler):
    """Puts the chat model's new tokens on the stream's queue."""

    def __init__(self, put: Callable[[StreamEvent | _Failed], None]) -> None:
        self.put = put

    def on_llm_new_token(self, token: str | list[str | dict[str, Any]], **kwargs: Any) -> None:
        if isinstance(token, list):  # content blocks
            token = "".join(b if isinstance(b, str) else str(b.get("text", "")) for b in token)
        if token:
            self.put(Token(token))


def stream_answer(
    chain: AskChain,
    question: str,
    history: Sequence[Turn] = (),
    audience: str | None = None,
    filters: Filters | None = None,
    citation_map: dict[str, int] | None = None,
    hold: Callable[[], AbstractContextManager[Any]] = nullcontext,
) -> Iterator[StreamEvent]:
    """Ask ``chain`` and yield what happens: ``Step`` before each step (condense only with a
    history), ``Token`` while an LLM composer writes, ``Cited`` after the cite step, and
    ``Done`` last. A bad question raises ``InvalidQuestion`` before anything runs; an error in
    a step is raised here. ``hold`` is entered around the steps (the app's library lock)."""
    start = time.perf_counter()
    state = chain.new_state(question, history, audience, filters, citation_map)
    events: queue.Queue[StreamEvent | _Failed] = queue.Queue()
    steps = named_steps(chain.runnable)

    def run() -> None:
        STREAM_TOKENS.set(True)  # this thread's own context (copied below)
        relay = _TokenRelay(events.put)
        current: AskState = state
        try:
            with hold():
                for name, step in steps:
                    if name != "condense" or current.history:
                        events.put(Step(name, STEP_LABELS.get(name, name)))
                    config: Any = {"callbacks": [relay]} if name == "compose" else None
                    current = step.invoke(current, config=config)
                    if name == "cite" and current.answer is not None:
                        # a copy: the later steps add to the answer while it is being shown
                        events.put(Cited(current.answer.model_copy(deep=True)))
            answer = current.answer
            if answer is None:
                raise RuntimeError("the chain finished without an answer")
            answer.timings_ms = {
                **current.timings,
                "total": round((time.perf_counter() - start) * 1000, 2),
            }
            events.put(Done(answer))
        except BaseException as exc:  # raised again in the consuming thread
            events.put(_Failed(exc))

    worker = threading.Thread(
        target=contextvars.copy_context().run, args=(run,), name="ask-stream", daemon=True
    )
    worker.start()
    while True:
        event = events.get()
        if isinstance(event, _Failed):
            worker.join()
            raise event.error
        yield event
        if isinstance(event, Done):
            worker.join()
            return
