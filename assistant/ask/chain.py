"""The ask chain: condense -> retrieve -> compose -> cite -> render, as named LCEL runnables.

Built once from settings (sharing the embedder and stores with ingest through ``Library``) and
reused for every question. Each step adds its wall time to ``timings_ms``.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from langchain_core.runnables import Runnable, RunnableBranch, RunnableLambda

from assistant.ask.citations import check_answer_citations, finalize
from assistant.ask.compose import compose_extractive
from assistant.ask.condense import condense_offline, condense_with_llm
from assistant.ask.draft import Draft
from assistant.ask.evidence import Candidate, candidate_units, score_candidates
from assistant.ask.followups import suggest_follow_ups
from assistant.ask.gate import Answerability, check
from assistant.ask.glossary import glossary_for
from assistant.ask.layout import built_iso
from assistant.ask.question import Idf, QuestionProfile, profile_question
from assistant.ask.render import render_markdown
from assistant.ask.retrieve import Filters, HybridRetriever, Retrieval
from assistant.config import Settings
from assistant.errors import InvalidQuestion
from assistant.ingest.records import EvidenceRecord, load_record
from assistant.ingest.store import Library
from assistant.prompts import CANNOT_ANSWER_PHRASE, disclaimer
from assistant.text import normalize
from assistant.types import AUDIENCES, Answer, Certainty, Turn
from assistant.vocab.general import general_vocabulary
from assistant.vocab.library import LibraryVocabulary
from assistant.vocab.overlay import Overlay, load_overlay

MAX_QUESTION_CHARS = 2000
CLOSEST_SOURCES = 3


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
    answerability: Answerability | None = None
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
        self.overlay: Overlay = load_overlay(settings.vocabulary.overlay)
        self.composer = settings.compose.composer
        self.chat_model: Any = None
        if self.composer != "extractive":
            from assistant.models import get_chat_model

            self.chat_model = get_chat_model(self.composer, settings.llm)
        self._load_vocabulary()
        self.runnable = self._build()
        self._built = self.library.last_built()
        self._refreshing = threading.Lock()

    def _load_vocabulary(self) -> None:
        lexical = self.library.lexical
        self.idf = Idf(lexical.document_frequencies(), len(lexical))
        self.vocabulary: LibraryVocabulary = self.library.vocabulary
        self._profiles: dict[str, QuestionProfile] = {}

    def refresh(self) -> None:
        """Pick up a changed library (after an ingest from the UI)."""
        self.retriever.refresh()
        self._load_vocabulary()
        self._built = self.library.last_built()

    def _follow_library(self) -> None:
        """Refresh when another process finished an ingest (its ``last_built`` stamp is set
        after the lexical index and vocabulary are saved): app replicas sharing a data dir
        and a Chroma server pick up a new library at their next question. One SQLite read."""
        built = self.library.last_built()
        if built == self._built:
            return
        with self._refreshing:
            if built != self._built:
                self.refresh()
                self._built = built

    def profile(self, question: str) -> QuestionProfile:
        """What ``question`` asks, read with the library's vocabulary (memoised)."""
        found = self._profiles.get(question)
        if found is None:
            if len(self._profiles) > 2000:
                self._profiles.clear()
            found = profile_question(question, self.vocabulary, self.idf, self.overlay)
            self._profiles[question] = found
        return found

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
            | _timed("suggest", self._suggest)
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
        state = self.new_state(question, history, audience, filters, citation_map)
        out = self.runnable.invoke(state)
        assert out.answer is not None
        out.answer.timings_ms = {
            **out.timings,
            "total": round((time.perf_counter() - start) * 1000, 2),
        }
        return out.answer

    def new_state(
        self,
        question: str,
        history: Sequence[Turn] = (),
        audience: str | None = None,
        filters: Filters | None = None,
        citation_map: dict[str, int] | None = None,
    ) -> AskState:
        """The checked input of the chain (``ask`` and ``assistant.ask.stream`` start here)."""
        self._follow_library()
        audience = audience or self.settings.compose.audience
        if audience not in AUDIENCES:
            raise InvalidQuestion(f"unknown audience {audience!r}; choose from {AUDIENCES}")
        return AskState(
            question=validate_question(question),
            history=list(history),
            audience=audience,
            filters=filters or Filters(),
            citation_map=dict(citation_map or citation_map_from(history)),
        )

    # -- steps -----------------------------------------------------------------------------
    def _no_history(self, state: AskState) -> AskState:
        state.standalone = state.question
        return state

    def _condense(self, state: AskState) -> AskState:
        if self.chat_model is not None:
            state.standalone = condense_with_llm(
                state.question, state.history, self.chat_model, self.profile
            )
        else:
            state.standalone = condense_offline(state.question, state.history, self.profile)
        return state

    def lexical_query(self, question: str) -> str:
        """The question, then the other names of what it names (an acronym's long form, an
        overlay's expansions and lay synonyms, a population's usual word) for BM25."""
        profile = self.profile(question)
        extra: list[str] = []
        for subject in profile.subjects:
            key = " ".join(subject.alternatives[0]) if subject.alternatives else ""
            extra.extend(self.vocabulary.synonyms_of(key))
        for match in self.overlay.find(question):
            extra.extend(match.entity.expansions)
        for word in question.lower().split():
            extra.extend(self.overlay.synonyms.get(word.strip("?.,!"), []))
        extra.extend(profile.populations)
        return " ".join([question, *extra])

    def _retrieve(self, state: AskState) -> AskState:
        state.retrieval = self.retriever.retrieve(
            state.standalone, state.filters, lexical_query=self.lexical_query(state.standalone)
        )
        return state

    def rank(
        self, profile: QuestionProfile, retrieval: Retrieval, semantic: bool = True
    ) -> list[Candidate]:
        candidates = candidate_units(retrieval.evidence, retrieval.units)
        vector = np.asarray(retrieval.query_vector) if semantic and retrieval.query_vector else None
        return score_candidates(profile, candidates, vector, self.overlay)

    def _compose(self, state: AskState) -> AskState:
        assert state.retrieval is not None
        c = self.settings.compose
        state.profile = profile = self.profile(state.standalone)
        state.ranked = self.rank(profile, state.retrieval)
        state.answerability = gate = check(profile, state.ranked, c)
        if not gate.answerable:
            state.draft = Draft(
                abstained=True,
                notice=f"{CANNOT_ANSWER_PHRASE} ({gate.detail}.)",
                composer=self.composer,
            )
            return state
        records = self.records({x.source_id for x in state.ranked[: c.gate_window * 2]})
        fallback = lambda: compose_extractive(  # noqa: E731
            profile, state.ranked, c, gate, records, state.audience
        )
        if self.chat_model is not None:
            from assistant.ask.llm import compose_with_llm
            from assistant.ask.support import SupportChecker

            extractive = fallback()
            state.draft = compose_with_llm(
                state.standalone,
                state.retrieval.evidence,
                self.chat_model,
                state.audience,
                fallback=lambda: extractive,
                profile=profile,
                composer=self.composer,
                support=SupportChecker(self.library.embeddings, c.llm_min_support),
            )
            with_evidence_summary(state.draft, extractive)
        else:
            state.draft = fallback()
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
            library_built=built_iso(self.library.last_built()),
            retrieved_ids=[e.chunk.chunk_id for e in state.retrieval.evidence],
            citation_map=numbering,
            answerability=state.answerability.as_json() if state.answerability else None,
            certainty=Certainty.model_validate(draft.certainty) if draft.certainty else None,
            evidence_table=[
                row.model_copy(update={"n": numbering[row.source_id]})
                for row in draft.evidence_rows
                if row.source_id in {r.source_id for r in references}
            ],
        )
        return state

    def _suggest(self, state: AskState) -> AskState:
        answer = state.answer
        assert answer is not None and state.profile is not None
        if not answer.abstained and self.settings.compose.follow_ups:
            asked = [self.profile(t.content) for t in state.history if t.role == "user"]
            answer.follow_ups = suggest_follow_ups(
                state.profile,
                [self.profile(state.question), *asked],
                state.ranked,
                self.interventions_in,
                self.is_answerable,
                self.settings.compose.follow_ups,
            )
        return state

    def _render(self, state: AskState) -> AskState:
        answer = state.answer
        assert answer is not None
        if answer.audience in ("patient", "student"):
            answer.glossary = glossary_for(answer, answer.audience, self.overlay.glossary)
        answer.markdown = render_markdown(answer)
        return state

    def records(self, source_ids: set[str]) -> dict[str, EvidenceRecord]:
        """The stored evidence records of these sources (those present and current)."""
        raw = self.library.manifest.records(sorted(source_ids))
        found = {sid: load_record(value) for sid, value in raw.items()}
        return {sid: record for sid, record in found.items() if record is not None}

    def example_questions(self, n: int = 4) -> list[str]:
        """Questions this library can answer, for a new user: the library's most-named
        medicines and conditions put into the general follow-up templates, each checked by
        the answerability gate."""
        general = general_vocabulary()
        terms = sorted(
            (t for t in self.vocabulary.terms.values() if t.cls in ("intervention", "condition")),
            key=lambda t: (-t.df, t.key),
        )
        out: list[str] = []
        used: list[set[str]] = []
        for term in terms[: n * 6]:
            if len(out) >= n:
                break
            words = set(term.key.split())
            if any(words & other for other in used):
                continue  # "secondary HLH" after "HLH": one example per subject
            templates = general.follow_ups.get(term.cls, {})
            for facet in ("treatment", "definition", "safety", "diagnosis"):
                template = templates.get(facet)
                if template is None or "{other}" in template:
                    continue
                question = template.format(subject=term.display, condition="", population="")
                if question not in out and self.is_answerable(question):
                    out.append(question)
                    used.append(words)
                    break
        return out

    def interventions_in(self, text: str) -> list[str]:
        """The library's interventions a text names (for comparison follow-ups)."""
        found = [
            m.term.display for m in self.vocabulary.match(text) if m.term.cls == "intervention"
        ]
        found += [m.entity.name for m in self.overlay.find(text) if m.entity.cls == "intervention"]
        return list(dict.fromkeys(found))

    def is_answerable(self, question: str) -> bool:
        """The answerability gate on lexical evidence alone (cheap enough for follow-ups)."""
        retrieval = self.retriever.lexical_retrieve(
            self.lexical_query(question), self.settings.retrieval.top_k
        )
        if not retrieval.evidence:
            return False
        profile = self.profile(question)
        ranked = self.rank(profile, retrieval, semantic=False)
        return check(profile, ranked, self.settings.compose, semantic=False).answerable


def with_evidence_summary(draft: Draft, extractive: Draft) -> None:
    """An LLM answer keeps the bottom line our code writes from the evidence (its direct
    passage, evidence profile and result range), the certainty label and the evidence table."""
    if draft is extractive or draft.abstained:
        return
    summary = [s for s in extractive.sections if s.kind == "bottom-line"]
    if summary and not any(s.kind == "bottom-line" for s in draft.sections):
        draft.sections = [*summary, *draft.sections]
    draft.certainty = draft.certainty or extractive.certainty
    draft.evidence_rows = draft.evidence_rows or extractive.evidence_rows


def citation_map_from(history: Sequence[Turn]) -> dict[str, int]:
    """The numbering used so far in a conversation (from its assistant turns)."""
    numbering: dict[str, int] = {}
    for turn in history:
        if turn.role == "assistant" and turn.citations:
            numbering.update(turn.citations)
    return numbering
