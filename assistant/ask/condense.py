"""Follow-up -> standalone question.

Offline (default), the form of a turn decides whether it leans on the conversation: a leading
"and / what about / how about", a pronoun that refers back ("is it safe?"), or a turn that names
no subject of its own ("what dose?", "and in children?"). A turn that names its own subject and
does none of that is never touched. A follow-up is rewritten by replacing the matched span of
the previous standalone question: a population for a population ("in adults" -> "in
children"), a subject for a subject of the same class ("anakinra" -> "emapalumab"), a pronoun
for the previous main subject; a bare intent ("what dose?") gets the previous subjects after it.
With an LLM configured, prompts/condense.txt does the rewrite instead.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from assistant.ask.question import QuestionProfile, Subject
from assistant.types import Turn

if TYPE_CHECKING:
    from langchain_core.language_models import BaseChatModel

Analyze = Callable[[str], QuestionProfile]

_LEADING_CONNECTIVE = re.compile(
    r"^\s*(?:(?:and|or|but|also|so|then|ok(?:ay)?|what about|how about|and what about|"
    r"and how about|same (?:question )?for|what if|now)\b[\s,]*)+",
    re.IGNORECASE,
)
_PRONOUN = re.compile(
    r"\b(it's|it\u2019s|its|it|that|this|they|them|their|these|those|the drug|the medicine|"
    r"the treatment|the disease|the condition|the study|the trial)\b",
    re.IGNORECASE,
)
_DUMMY_IT = re.compile(
    r"\bit\s+(?:matters?|worth|true|possible|ok(?:ay)?|necessary|likely|better|wise|safe to|"
    r"reasonable|important|common|known)\b|\bis\s+(?:it|this|that)\s+(?:true|so)\b",
    re.IGNORECASE,
)
_BARE_COMPARISON = re.compile(r"^(?:compared? (?:with|to)|vs\.?|versus|or)\s+(.+)$", re.IGNORECASE)
_POPULATION_ONLY = re.compile(r"^(?:(?:in|for|among|with|during|at)\s+)?(?:the\s+)?", re.IGNORECASE)
_FOR_FACETS = frozenset({"treatment", "prevention", "recommendation"})
NAMING_CLASSES = frozenset({"intervention", "condition"})
LONG_CORE_WORDS = 5
"""A follow-up this long is a sentence of its own: the carried subject goes in parentheses."""


_DEFINITIONAL = re.compile(
    r"^(?:what|who)\s+(?:is|are)\s+(?:an?\s+|the\s+)?(?P<np>(?:\S+\s+){0,5}\S+?)\s*\?*$",
    re.IGNORECASE,
)
"""'What is <a short phrase>?': the phrase is what a following "it" refers to."""


def referring_pronoun(text: str) -> re.Match[str] | None:
    dummies = {m.start() for m in _DUMMY_IT.finditer(text)}
    for match in _PRONOUN.finditer(text):
        if match.start() not in dummies and not any(d <= match.start() <= d + 12 for d in dummies):
            return match
    return None


def names_own_subject(profile: QuestionProfile) -> bool:
    """Whether a turn names what it is about: a medicine or condition of the library, or any
    word the question hinges on (known or not)."""
    return any(s.cls in NAMING_CLASSES or s.weight >= 2.0 for s in profile.subjects)


def is_follow_up(question: str, profile: QuestionProfile) -> bool:
    """Whether the turn leans on the conversation (see the module docstring)."""
    if _LEADING_CONNECTIVE.match(question) or referring_pronoun(question):
        return True
    if _BARE_COMPARISON.match(question.rstrip("?.! ")):
        return True
    return not names_own_subject(profile)


def _sentence_case(text: str) -> str:
    text = text.strip()
    return text[:1].upper() + text[1:] if text else text


def _replace(text: str, start: int, end: int, new: str) -> str:
    return text[:start] + new + text[end:]


def _phrases(profile: QuestionProfile, text: str) -> list[Subject]:
    """The naming subjects of a turn, adjacent ones joined into one phrase ("EBV-driven HLH")
    that takes the class of its last word (the head of the phrase)."""
    own = sorted(
        (s for s in profile.subjects if s.cls in NAMING_CLASSES or s.weight >= 2.0),
        key=lambda s: s.start,
    )
    out: list[Subject] = []
    for s in own:
        if out and not text[out[-1].end : s.start].strip(" -"):
            last = out[-1]
            cls = s.cls if s.cls != "other" else last.cls
            out[-1] = Subject(
                text[last.start : s.end],
                last.start,
                s.end,
                cls,
                last.alternatives + s.alternatives,
                last.weight + s.weight,
            )
        else:
            out.append(s)
    return out


def _swap_target(previous: QuestionProfile, subject: Subject) -> Subject | None:
    """The previous question's subject that ``subject`` replaces: the heaviest of its class."""
    same = [s for s in previous.subjects if s.known and s.cls == subject.cls]
    return max(same, key=lambda s: s.weight) if same else None


