"""The terms of one source, found at ingest: what the library's vocabulary is built from.

Per source: its metadata terms (MeSH headings, tags, population / intervention / comparator
fields, a short title), acronyms with the long forms the text defines for them ("hemophagocytic
lymphohistiocytosis (HLH)"), words shaped like a medicine or a condition, uncommon words, and
multi-word phrases. For each, how often the text names it in the context of a treatment
("treated with X") or of a condition ("patients with X"): that is how the library, not this
code, says which terms are medicines and which are diseases.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from dataclasses import dataclass, field
from functools import lru_cache

from assistant.text import STOPWORDS, stem
from assistant.types import Chunk, SourceDoc
from assistant.vocab.general import GeneralVocabulary, commonness, general_vocabulary

TOKEN_RE = re.compile(r"[A-Za-z0-9]+(?:['\u2019-][A-Za-z0-9]+)*")
MAX_TERM_WORDS = 4
UNCOMMON_ZIPF = 3.6
"""A word rarer than this in general English ("glaucoma" 3.0, "metformin" 2.6) names something;
commoner words ("sugar" 4.7) only do so inside a phrase."""
_CUE_WINDOW = 30
MAX_FIELD_TERM_WORDS = 5
"""A metadata field longer than this is a description, not a term."""
_BOUNDARY_WORDS = frozenset(
    "without within among despite including compared versus across toward towards upon "
    "whereas since unless although though thus hence also either neither".split()
)


_CLITIC = re.compile(r"'(?:s|t|re|ve|ll|d|m)$")


def token_key(token: str) -> str:
    """How a word is compared: lower case, without a possessive or contraction ("Still's" ->
    "still"), stemmed when it is all letters."""
    low = _CLITIC.sub("", token.lower().replace("\u2019", "'"))
    return stem(low) if low.isalpha() else low


def tokens(text: str) -> list[tuple[str, int, int]]:
    """(word, start, end) of each word of ``text``."""
    return [(m.group(0), m.start(), m.end()) for m in TOKEN_RE.finditer(text)]


def term_key(text: str) -> str:
    return " ".join(token_key(t) for t, _, _ in tokens(text))


@dataclass
class SourceTerm:
    display: str
    tf: int = 0
    kinds: set[str] = field(default_factory=set)
    intervention_cues: int = 0
    condition_cues: int = 0


def is_acronym(word: str) -> bool:
    """HLH, AMD, HbA1c, sJIA: two or more capitals, at most ten characters."""
    return (
        2 <= len(word) <= 10
        and sum(c.isupper() for c in word) >= 2
        and word[0].isalpha()
        and not any(c.isspace() for c in word)
    )


def _content(word: str, general: GeneralVocabulary) -> bool:
    return _content_word(word.lower())


@lru_cache(maxsize=200_000)
def _content_word(low: str) -> bool:
    """Whether a word can be part of a term: not a stopword, a number or a facet word."""
    if low in STOPWORDS or low in _BOUNDARY_WORDS or len(low) < 2 or low.isdigit():
        return False
    return not any(p.fullmatch(low) for p in general_vocabulary().facets.values())


@lru_cache(maxsize=200_000)
def _word_shape(low: str) -> str | None:
    """'intervention' or 'condition' when one word is shaped like a name of one (its ending)."""
    general = general_vocabulary()
    if len(low) < 6 or general.is_generic(low):
        return None
    if general.intervention_suffix.search(low):
        return "intervention"
    if general.condition_suffix.search(low):
        return "condition"
    return None


@lru_cache(maxsize=1)
def _cue_patterns() -> dict[str, tuple[re.Pattern[str], re.Pattern[str]]]:
    """Per class: (cue right before a term, cue right after it)."""
    out = {}
    for cls, cues in general_vocabulary().cues.items():
        before = re.compile(rf"(?:{cues['before'].pattern})\s*$", re.IGNORECASE)
        after = re.compile(rf"\s*(?:{cues['after'].pattern})", re.IGNORECASE)
        out[cls] = (before, after)
    return out


def define_acronyms(text: str) -> dict[str, str]:
    """Acronyms defined in ``text`` -> their long form (Schwartz & Hearst's rule: the letters of
    the short form appear in order in the words before the parenthesis, the first letter at
    the start of a word)."""
    out: dict[str, str] = {}
    for m in re.finditer(r"\(([A-Za-z][A-Za-z0-9-]{1,9})\)", text):
        short = m.group(1)
        if not is_acronym(short):
            continue
        before = tokens(text[max(0, m.start() - 120) : m.start()])
        window = before[-min(len(short) + 5, 2 * len(short)) :]
        long_form = _match_long_form(short, [w for w, _, _ in window])
        if long_form:
            out.setdefault(short, long_form)
    return out


def _match_long_form(short: str, words: list[str]) -> str | None:
    letters = [c.lower() for c in short if c.isalnum()]
    for first in range(len(words) - 1, -1, -1):
        candidate = words[first:]
        if len(candidate) > len(letters) + 3:
            return None
        joined = " ".join(candidate).lower()
        if joined[:1] != letters[0]:
            continue
        i = len(joined) - 1
        ok = True
        for c in reversed(letters[1:]):
            while i > 0 and joined[i] != c:
                i -= 1
            if i <= 0:
                ok = False
                break
            i -= 1
        if ok and len(candidate) >= 2:
            return " ".join(candidate)
    return None


class _Collector:
    def __init__(self, general: GeneralVocabulary) -> None:
        self.general = general
        self.terms: dict[str, SourceTerm] = {}

    def add(self, display: str, kind: str, count: int = 1) -> str | None:
        key = term_key(display)
        if not key:
            return None
        term = self.terms.setdefault(key, SourceTerm(display))
        term.tf += count
        term.kinds.add(kind)
        return key


def _cue_counts(text: str, start: int, end: int) -> tuple[int, int]:
    before = text[max(0, start - _CUE_WINDOW) : start]
    after = text[end : end + _CUE_WINDOW]
    counts = []
    for cls in ("intervention", "condition"):
        before_cue, after_cue = _cue_patterns()[cls]
        counts.append(int(bool(before_cue.search(before) or after_cue.match(after))))
    return counts[0], counts[1]


def extract_terms(doc: SourceDoc, chunks: list[Chunk]) -> dict[str, SourceTerm]:
    """The terms of a source (see the module docstring), keyed by ``term_key``."""
    general = general_vocabulary()
    found = _Collector(general)
    for value in doc.mesh:
        found.add(value.replace(",", " "), "mesh")
    for value in doc.tags:
        found.add(value, "tag")
    for name, kind in (
        (doc.population, "population"),
        (doc.intervention, "intervention"),
        (doc.comparator, "intervention"),
    ):
        for part in re.split(r"[;,()]| and ", name or ""):
            if (
                part.strip()
                and len(part.split()) <= MAX_FIELD_TERM_WORDS
                and not re.search(r"\d", part)
            ):
                found.add(part.strip(), kind)
    title_words = [w for w, _, _ in tokens(doc.title)]
    if 1 <= len(title_words) <= 6 and any(
        w.isalpha() and not general.is_generic(w) and w.lower() not in STOPWORDS
        for w in title_words
    ):
        found.add(doc.title, "title")

    text = "\n".join(c.text for c in chunks)
    for short, long_form in define_acronyms(text).items():
        found.add(short, "acronym")
        found.add(long_form, "longform")
    phrase_counts: Counter[tuple[str, ...]] = Counter()
    surfaces: dict[tuple[str, ...], str] = {}
    for line in text.split("\n"):
        words = tokens(line)
        for segment in _PUNCTUATION.split(line):
            _count_phrases(segment, general, phrase_counts, surfaces)
        for word, start, end in words:
            low = word.lower()
            if is_acronym(word) and not low.isdigit():
                key = found.add(word, "acronym")
            elif low.isalpha() and len(low) >= 4 and _content_word(low):
                shaped = _word_shape(low)
                if shaped is None and commonness(low) >= UNCOMMON_ZIPF:
                    continue
                key = found.add(word, "name" if shaped else "word")
            else:
                continue
            if key is not None:
                interv, cond = _cue_counts(line, start, end)
                found.terms[key].intervention_cues += interv
                found.terms[key].condition_cues += cond
    for gram, count in phrase_counts.items():
        gram_words = [w for w, _, _ in tokens(surfaces[gram])]
        if all(general.is_generic(w) for w in gram_words):
            continue
        uncommon = any(
            is_acronym(w) or (w.isalpha() and commonness(w.lower()) < UNCOMMON_ZIPF)
            for w in gram_words
        )
        if count < 2 and not uncommon:
            continue  # a common-word phrase counts only when the source repeats it
        joined = " ".join(gram)
        term = found.terms.setdefault(joined, SourceTerm(surfaces[gram]))
        if "phrase" not in term.kinds:
            term.display = surfaces[gram]  # as the text writes it, not as a MeSH heading does
        term.tf += count
        term.kinds.add("phrase")
    _phrase_cues(text, found, general)
    return found.terms


def _count_phrases(
    segment: str,
    general: GeneralVocabulary,
    counts: Counter[tuple[str, ...]],
    surfaces: dict[tuple[str, ...], str],
) -> None:
    """Count the 2- to 4-word runs of content words of a stretch of text without punctuation;
    a run may not start or end on a generic word or a common verb form ("received X")."""
    run: list[tuple[str, int, int]] = []
    for item in [*tokens(segment), ("", len(segment), len(segment))]:
        word = item[0]
        if word and (_content(word, general) or (word.isdigit() and run and len(word) <= 2)):
            run.append(item)  # a short number inside a run: "type 2 diabetes"
            continue
        for n in range(2, MAX_TERM_WORDS + 1):
            for i in range(len(run) - n + 1):
                gram = run[i : i + n]
                if not (_edge_word(gram[0][0]) and _edge_word(gram[-1][0])):
                    continue
                key = tuple(token_key(w) for w, _, _ in gram)
                counts[key] += 1
                surfaces.setdefault(key, segment[gram[0][1] : gram[-1][2]])
        run = []


@lru_cache(maxsize=200_000)
def _edge_word(word: str) -> bool:
    low = word.lower()
    if low.isdigit() or general_vocabulary().is_generic(low):
        return False
    verb_form = low.endswith(("ed", "ing", "en")) and not is_acronym(word)
    return not (verb_form and commonness(low) >= UNCOMMON_ZIPF)


_PUNCTUATION = re.compile(r"[,;:()\[\]{}\\\"/?!\u2013\u2014]|\.(?=\s|$)")


def _phrase_cues(text: str, found: _Collector, general: GeneralVocabulary) -> None:
    """Context cues of the phrases (single words got theirs while they were read)."""
    phrases = {k: t for k, t in found.terms.items() if " " in k and t.tf >= 1}
    if not phrases:
        return
    for line in text.split("\n"):
        words = tokens(line)
        keys = [token_key(w) for w, _, _ in words]
        for n in range(2, MAX_TERM_WORDS + 1):
            for i in range(len(words) - n + 1):
                key = " ".join(keys[i : i + n])
                term = phrases.get(key)
                if term is None:
                    continue
                interv, cond = _cue_counts(line, words[i][1], words[i + n - 1][2])
                term.intervention_cues += interv
                term.condition_cues += cond


def terms_json(terms: dict[str, SourceTerm], acronyms: dict[str, str] | None = None) -> str:
    """Compact JSON: {key: [display, tf, kinds, intervention cues, condition cues]}."""
    data = {
        k: [t.display, t.tf, sorted(t.kinds), t.intervention_cues, t.condition_cues]
        for k, t in sorted(terms.items())
    }
    return json.dumps({"terms": data, "acronyms": acronyms or {}}, ensure_ascii=False)


def source_terms_json(doc: SourceDoc, chunks: list[Chunk]) -> str:
    """What ingest stores for a source: its terms and the acronyms its text defines."""
    text = "\n".join(c.text for c in chunks)
    acronyms = {term_key(s): term_key(lf) for s, lf in define_acronyms(text).items()}
    return terms_json(extract_terms(doc, chunks), acronyms)
