"""The ask chain: condense -> retrieve -> compose -> cite -> render, as named LCEL runnables.

Built once from settings (sharing the embedder and stores with ingest through ``Library``) and
reused for every question. Each step adds its wall time to ``timings_ms``.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from langchain_core.runnables import Runnable, RunnableBranch, RunnableLambda

from assistant.ask.abstain import SupportCheck, Vocabulary, check_support, specific_words
from assistant.ask.citations import check_answer_citations, finalize
from assistant.ask.compose import compose_extractive
from assistant.ask.condense import condense_offline, condense_with_llm
from assistant.ask.draft import Draft
from assistant.ask.evidence import (
    Candidate,
    IdfTable,
    QuestionProfile,
    candidate_sentences,
    focus_gap,
    profile_question,
    rank_key,
    score_candidates,
)
from assistant.ask.followups import suggest_follow_ups
from assistant.ask.glossary import glossary_for
from assistant.ask.lexicon import load_lexicon
from assistant.ask.render import render_markdown
from assistant.ask.retrieve import Filters, HybridRetriever, Retrieval
from assistant.config import Settings
from assistant.errors import InvalidQuestion
from assistant.ingest.store import Library
from assistant.prompts import CANNOT_ANSWER_PHRASE, disclaimer
from assistant.text import normalize
from assistant.types import AUDIENCES, Answer, Turn

MAX_QUESTION_CHARS = 2000
CLOSEST_SOURCES = 3
OVERLAP_WINDOW = 10
"""Candidate sentences inspected for the abstention's overlap signal."""


def validate_question(question: str) -> str:
    """Normalised question, or InvalidQuestion with a message a user can act on."""
    if not isinstance(question, str):
        raise InvalidQuestion("the question must be text")
    if len(question) > MAX_QUESTION_CHARS:
        raise InvalidQuestion(
            f"the question is {len(question)} characters long; the limit is {MAX_QUESTION_CHARS}. "
            "Ask about one thing at a time."
        )
    clean = " ".join(normalize(question).split())
    if not clean:
        raise InvalidQuestion("the question is empty: type a question")
    return clean


@dataclass
class AskState:
    """What flows through the chain."""

    question: str
    history: list[Turn]
    audience: str
    filters: Filters
    citation_map: dict[str, int]
    standalone: str = ""
    retrieval: Retrieval | None = None
    profile: QuestionProfile | None = None
    ranked: list[Candidate] = field(default_factory=list)
    support: SupportCheck | None = None
    draft: Draft | None = None
    answer: Answer | None = None
    timings: dict[str, float] = field(default_factory=dict)


def _timed(name: str, fn: Callable[[AskState], AskState]) -> Runnable[AskState, AskState]:
    def step(state: AskState) -> AskState:
        start = time.perf_counter()
        out = fn(state)
        out.timings[name] = round((time.perf_counter() - start) * 1000, 2)
        return out

    return RunnableLambda(step).with_config(run_name=name)


