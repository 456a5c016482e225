"""Suggested follow-up questions: answerable from the library and not already answered."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence

from assistant.ask.condense import POPULATION_PHRASES
from assistant.ask.evidence import Candidate
from assistant.ask.lexicon import Lexicon

# The order in which facets are offered; templates live in prompts/lexicon.yaml.
FACET_ORDER = [
    "efficacy",
    "safety",
    "dosing",
    "comparison",
    "children",
    "ICU",
    "diagnosis",
    "ferritin",
    "prognosis",
]
_POPULATION_FACETS = {"children", "ICU"}
DEFAULT_DISEASE = "HLH"


def _comparator(drug: str, candidates: Sequence[Candidate]) -> str | None:
    """The other drug the retrieved evidence compares most often with ``drug`` (or, failing
    any comparison, mentions most)."""

    def count(pool: Sequence[Candidate]) -> Counter[str]:
        return Counter(
            d
            for c in pool
            for d in c.entities.get("drug", [])
            if d != drug and d not in {"corticosteroids", "IVIG"}
        )

    counts = count([c for c in candidates if "comparison" in c.facets]) or count(candidates)
    return counts.most_common(1)[0][0] if counts else None


def candidate_follow_ups(
    standalone: str,
    asked: Sequence[str],
    lexicon: Lexicon,
    candidates: Sequence[Candidate],
) -> list[str]:
    entities = lexicon.by_class(standalone)
    asked_facets = {f for q in [standalone, *asked] for f in lexicon.facets_of(q)}
    asked_populations = {p for q in [standalone, *asked] for p in lexicon.by_class(q)["population"]}
    drug = entities["drug"][0] if entities["drug"] else None
    disease = entities["disease"][0] if entities["disease"] else DEFAULT_DISEASE
    if entities["population"]:  # keep the conversation's population: "... in HLH in children?"
        population = entities["population"][0]
        disease = f"{disease} {POPULATION_PHRASES.get(population, 'in ' + population)}"
    seen = {" ".join(q.lower().split()) for q in [standalone, *asked]}
    out: list[str] = []
    for facet in FACET_ORDER:
        template = lexicon.templates.get(facet)
        if not template:
            continue
        if facet in asked_facets or facet in asked_populations:
            continue
        needs_drug = "{drug}" in template
        if needs_drug and not drug:
            continue
        fields = {"drug": drug or "", "disease": disease, "other_drug": ""}
        if "{other_drug}" in template:
            other = _comparator(drug or "", candidates)
            if not other:
                continue
            fields["other_drug"] = other
        question = template.format(**fields)
        if facet in _POPULATION_FACETS and not needs_drug:
            continue
        if " ".join(question.lower().split()) not in seen:
            out.append(question)
    return out


def suggest_follow_ups(
    standalone: str,
    asked: Sequence[str],
    lexicon: Lexicon,
    candidates: Sequence[Candidate],
    answerable: Callable[[str], bool],
    n: int,
) -> list[str]:
    """Up to ``n`` follow-ups, each checked with ``answerable`` (the abstention gate)."""
    out: list[str] = []
    for question in candidate_follow_ups(standalone, asked, lexicon, candidates):
        if len(out) >= n:
            break
        if answerable(question):
            out.append(question)
    return out