CONDITION_FACETS = frozenset(
    {
        "definition",
        "symptoms",
        "causes",
        "risk",
        "diagnosis",
        "genetics",
        "frequency",
        "complications",
        "prevention",
    }
)
"""Facets that are about a condition: a follow-up on them carries the condition, not the
medicine the conversation was about ("what causes it?" after "anakinra in HLH"). Not prognosis:
"what were the outcomes?" after a question on a medicine asks about the outcomes with it."""


def referent(previous: QuestionProfile) -> Subject | None:
    """What a pronoun or an ellipsis refers back to: the previous question's main subject; when
    that is no medicine, a name the library does not know that outweighs it ("is it safe?"
    after "Is IVIG used in HLH?" asks about IVIG, and the gate then says the library has
    nothing on it)."""
    main = previous.main
    if main is not None and main.cls == "intervention":
        return main  # a named medicine stays what the conversation is about
    unknown = [s for s in previous.subjects if not s.known]
    if unknown:
        name = max(unknown, key=lambda s: s.weight)
        # named first and weightier: what the question is about ("Is IVIG used in HLH?"), not
        # a word qualifying it ("What is HLH after CAR T-cell therapy?")
        if main is None or (name.weight > main.weight and name.start < main.start):
            return name
    return main


def _subject_phrase(previous: QuestionProfile, facets: list[str], prep: str) -> str:
    """The previous question's subject as a phrase to put after a bare intent: "of anakinra in
    HLH", "for glaucoma"."""
    main = referent(previous)
    if main is None:
        words = [s.surface for s in previous.subjects]
        return f" ({' '.join(words)})" if words else ""
    conditions = [s for s in previous.subjects if s.cls == "condition" and s is not main]
    if main.cls == "intervention" and not conditions:
        # a heavy subject of no class the library could tell ("sepsis" in a small library)
        conditions = sorted(
            (s for s in previous.subjects if s.cls == "other" and s.known and s.weight >= 2.0),
            key=lambda s: -s.weight,
        )
    if main.cls == "intervention" and conditions and facets and set(facets) <= CONDITION_FACETS:
        return f" {prep} {conditions[0].surface}"
    phrase = f" {prep} {main.surface}"
    if main.cls == "intervention" and conditions:
        phrase += f" in {conditions[0].surface}"
    return phrase


def _population_phrase(previous: QuestionProfile, source: str) -> str:
    """The previous question's population with its preposition: " in children"."""
    if not previous.population_spans:
        return ""
    span = previous.population_spans[0]
    lead = re.search(r"\b(?:in|for|among|with|during)\s+(?:the\s+)?$", source[: span.start])
    text = source[lead.start() if lead else span.start : span.end]
    return f" {text}" if lead else f" in {text}"


def _with_population(result: str, core: str, c: QuestionProfile, prev: QuestionProfile) -> str:
    """Swap the previous population for the follow-up's, or add the follow-up's."""
    if not c.population_spans:
        return result
    span = c.population_spans[0]
    modifiers = re.search(
        r"\b(?:in|for|among|with|during)\s+((?:\w+\s+){0,2})$", core[: span.start]
    )
    new = (modifiers.group(1) if modifiers else "") + core[span.start : span.end]
    spans = prev.population_spans
    if spans and result.startswith(prev.text.rstrip("?.! ")[: spans[0].end]):
        return _replace(result, spans[0].start, spans[0].end, new)
    lead = re.search(
        r"\b(?:in|for|among|with|during)\s+(?:the\s+)?$", core[: c.population_spans[0].start]
    )
    return f"{result} {core[lead.start() if lead else c.population_spans[0].start :]}"