class AskChain:
    def __init__(self, settings: Settings, library: Library | None = None) -> None:
        self.settings = settings
        self.library = library or Library(settings)
        self.library.require_built()
        self.retriever = HybridRetriever(self.library, settings.retrieval)
        self.lexicon = load_lexicon()
        self.composer = settings.compose.composer
        self.chat_model: Any = None
        if self.composer != "extractive":
            from assistant.models import get_chat_model

            self.chat_model = get_chat_model(self.composer, settings.llm)
        self._load_vocabulary()
        self.runnable = self._build()

    def _load_vocabulary(self) -> None:
        self.idf = IdfTable(self.library.lexical)
        self.vocabulary = Vocabulary(self.idf)

    def refresh(self) -> None:
        """Pick up a changed library (after an ingest from the UI)."""
        self.retriever.refresh()
        self._load_vocabulary()

    # -- the chain -------------------------------------------------------------------------
    def _build(self) -> Runnable[AskState, AskState]:
        condense = RunnableBranch(
            (lambda s: bool(s.history), _timed("condense", self._condense)),
            _timed("condense", self._no_history),
        ).with_config(run_name="condense")
        return (
            condense
            | _timed("retrieve", self._retrieve)
            | _timed("compose", self._compose)
            | _timed("cite", self._cite)
            | _timed("render", self._render)
        ).with_config(run_name="ask")

    def ask(
        self,
        question: str,
        history: Sequence[Turn] = (),
        audience: str | None = None,
        filters: Filters | None = None,
        citation_map: dict[str, int] | None = None,
    ) -> Answer:
        start = time.perf_counter()
        audience = audience or self.settings.compose.audience
        if audience not in AUDIENCES:
            raise InvalidQuestion(f"unknown audience {audience!r}; choose from {AUDIENCES}")
        state = AskState(
            question=validate_question(question),
            history=list(history),
            audience=audience,
            filters=filters or Filters(),
            citation_map=dict(citation_map or citation_map_from(history)),
        )
        out = self.runnable.invoke(state)
        assert out.answer is not None
        out.answer.timings_ms = {
            **out.timings,
            "total": round((time.perf_counter() - start) * 1000, 2),
        }
        return out.answer

    # -- steps -----------------------------------------------------------------------------
    def _no_history(self, state: AskState) -> AskState:
        state.standalone = state.question
        return state

    def _condense(self, state: AskState) -> AskState:
        if self.chat_model is not None:
            state.standalone = condense_with_llm(state.question, state.history, self.chat_model)
        else:
            state.standalone = condense_offline(state.question, state.history, self.lexicon)
        return state

    def _retrieve(self, state: AskState) -> AskState:
        query = self.lexicon.expand_query(
            state.standalone, specific_words(state.standalone, self.lexicon)
        )
        state.retrieval = self.retriever.retrieve(
            state.standalone, state.filters, lexical_query=query
        )
        return state

    def _rank(
        self, question: str, retrieval: Retrieval, expand: bool = False
    ) -> tuple[QuestionProfile, list[Candidate]]:
        """Score the retrieved sentences; with ``expand``, the best sources are then read whole
        (their other chunks join the evidence) and everything is scored again."""
        profile = profile_question(question, self.lexicon, self.idf)
        candidates = candidate_sentences(retrieval.evidence, self.lexicon)
        ranked = score_candidates(profile, candidates, self.lexicon)
        if expand and ranked:
            best = list(dict.fromkeys(c.source_id for c in ranked))
            extra = self.retriever.expand(retrieval.evidence, best)
            if extra:
                retrieval.evidence = retrieval.evidence + extra
                seen = {(c.source_id, c.text) for c in candidates}
                new = [
                    c
                    for c in candidate_sentences(extra, self.lexicon)
                    if (c.source_id, c.text) not in seen
                ]
                scored = score_candidates(profile, new, self.lexicon)
                ranked = sorted(ranked + scored, key=rank_key)
        return profile, ranked

    def _support(
        self, profile: QuestionProfile, ranked: list[Candidate], similarity: float
    ) -> SupportCheck:
        c = self.settings.compose
        return check_support(
            profile.text,
            self.lexicon,
            self.vocabulary,
            ranked[0].score if ranked else 0.0,
            similarity,
            min_support=c.abstain_min_support,
            max_missing_fraction=c.abstain_max_missing,
            min_similarity=c.abstain_min_similarity,
            evidence_texts=[r.text for r in ranked],
            focus_gap=focus_gap(profile, ranked, self.lexicon, self.idf),
            best_overlap=max(
                (r.parts.get("overlap", 0.0) for r in ranked[:OVERLAP_WINDOW]), default=0.0
            ),
            min_overlap=c.abstain_min_overlap,
        )

    def _compose(self, state: AskState) -> AskState:
        assert state.retrieval is not None
        state.profile, state.ranked = self._rank(state.standalone, state.retrieval, expand=True)
        state.support = self._support(state.profile, state.ranked, state.retrieval.top_similarity)
        if state.support.abstain:
            state.draft = Draft(
                abstained=True,
                notice=f"{CANNOT_ANSWER_PHRASE} ({state.support.reason}.)",
                composer=self.composer,
            )
            return state
        c = self.settings.compose
        profile = state.profile
        if self.chat_model is not None:
            from assistant.ask.llm import compose_with_llm

            state.draft = compose_with_llm(
                state.standalone,
                state.retrieval.evidence,
                self.chat_model,
                state.audience,
                fallback=lambda: compose_extractive(
                    profile,
                    state.ranked,
                    c,
                    min_score=c.min_sentence_score,
                    relative=c.relative_sentence_score,
                ),
                lexicon=self.lexicon,
                composer=self.composer,
            )
        else:
            state.draft = compose_extractive(
                state.profile,
                state.ranked,
                c,
                min_score=c.min_sentence_score,
                relative=c.relative_sentence_score,
            )
        if not state.draft.sections:
            state.draft = Draft(
                abstained=True,
                notice=f"{CANNOT_ANSWER_PHRASE} (no retrieved "
                "passage answers the question closely enough.)",
                composer=self.composer,
            )
        return state

    def _cite(self, state: AskState) -> AskState:
        assert state.retrieval is not None and state.draft is not None
        draft = state.draft
        sections, references, numbering = finalize(
            draft, state.retrieval.evidence, state.citation_map
        )
        check_answer_citations(sections, references)
        closest = []
        if draft.abstained:
            seen: list[str] = []
            for e in state.retrieval.evidence:
                if e.source.source_id not in seen:
                    seen.append(e.source.source_id)
                    closest.append(e.source)
            closest = closest[:CLOSEST_SOURCES]
        state.answer = Answer(
            question=state.question,
            standalone_question=state.standalone,
            audience=state.audience,
            abstained=draft.abstained or not sections,
            notice=draft.notice,
            sections=sections,
            references=references,
            closest_sources=closest,
            disclaimer=disclaimer(),
            composer=draft.composer,
            retrieved_ids=[e.chunk.chunk_id for e in state.retrieval.evidence],
            citation_map=numbering,
        )
        return state

    def _render(self, state: AskState) -> AskState:
        answer = state.answer
        assert answer is not None
        if not answer.abstained and self.settings.compose.follow_ups:
            asked = [t.content for t in state.history if t.role == "user"]
            answer.follow_ups = suggest_follow_ups(
                state.standalone,
                [state.question, *asked],
                self.lexicon,
                state.ranked,
                self.is_answerable,
                self.settings.compose.follow_ups,
            )
        if answer.audience in ("patient", "student"):
            answer.glossary = glossary_for(answer, answer.audience)
        answer.markdown = render_markdown(answer)
        return state

    def is_answerable(self, question: str) -> bool:
        """The abstention gate on lexical evidence alone (cheap enough for follow-up checks)."""
        retrieval = self.retriever.lexical_retrieve(question, self.settings.retrieval.top_k)
        if not retrieval.evidence:
            return False
        profile, ranked = self._rank(question, retrieval)
        return not self._support(profile, ranked, similarity=1.0).abstain


def citation_map_from(history: Sequence[Turn]) -> dict[str, int]:
    """The numbering used so far in a conversation (from its assistant turns)."""
    numbering: dict[str, int] = {}
    for turn in history:
        if turn.role == "assistant" and turn.citations:
            numbering.update(turn.citations)
    return numbering
