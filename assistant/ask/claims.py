"""What a cosine cannot see: the lexical checks of a claim against the passages it cites.

Used by ``support.SupportChecker`` on the LLM composer's sentences. Each check is a small rule
over words (no model): talk about the answer's own frame, a negation the source does not share,
the opposite direction of a source sentence, absolute wording the source does not use.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

from assistant.text import lexical_tokens, sentences, stem

META_RE = re.compile(
    r"\b(disclaimer|instruction|instructions|instructed|prompt|system message|"
    r"language model|as an ai|ignore (?:all |the |any |previous |prior |above )|"
    r"disregard|no need to (?:consult|see|ask)|not medical advice|numbered sources|"
    r"sources (?:above|provided|below)|the rules?\b)",
    re.IGNORECASE,
)
"""Talk about the answer's frame (its disclaimer, instructions, prompt), never a clinical claim."""

NEGATIONS = frozenset(
    """not no never none neither nor cannot cant didnt doesnt dont isnt wasnt werent arent
    wont nothing nobody without""".split()
)
_ADVISE = frozenset("advise advises advised recommend recommends recommended warn warns".split())
"""Verbs after which "against" denies what follows ("advises against measuring")."""

_OPPOSITE_WORDS = (
    ("more higher increased increase increases rose rise rises risen raised grew greater "
     "longer better best improved improves gained exceeded",
     "less lower lowered decreased decrease decreases reduced reduces fell fall falls fallen "
     "dropped declined fewer shorter worse worst worsened milder lost"),
    ("frequent common commoner often usual usually", "infrequent uncommon rare rarely seldom"),
    ("high above elevated raised abnormal", "low below normal"),
    ("severe serious", "mild milder minor"),
    ("young younger", "old older elderly"),
    ("effective excellent good useful helpful", "ineffective poor useless"),
    ("safe", "unsafe harmful dangerous"),
    ("early earlier", "late later delayed"),
)  # fmt: skip
"""Pairs of opposite directions (general language, not any topic's vocabulary)."""
_COMPOUNDS = (
    (re.compile(r"\b(?:less|fewer)\s+(?:common|frequent|frequently|often|likely)\b", re.I),
     "infrequent"),
    (re.compile(r"\bmore\s+(?:common|frequent|frequently|often|likely)\b", re.I), "frequent"),
    (re.compile(r"\b(?:not|no)\s+(?:all|every|always)\b", re.I), "some"),
)  # fmt: skip
"""Phrases read as one word: "less common" is a frequency, not a direction; "not all" is a
quantity, not a denial."""

ABSOLUTES = frozenset(
    """always never every everyone everybody everything all entirely completely totally
    guarantee guaranteed guarantees cure cures cured curative only sole solely universally
    definitely certainly proven proves prove eliminates eliminate impossible forever
    permanently perfect perfectly any whatever""".split()
)
_ABSOLUTE_PHRASES = re.compile(
    r"\b(no other|no further|no need|nothing else|in all cases|without exception|100 ?%)",
    re.IGNORECASE,
)
GENERIC = frozenset(
    """study studies trial trials series cohort cohorts review reviews analysis meta
    retrospective prospective randomised randomized guideline guidelines guidance consensus
    recommendation recommendations recommend recommends recommended report reports reported
    found find finds showed show shows suggest suggests suggested describe describes described
    observed note notes noted patient patients people author authors investigators data
    evidence result results outcome outcomes participants case cases source sources also
    however although while whereas overall according published paper article""".split()
)
"""Framing words a faithful summary adds ("a retrospective series found ..."): not new content."""
_WORD = re.compile(r"[a-z0-9]+(?:'[a-z]+)?")


def root(token: str) -> str:
    """A coarser stem, so that "respond" and "response" meet (the stemmer keeps them apart)."""
    return token[:5] if len(token) > 5 and token.isalpha() else token


def words(text: str) -> list[str]:
    """Lower-case words, with the compound phrases above read as one word."""
    for pattern, word in _COMPOUNDS:
        text = pattern.sub(word, text)
    return [w.replace("'", "") for w in _WORD.findall(text.lower())]


def roots(text: str) -> set[str]:
    """Roots of the content words (stopwords left out)."""
    return {root(t) for t in lexical_tokens(text)}


def _word_roots(items: Iterable[str]) -> frozenset[str]:
    return frozenset(root(stem(w)) for w in items)


OPPOSITES = tuple((_word_roots(a.split()), _word_roots(b.split())) for a, b in _OPPOSITE_WORDS)
GENERIC_ROOTS = frozenset(root(t) for w in GENERIC for t in lexical_tokens(w))


def talks_about_the_frame(claim: str) -> bool:
    return META_RE.search(claim) is not None


def denied(text: str) -> set[str]:
    """The root of the first content word after each negation: what it denies ("did not
    settle" -> settl, "advises against measuring" -> measu, "none of the children" -> child).
    One word only, so "had not responded to conventional therapy" does not deny "therapy"."""
    out: set[str] = set()
    tokens = words(text)
    for i, word in enumerate(tokens):
        if word in NEGATIONS or (word == "against" and i and tokens[i - 1] in _ADVISE):
            following = (lexical_tokens(w) for w in tokens[i + 1 :])
            first = next((t for t in following if t), None)
            if first:
                out.add(root(first[0]))
    return out


def negation_differs(claim: str, passages: Sequence[str]) -> bool:
    """A negation on one side denies a word the other side states without denying it; or the
    claim denies something that passages without any negation never mention."""
    text = " ".join(passages)
    by_claim = denied(claim)
    by_source = set().union(*(denied(s) for s in sentences(text))) if text.strip() else set()
    if (by_claim & roots(text)) - by_source or (by_source & roots(claim)) - by_claim:
        return True
    return bool(by_claim - roots(text)) and not by_source


def opposed(claim: str, passages: Sequence[str]) -> bool:
    """The claim adds one side of an opposite pair that the source sentences about the same
    thing (two content words in common) lack, against the other side that they state and the
    claim lacks ("doses were increased" where the source says "doses were reduced")."""
    said = _word_roots(words(claim))
    topic = roots(claim) - GENERIC_ROOTS
    about = [
        _word_roots(words(sent))
        for passage in passages
        for sent in sentences(passage)
        if len(roots(sent) & topic) >= 2
    ]
    stated: frozenset[str] = frozenset().union(*about)
    for one, other in OPPOSITES:
        for a, b in ((one, other), (other, one)):
            if (said & a) - stated and (stated & b) - said:
                return True
    return False


def absolutes(text: str) -> set[str]:
    found = {w for w in words(text) if w in ABSOLUTES}
    return found | {m.group(1).lower() for m in _ABSOLUTE_PHRASES.finditer(text)}


def unsupported_absolutes(claim: str, passages: Sequence[str]) -> set[str]:
    """Absolute or universal wording of the claim that the passages do not use themselves."""
    return absolutes(claim) - absolutes(" ".join(passages))


def novelty(claim: str, passages: Sequence[str]) -> float:
    """Share of the claim's content stems (framing words left out) that the passages lack."""
    source = set(lexical_tokens(" ".join(passages)))
    stems = [t for t in lexical_tokens(claim) if root(t) not in GENERIC_ROOTS]
    return sum(1 for t in stems if t not in source) / len(stems) if stems else 0.0
