"""Follow-up -> standalone question.

Offline (default): an elliptical follow-up ("and in children?", "what dose?", "how does that
compare with etoposide?") takes the subject of the conversation from the previous standalone
question: entities the follow-up does not name are carried over, entities of the same class that
it does name replace the old ones, and pronouns are resolved to the previous main entity.
With an LLM configured, prompts/condense.txt does the rewrite instead.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import TYPE_CHECKING

from assistant.ask.abstain import GENERIC_STEMS
from assistant.ask.lexicon import Lexicon, load_lexicon
from assistant.text import STOPWORDS, stem
from assistant.types import Turn

if TYPE_CHECKING:
    from langchain_core.language_models import BaseChatModel

_LEADING_CONNECTIVE = re.compile(
    r"^\s*(?:(?:and|or|but|also|so|then|ok(?:ay)?|what about|how about|and what about|"
    r"and how about|same (?:question )?for|what if)\b[\s,]*)+",
    re.IGNORECASE,
)
_PRONOUN = re.compile(
    r"\b(it|its|that|this|they|them|these|those|the drug|the treatment)\b", re.IGNORECASE
)
_SELF_CONTAINED_MIN_WORDS = 6
# "does it matter", "is it worth": an "it" that refers to nothing
_DUMMY_IT = re.compile(
    r"\bit\s+(?:matters?|worth|true|possible|ok(?:ay)?|necessary|likely|"
    r"better|wise|safe to|reasonable)\b",
    re.IGNORECASE,
)
_BARE_COMPARISON = re.compile(r"^(?:compared? (?:with|to)|vs\.?|versus)\s+(.+)$", re.IGNORECASE)


def _referring_pronoun(text: str) -> re.Match[str] | None:
    dummies = {m.start() for m in _DUMMY_IT.finditer(text)}
    for match in _PRONOUN.finditer(text):
        if match.start() not in dummies:
            return match
    return None


def previous_standalone(history: Sequence[Turn], lexicon: Lexicon) -> str | None:
    """The standalone form of the last user question in ``history`` (rewritten recursively)."""
    users = [t.content for t in history if t.role == "user" and t.content.strip()]
    standalone: str | None = None
    for question in users:
        standalone = question if standalone is None else rewrite(question, standalone, lexicon)
    return standalone


def is_elliptical(question: str, lexicon: Lexicon) -> bool:
    """Whether the question leans on the conversation for its subject."""
    if _LEADING_CONNECTIVE.match(question):
        return True
    found = lexicon.by_class(question)
    if not (found["drug"] or found["disease"]):
        return True
    if not found["disease"] and "comparison" in lexicon.facets_of(question):
        return True  # "compared with etoposide?" compares with the drug under discussion
    if _PRONOUN.search(question) and len(question.split()) < _SELF_CONTAINED_MIN_WORDS + 4:
        return not (found["drug"] and found["disease"])
    return False


POPULATION_PHRASES = {
    "children": "in children",
    "adults": "in adults",
    "ICU": "in intensive care",
    "malignancy": "with malignancy",
    "CAR T-cell therapy": "after CAR T-cell therapy",
}


def _has_own_words(core: str, lexicon: Lexicon) -> bool:
    """Whether the follow-up says more than the entities it names ("in kids" says nothing more)."""
    rest = core
    for match in reversed(lexicon.find(core)):
        rest = rest[: match.start] + rest[match.end :]
    words = [w for w in re.findall(r"[a-z]+", rest.lower()) if w not in _FILLER]
    return bool(words)


_FILLER = frozenset(
    "a an the in on for of with about to and or any what how is are was were do does did "
    "there it its that this those these specifically too also then so please".split()
)


def _phrase(cls: str, name: str) -> str:
    if cls == "population":
        return POPULATION_PHRASES.get(name, f"in {name}")
    return f"in {name}" if cls == "disease" else name


def rewrite(question: str, previous: str, lexicon: Lexicon) -> str:
    """Rewrite ``question`` using the subject of ``previous`` (an already standalone question)."""
    question = " ".join(question.split())
    if not is_elliptical(question, lexicon):
        return question
    prev = lexicon.by_class(previous)
    new = lexicon.by_class(question)
    core = _LEADING_CONNECTIVE.sub("", question).strip().rstrip("?.!").strip()
    facets = set(lexicon.facets_of(core))
    comparison = "comparison" in facets

    if not facets:
        # "and in children?" / "what about emapalumab?": the previous question, entities swapped
        result = previous.rstrip().rstrip("?.!")
        for cls in ("drug", "disease", "population"):
            for name in new[cls]:
                if name in prev[cls]:
                    continue
                if prev[cls]:
                    result = _replace_entity(result, lexicon, cls, prev[cls][0], name)
                else:
                    result = f"{result} {_phrase(cls, name)}"
        if core and _has_own_words(core, lexicon):
            result = f"{result}: {core}"
        return result + "?"

    # The follow-up has its own intent ("what dose?", "compare with etoposide?"): keep it,
    # resolve a pronoun to the previous main entity, and add the subject it leaves out.
    main: str | None = next(iter(prev["drug"] or prev["disease"]), None)
    bare_comparison = _BARE_COMPARISON.match(core)
    if main and bare_comparison:
        core = f"how does {main} compare with {bare_comparison.group(1)}"
    elif main and (pronoun := _referring_pronoun(core)):
        core = core[: pronoun.start()] + main + core[pronoun.end() :]
    present = lexicon.by_class(core)
    parts = [core[0].upper() + core[1:]]
    drugs = [d for d in prev["drug"] if d not in present["drug"]]
    if drugs and (comparison or not present["drug"]):
        parts.append(("of " if not comparison else "with ") + " and ".join(drugs))
    for cls in ("disease", "population"):
        if not present[cls]:
            parts.extend(_phrase(cls, name) for name in prev[cls])
    if len(parts) == 1 and not any(prev.values()):
        # the subject is something the lexicon does not name ("the HScore"): carry its words
        words = [
            w
            for w in re.findall(r"[A-Za-z][\w'-]*", previous)
            if w.lower() not in STOPWORDS
            and stem(w.lower()) not in GENERIC_STEMS
            and w.lower() not in core.lower()
        ]
        if words:
            parts.append(f"({' '.join(words)})")
    return " ".join(parts) + "?"


def _replace_entity(text: str, lexicon: Lexicon, cls: str, old: str, new: str) -> str:
    pattern = lexicon.entities[cls][old]
    replaced, count = pattern.subn(new, text, count=1)
    return replaced if count else f"{text} ({new})"


def condense_offline(question: str, history: Sequence[Turn], lexicon: Lexicon | None = None) -> str:
    lexicon = lexicon or load_lexicon()
    previous = previous_standalone(history, lexicon)
    if previous is None:
        return " ".join(question.split())
    return rewrite(question, previous, lexicon)


def condense_with_llm(question: str, history: Sequence[Turn], model: BaseChatModel) -> str:
    """The LLM rewrite; falls back to the offline rewrite when the reply is unusable."""
    from assistant.prompts import load_prompt

    transcript = "\n".join(f"{t.role}: {_first_line(t.content)}" for t in history[-8:])
    prompt = load_prompt("condense").format(history=transcript, question=question)
    reply = model.invoke(prompt)
    text = str(getattr(reply, "content", reply)).strip().splitlines()
    candidate = text[0].strip().strip('"') if text else ""
    if not candidate or len(candidate) > 400:
        return condense_offline(question, history)
    return candidate


def _first_line(text: str, limit: int = 300) -> str:
    return " ".join(text.split())[:limit]
