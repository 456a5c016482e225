"""What a question asks, read with the library's vocabulary and the general clinical one.

A question names subjects (terms of the library: "metformin", "gestational diabetes"; or words
the library does not hold), asks about facets (treatment, dosing, safety, ...), may name a
population ("in children") and may hinge on numbers or time spans ("10-year survival"). The
composer scores sentences against this profile, the answerability gate checks that the library
covers it, and condensing rewrites follow-ups with its spans.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field, replace

from assistant.text import STOPWORDS, numbers
from assistant.vocab.extract import is_acronym, token_key, tokens
from assistant.vocab.general import Span, commonness, general_vocabulary
from assistant.vocab.library import LibraryVocabulary
from assistant.vocab.overlay import Overlay

SPECIFIC_ZIPF = 3.6
"""A word the library lacks and rarer than this in English ("pregabalin" 1.7, "glaucoma" 3.0)
names something the question hinges on; commoner ones ("aunt" 4.2, "door" 5.1) do not."""
QUALIFIER_WEIGHT = 0.35
"""Weight of a facet or scaffolding word that still says what is asked ("after remission")."""
COMMON_SUBJECT_ZIPF = 4.0
"""A known word commoner than this ("ratio", "people") qualifies the question rather than
naming its subject."""
UNKNOWN_NAME_FACTOR = 2.0
UNKNOWN_COMMON_ZIPF = 5.5
"""An ordinary word the library lacks counts less the commoner it is ("alcohol" 4.5 counts
half, "door" 5.1 a fifth), and not at all from this frequency on."""
_WORKS_FACETS = frozenset({"treatment", "recommendation"})
"""Facets whose words ("work", "help", "effective", "recommended") only ask whether it works."""
_WH = re.compile(r"\b(?:what|how|which|when|where|who|whom|whose|why)\b", re.IGNORECASE)
"""A question without a wh-word ("Does X prevent Y?", "X: safe and effective?") asks whether a
finding holds; one with a wh-word asks for the thing its facet or answer type names."""


def is_yes_no(question: str) -> bool:
    return not _WH.search(question)


_CONTRACTION = re.compile(r"(?i)(?<=\w)['\u2019](?:s|t|re|ve|ll|d|m)\b")


class Idf:
    """Inverse document frequency over chunks (from the lexical index's term counts)."""

    def __init__(self, document_frequencies: dict[str, int], n_docs: int) -> None:
        self.df = document_frequencies
        self.n = max(n_docs, 1)

    def __contains__(self, key: str) -> bool:
        return self.df.get(key, 0) > 0

    def __call__(self, key: str) -> float:
        df = self.df.get(key, 0)
        if df == 0:
            return math.log(1 + (self.n + 0.5) / 0.5)  # unseen: as rare as it gets
        return math.log(1 + (self.n - df + 0.5) / (df + 0.5))


@dataclass(frozen=True)
class Subject:
    """Something the question names: a term of the library or a word it may not hold."""

    surface: str
    start: int
    end: int
    cls: str
    alternatives: tuple[tuple[str, ...], ...]
    """Token-key sequences that name it (its own words, a synonym, an acronym's long form)."""
    weight: float
    known: bool = True
    overlay: str | None = None
    token_weights: tuple[tuple[str, float], ...] = ()
    """IDF of each token of its alternatives: a sentence naming "ruxolitinib" covers most of
    "first-line ruxolitinib"."""

    @property
    def key_sets(self) -> list[frozenset[str]]:
        """The content keys of each of its alternatives (stopwords left out), an alternative
        made only of stopwords dropped: what a text must hold to name it."""
        return [
            wanted
            for alternative in self.alternatives
            if (wanted := frozenset(k for k in alternative if k not in STOPWORDS))
        ]


@dataclass
class QuestionProfile:
    text: str
    subjects: list[Subject] = field(default_factory=list)
    qualifiers: dict[str, float] = field(default_factory=dict)
    facets: list[str] = field(default_factory=list)
    facet_spans: list[Span] = field(default_factory=list)
    populations: list[str] = field(default_factory=list)
    population_spans: list[Span] = field(default_factory=list)
    unknown: list[str] = field(default_factory=list)
    numbers: set[str] = field(default_factory=set)
    yes_no: bool = False
    """A yes/no question ("Does X prevent Y?", "Is X safe?") asks whether a finding holds; a
    wh-question ("What dose ...?") asks for the thing its facet names."""
    answer_types: list[tuple[str, re.Pattern[str]]] = field(default_factory=list)
    """Quantities the question asks for ("how many minutes"), each with the pattern a
    supporting sentence must match."""

    @property
    def main(self) -> Subject | None:
        """The subject the question is most about: an intervention, else a condition, else the
        most specific subject."""
        for cls in ("intervention", "condition"):
            found = [s for s in self.subjects if s.cls == cls and s.known]
            if found:
                return max(found, key=lambda s: s.weight)
        known = [s for s in self.subjects if s.known]
        return max(known, key=lambda s: s.weight) if known else None

    @property
    def subject_weight(self) -> float:
        return sum(s.weight for s in self.subjects)

    @property
    def focused(self) -> list[str]:
        """Facets specific enough that only a sentence on exactly that answers."""
        focus = general_vocabulary().focused_facets
        return [f for f in self.facets if f in focus]


def _inside(start: int, spans: list[Span] | list[tuple[int, int]]) -> bool:
    for span in spans:
        a, b = (span.start, span.end) if isinstance(span, Span) else span
        if a <= start < b:
            return True
    return False


def _overlaps(start: int, end: int, spans: list[tuple[int, int]]) -> bool:
    return any(start < b and a < end for a, b in spans)


def profile_question(
    question: str,
    vocabulary: LibraryVocabulary,
    idf: Idf,
    overlay: Overlay | None = None,
) -> QuestionProfile:
    general = general_vocabulary()
    profile = QuestionProfile(question)
    profile.facet_spans = general.facet_spans(question)
    profile.facets = list(dict.fromkeys(s.name for s in profile.facet_spans))
    profile.population_spans = general.population_spans(question)
    profile.populations = list(dict.fromkeys(s.name for s in profile.population_spans))
    taken: list[tuple[int, int]] = [(s.start, s.end) for s in profile.population_spans]
    asked_for = (
        []
        if is_yes_no(question)
        else [
            hit.span()
            for t in general.answer_types
            for pattern in t.question
            if (hit := pattern.search(question))
        ]
    )

    if overlay is not None:
        for om in overlay.find(question):
            if om.entity.cls == "population" or _overlaps(om.start, om.end, taken):
                continue
            alts = [tuple(token_key(w) for w, _, _ in tokens(question[om.start : om.end]))]
            alts += [tuple(token_key(w) for w, _, _ in tokens(e)) for e in om.entity.expansions]
            weight = max((idf(k) for a in alts[:1] for k in a), default=1.0)
            profile.subjects.append(
                Subject(
                    question[om.start : om.end],
                    om.start,
                    om.end,
                    om.entity.cls,
                    tuple(a for a in alts if a),
                    weight,
                    True,
                    om.entity.name,
                )
            )
            taken.append((om.start, om.end))

    for m in vocabulary.match(question):
        if _overlaps(m.start, m.end, taken) or _only_scaffolding(m.surface):
            continue
        if m.term.cls == "other" and any(a <= m.start and m.end <= b for a, b in asked_for):
            continue  # "what cutoff": the library's term names what is asked for, not the subject
        if " " not in m.term.key and m.term.cls == "other" and _common(m.surface):
            continue  # "cold", "weak": an ordinary word, read below as a qualifier
        keys = tuple(m.term.key.split(" "))
        alts = [keys, *(tuple(s.split(" ")) for s in vocabulary.synonyms.get(m.term.key, []))]
        content = [k for k in keys if k not in STOPWORDS]
        weight = max((idf(k) for k in content), default=1.0)
        profile.subjects.append(Subject(m.surface, m.start, m.end, m.term.cls, tuple(alts), weight))
        taken.append((m.start, m.end))

    yes_no = is_yes_no(question)
    for raw, start, end in tokens(question):
        word = _CONTRACTION.sub("", raw)
        low = word.lower()
        if _inside(start, taken) or low in STOPWORDS or len(low) < 3 or low.isdigit():
            continue
        if _inside(start, asked_for):
            continue  # "how many minutes": what is asked for, not what it is about
        key = token_key(word)
        facet_word = _inside(start, profile.facet_spans)
        asks_if_it_works = any(
            f.start <= start < f.end and f.name in _WORKS_FACETS for f in profile.facet_spans
        )
        if facet_word or general.is_generic(low):
            # a facet word narrows what is asked after a preposition ("after remission"), and in
            # a yes/no question, which is about a finding rather than a facet ("can live
            # vaccines be given?"); elsewhere ("the efficacy of X") it only names the facet
            narrows = facet_word and (
                (yes_no and not asks_if_it_works) or _after_preposition(question, start)
            )
            if narrows and (key in idf or facet_word):
                profile.qualifiers[key] = (
                    QUALIFIER_WEIGHT * idf(key) * (1.0 if key in idf else _rarity(low))
                )
            continue
        pieces = [p for p in re.split(r"[-']", word) if p]
        parts = [token_key(p) for p in pieces if len(p) > 1]
        # "CAR-T" is the library's "CAR T": a one-letter part is dropped; a number is not
        # ("IL-6" is not "IL-1")
        letters_dropped = len(pieces) > 1 and all(len(p) > 1 or p.isalpha() for p in pieces)
        known = key in idf or (
            bool(parts) and (len(parts) > 1 or letters_dropped) and all(p in idf for p in parts)
        )
        if known and _common(word):  # "ratio", "done": the commoner, the less it counts
            if (rarity := _rarity(low)) > 0:
                profile.qualifiers[key] = QUALIFIER_WEIGHT * idf(key) * rarity
            continue
        if known or (overlay and low in overlay.synonyms):
            alts = [(key,)]
            if parts and len(pieces) > 1:  # "EBV-driven": the part that names something
                specific = [
                    token_key(w)
                    for w in pieces
                    if len(w) > 1 and commonness(w.lower()) < COMMON_SUBJECT_ZIPF
                ]
                alts.append(tuple(specific or parts))
            if overlay:
                alts += [
                    tuple(token_key(w) for w, _, _ in tokens(s))
                    for s in overlay.synonyms.get(low, [])
                ]
            weight = idf(key) if key in idf else max(idf(p) for p in alts[-1])
            profile.subjects.append(Subject(word, start, end, "other", tuple(alts), weight))
            continue
        typo = vocabulary.fuzzy(word)
        if typo is not None:
            keys = tuple(typo.key.split(" "))
            profile.subjects.append(Subject(word, start, end, typo.cls, (keys,), idf(keys[0])))
            continue
        if _specific(word):
            profile.unknown.append(word)
            profile.subjects.append(
                Subject(word, start, end, "other", ((key,),), idf(key), known=False)
            )
        elif (rarity := _rarity(low)) > 0:  # an ordinary word the library lacks still narrows
            profile.qualifiers[key] = QUALIFIER_WEIGHT * idf(key) * rarity
    _drop_facets_inside_names(profile)
    # "how long ...?" asks for a duration (an answer type), not about dosing
    kept = [f for f in profile.facet_spans if not _overlaps(f.start, f.end, asked_for)]
    profile.facet_spans, profile.facets = kept, list(dict.fromkeys(f.name for f in kept))
    profile.subjects = _weigh_unknown([_with_token_weights(s, idf) for s in profile.subjects])
    profile.numbers = question_numbers(question)
    profile.yes_no = yes_no
    profile.answer_types = (
        []
        if yes_no  # "does it result in cost savings?" asks whether, not how much
        else [
            (t.name, pattern)
            for t in general.answer_types
            if (pattern := t.expected(question)) is not None
        ]
    )
    return profile


def _drop_facets_inside_names(profile: QuestionProfile) -> None:
    """A facet word inside a multi-word name ("metered-dose inhalers") asks for no facet."""
    names = [(s.start, s.end) for s in profile.subjects if " " in s.surface or "-" in s.surface]
    kept = [
        f for f in profile.facet_spans if not any(a <= f.start and f.end <= b for a, b in names)
    ]
    profile.facet_spans = kept
    profile.facets = list(dict.fromkeys(f.name for f in kept))


def _weigh_unknown(subjects: list[Subject]) -> list[Subject]:
    """A word the library lacks weighs as much as the heaviest subject it does know (not the
    extreme weight of an unseen word), double when shaped like a medicine or condition name."""
    known = [s.weight for s in subjects if s.known]
    cap = max(known) if known else None
    out = []
    for s in subjects:
        if not s.known and cap is not None:
            factor = UNKNOWN_NAME_FACTOR if _name_shaped(s.surface) else 1.0
            s = replace(s, weight=min(s.weight, cap * factor))
        out.append(s)
    return out


def _name_shaped(word: str) -> bool:
    low = word.lower()
    g = general_vocabulary()
    return is_acronym(word) or bool(
        len(low) >= 6 and (g.intervention_suffix.search(low) or g.condition_suffix.search(low))
    )


def _with_token_weights(subject: Subject, idf: Idf) -> Subject:
    keys = frozenset().union(*subject.key_sets)
    weights = tuple((k, idf(k) if k in idf else 0.0) for k in sorted(keys))
    return Subject(
        subject.surface,
        subject.start,
        subject.end,
        subject.cls,
        subject.alternatives,
        subject.weight,
        subject.known,
        subject.overlay,
        weights,
    )


def _only_scaffolding(surface: str) -> bool:
    """Whether a matched term is made only of stopwords, generic and facet words."""
    gv = general_vocabulary()
    words = [w for w, _, _ in tokens(surface)]
    return all(
        w.lower() in STOPWORDS
        or gv.is_generic(w)
        or any(p.fullmatch(w) for p in gv.facets.values())
        for w in words
    )


_PREPOSITION_BEFORE = re.compile(
    r"\b(?:after|before|during|until|in|with|without|at|following|on)\s+(?:the\s+|a\s+)?$",
    re.IGNORECASE,
)


def _after_preposition(question: str, start: int) -> bool:
    """A facet word after a preposition ("continued after remission") narrows what is asked;
    elsewhere ("the efficacy of X") it only names the facet."""
    return bool(_PREPOSITION_BEFORE.search(question[:start]))


def _rarity(low: str) -> float:
    """How much an ordinary word the library lacks counts: less the commoner it is."""
    return min(max((UNKNOWN_COMMON_ZIPF - commonness(low)) / 2.0, 0.0), 1.0)


def _common(word: str) -> bool:
    return not is_acronym(word) and commonness(word.lower()) >= COMMON_SUBJECT_ZIPF


def _specific(word: str) -> bool:
    """Whether a word the library lacks names something: an acronym, or rare in English."""
    if is_acronym(word) and not word.isdigit():
        return True
    low = word.lower()
    parts = [p for p in re.split(r"[-']", low) if p]
    return any(p.isalpha() and commonness(p) < SPECIFIC_ZIPF for p in parts)


def question_numbers(question: str) -> set[str]:
    """Numbers the question asks about, not those inside names (HLH-2004, COVID-19, type 2)."""
    names = " ".join(re.findall(r"[A-Za-z]+-?\d+[A-Za-z]*|\btype \d\b", question, re.IGNORECASE))
    return numbers(question) - numbers(names)