def rewrite(question: str, previous: str, analyze: Analyze) -> str:
    """Rewrite ``question`` using the subject of ``previous`` (an already standalone question)."""
    question = " ".join(question.split())
    profile = analyze(question)
    if not is_follow_up(question, profile):
        return question
    core = _LEADING_CONNECTIVE.sub("", question).strip().rstrip("?.!").strip()
    if not core:
        return previous
    prev = analyze(previous)
    base = previous.rstrip().rstrip("?.!").rstrip()
    c = analyze(core)
    pronoun = referring_pronoun(core)
    phrases = _phrases(c, core)
    main = referent(prev)

    # "and in children?": only a population -> swap it (or add it) in the previous question
    rest = core
    for span in reversed(c.population_spans):
        rest = rest[: span.start] + rest[span.end :]
    if c.population_spans and not _POPULATION_ONLY.sub("", rest).strip(" ,") and not phrases:
        if prev.population_spans:
            span, new = prev.population_spans[0], c.population_spans[0]
            return _replace(base, span.start, span.end, core[new.start : new.end]) + "?"
        return f"{base} {core}?"
    if c.population_spans and not c.subjects and not c.facets and not prev.population_spans:
        # "in young adults?": a population with ordinary words around it, nothing else asked
        return f"{base} {core}?"

    # "what about emapalumab?": subjects of classes the previous question has -> swap them
    targets = [_swap_target(prev, p) if p.cls in NAMING_CLASSES else None for p in phrases]
    if phrases and not c.facets and not pronoun and all(targets):
        result = _with_population(base, core, c, prev)
        for phrase in sorted(phrases, key=lambda p: -p.start):
            target = _swap_target(analyze(result), phrase)
            if target is not None:
                result = _replace(result, target.start, target.end, phrase.surface)
        return result + "?"

    # "compared with etoposide?": a bare comparison with the previous main subject
    bare = _BARE_COMPARISON.match(core)
    if bare and main is not None:
        tail = _subject_phrase(prev, [], "of").replace(f" of {main.surface}", "", 1)
        return f"How does {main.surface} compare with {bare.group(1)}{tail}?"

    # a pronoun that refers back: the previous main subject in its place
    if pronoun is not None and main is not None:
        word = pronoun.group(1).lower()
        if word in ("they", "them", "their") and main.cls == "condition":
            # a plural pronoun after a condition means the people who have it
            people = f"people with {main.surface}"
            if word == "their":
                result = _replace(core, pronoun.start(), pronoun.end(), "the") + f" in {people}"
            else:
                result = _replace(core, pronoun.start(), pronoun.end(), people)
            return _sentence_case(result) + "?"
        defined = _DEFINITIONAL.match(previous.strip())
        head = main.surface
        start = main.start
        for other in sorted(prev.subjects, key=lambda x: -x.start):  # words naming it with it
            if other.end <= start and not previous[other.end : start].strip(" -"):
                start = other.start  # "malignancy-associated HLH", not just "HLH"
        if start < main.start:
            head = previous[start : main.end]
        if defined and word in ("it", "it's") and main.surface in defined.group("np"):
            head = defined.group("np")  # "what is HLH after CAR T?" -> "it" is all of that
        name = head + {"its": "'s", "their": "'s", "it's": " is"}.get(word, "")
        result = _replace(core, pronoun.start(), pronoun.end(), name)
        added = analyze(result)
        if main.cls == "intervention" and not any(s.cls == "condition" for s in added.subjects):
            conditions = [s for s in prev.subjects if s.cls == "condition"]
            if conditions:
                result += f" in {conditions[0].surface}"
        if not added.population_spans and prev.population_spans:
            result += _population_phrase(prev, previous)
        return _sentence_case(result) + "?"

    # "what dose?", "and the cut-off for sCD25?": the intent, then the previous subject
    for_facets = set(c.facets) & _FOR_FACETS
    prep = "for" if for_facets and not (main and main.cls == "intervention") else "of"
    tail = _subject_phrase(prev, c.facets, prep)
    if not c.population_spans and prev.population_spans:
        tail += _population_phrase(prev, previous)
    if phrases or len(core.split()) >= LONG_CORE_WORDS:
        tail = f" ({tail.strip()})" if tail.strip() else ""
    return _sentence_case(core) + tail + "?"


def previous_standalone(history: Sequence[Turn], analyze: Analyze) -> str | None:
    """The standalone form of the last user question in ``history`` (rewritten recursively)."""
    users = [t.content for t in history if t.role == "user" and t.content.strip()]
    standalone: str | None = None
    for question in users:
        standalone = (
            " ".join(question.split())
            if standalone is None
            else rewrite(question, standalone, analyze)
        )
    return standalone


def condense_offline(question: str, history: Sequence[Turn], analyze: Analyze) -> str:
    previous = previous_standalone(history, analyze)
    if previous is None:
        return " ".join(question.split())
    return rewrite(question, previous, analyze)


def condense_with_llm(
    question: str, history: Sequence[Turn], model: BaseChatModel, analyze: Analyze
) -> str:
    """The LLM rewrite; falls back to the offline rewrite when the reply is unusable."""
    from assistant.prompts import load_prompt

    transcript = "\n".join(f"{t.role}: {_first_line(t.content)}" for t in history[-8:])
    prompt = load_prompt("condense").format(history=transcript, question=question)
    reply = model.invoke(prompt)
    text = str(getattr(reply, "content", reply)).strip().splitlines()
    candidate = text[0].strip().strip('"') if text else ""
    if not candidate or len(candidate) > 400:
        return condense_offline(question, history, analyze)
    return candidate


def _first_line(text: str, limit: int = 300) -> str:
    return " ".join(text.split())[:limit]
