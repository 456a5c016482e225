"""Suggested follow-up questions: what the retrieved evidence can answer and was not yet asked.

The conversation's main subject (a term of the library, with the class the library's texts give
it) is put into the general templates of prompts/vocabulary.yaml for the facets the retrieved
sentences about that subject speak to, most-spoken-of first; each candidate then goes through
the same answerability gate as a typed question.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence

from assistant.ask.evidence import Candidate
from assistant.ask.question import QuestionProfile, Subject
from assistant.vocab.general import general_vocabulary

MIN_SUBJECT_CREDIT = 0.6
MAX_EXTRA_CHECKS = 2


def _subject_sentences(main: Subject, candidates: Sequence[Candidate]) -> list[Candidate]:
    return [c for c in candidates if c.coverage.get(main.surface, 0.0) >= MIN_SUBJECT_CREDIT]


def _other_intervention(
    q: QuestionProfile, candidates: Sequence[Candidate], vocab_match: Callable[[str], list[str]]
) -> str | None:
    """The intervention the evidence about the main subject names most often beside it,
    preferring sentences that compare."""
    own = {s.surface.lower() for s in q.subjects}
    counts: Counter[str] = Counter()
    for c in candidates:
        weight = 2 if "comparison" in c.facets else 1
        for name in vocab_match(c.text):
            if name.lower() not in own:
                counts[name] += weight
    return counts.most_common(1)[0][0] if counts else None


def candidate_follow_ups(
    q: QuestionProfile,
    asked: Sequence[QuestionProfile],
    candidates: Sequence[Candidate],
    interventions_in: Callable[[str], list[str]],
) -> list[str]:
    """Template questions for the facets the evidence about the main subject covers."""
    main = q.main
    if main is None:
        return []
    general = general_vocabulary()
    templates = general.follow_ups.get(main.cls) or general.follow_ups.get("other", {})
    about = _subject_sentences(main, candidates)
    facets: Counter[str] = Counter(f for c in about for f in c.facets)
    populations: Counter[str] = Counter(p for c in about for p in c.info.populations)
    asked_facets = {f for p in [q, *asked] for f in p.facets}
    asked_populations = {p for prof in [q, *asked] for p in prof.populations}
    conditions = [s for s in q.subjects if s.cls == "condition" and s is not main]
    fields = {
        "subject": main.surface,
        "condition": f" in {conditions[0].surface}" if conditions else "",
        "other": "",
        "population": "",
    }
    out: list[str] = []
    for facet, _ in facets.most_common():
        template = templates.get(facet)
        if template is None or facet in asked_facets:
            continue
        if "{other}" in template:
            other = _other_intervention(q, about, interventions_in)
            if other is None:
                continue
            fields["other"] = other
        out.append(template.format(**fields))
    template = templates.get("population")
    for population, _ in populations.most_common():
        if template is None or population in asked_populations or population == "adults":
            continue
        phrase = general.populations[population].phrase
        out.append(template.format(**{**fields, "population": phrase}))
        break
    seen = {" ".join(p.text.lower().split()) for p in [q, *asked]}
    return [x for x in dict.fromkeys(out) if " ".join(x.lower().split()) not in seen]


def suggest_follow_ups(
    q: QuestionProfile,
    asked: Sequence[QuestionProfile],
    candidates: Sequence[Candidate],
    interventions_in: Callable[[str], list[str]],
    answerable: Callable[[str], bool],
    n: int,
) -> list[str]:
    """Up to ``n`` follow-ups, each checked with ``answerable`` (the answerability gate); at
    most ``n + MAX_EXTRA_CHECKS`` are checked (each check is a retrieval)."""
    out: list[str] = []
    for i, question in enumerate(candidate_follow_ups(q, asked, candidates, interventions_in)):
        if len(out) >= n or i >= n + MAX_EXTRA_CHECKS:
            break
        if answerable(question):
            out.append(question)
    return out
