"""The library's vocabulary: every source's terms (assistant/vocab/extract.py) put together.

Built from the manifest after each ingest and saved beside it (``vocabulary.json``, stamped with
the manifest revision it was built from, like the lexical index). Each term has its document
frequency, the kinds of evidence for it (MeSH, tag, acronym, phrase, ...) and a class read from
how the library's texts speak of it: ``intervention`` (a medicine, a procedure), ``condition``
(a disease, a disorder), ``population`` or ``other``. Acronyms and the long forms the texts
define for them are synonyms.
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from assistant.vocab.extract import MAX_TERM_WORDS, is_acronym, token_key, tokens
from assistant.vocab.general import general_vocabulary

logger = logging.getLogger(__name__)

STRONG_KINDS = frozenset(
    {"mesh", "tag", "intervention", "population", "title", "acronym", "longform", "name"}
)
"""Kinds of evidence that make a term on their own; a phrase must recur in two sources."""
CLASSES = ("intervention", "condition", "population", "other")
SHAPE_WEIGHT = 2
FIELD_WEIGHT = 3
FORMAT = 1


@dataclass(frozen=True)
class Term:
    key: str
    display: str
    df: int
    kinds: frozenset[str]
    cls: str = "other"


@dataclass(frozen=True)
class TermMatch:
    term: Term
    start: int
    end: int
    surface: str


@dataclass
class LibraryVocabulary:
    terms: dict[str, Term] = field(default_factory=dict)
    synonyms: dict[str, list[str]] = field(default_factory=dict)
    n_sources: int = 0
    generation: str = ""

    def __post_init__(self) -> None:
        self._first: dict[str, int] = {}
        for key in self.terms:
            parts = key.split(" ")
            self._first[parts[0]] = max(self._first.get(parts[0], 0), len(parts))
        self._single = sorted(k for k in self.terms if " " not in k and k.isalpha())

    def __len__(self) -> int:
        return len(self.terms)

    def get(self, key: str) -> Term | None:
        return self.terms.get(key)

    def match(self, text: str) -> list[TermMatch]:
        """Terms named in ``text``, longest first and without overlap, in text order."""
        words = tokens(text)
        keys = [token_key(w) for w, _, _ in words]
        out: list[TermMatch] = []
        i = 0
        while i < len(words):
            longest = min(self._first.get(keys[i], 0), len(words) - i)
            hit = None
            for n in range(longest, 0, -1):
                term = self.terms.get(" ".join(keys[i : i + n]))
                if term is not None:
                    hit = (term, n)
                    break
            if hit is None:
                i += 1
                continue
            term, n = hit
            start, end = words[i][1], words[i + n - 1][2]
            out.append(TermMatch(term, start, end, text[start:end]))
            i += n
        return out

    def fuzzy(self, word: str) -> Term | None:
        """The single-word term a misspelt word means ("emapalumb" -> "emapalumab"): one edit
        for words of 6-9 letters, two from 10; shorter words must match exactly."""
        low = word.lower()
        if len(low) < 6 or not low.isalpha():
            return None
        from rapidfuzz.distance import Levenshtein
        from rapidfuzz.process import extractOne

        limit = 1 if len(low) < 10 else 2
        candidates = [k for k in self._single if abs(len(k) - len(low)) <= limit + 3]
        best = extractOne(
            token_key(low), candidates, scorer=Levenshtein.distance, score_cutoff=limit
        )
        if best is None:
            best = extractOne(low, candidates, scorer=Levenshtein.distance, score_cutoff=limit)
        return self.terms[best[0]] if best else None

    def synonyms_of(self, key: str) -> list[str]:
        """Display forms of the terms that mean the same as ``key`` (acronym <-> long form)."""
        return [self.terms[k].display for k in self.synonyms.get(key, []) if k in self.terms]

    # -- persistence -------------------------------------------------------------------------
    def save(self, path: Path) -> None:
        data = {
            "format": FORMAT,
            "generation": self.generation,
            "n_sources": self.n_sources,
            "terms": {
                k: [t.display, t.df, sorted(t.kinds), t.cls] for k, t in sorted(self.terms.items())
            },
            "synonyms": self.synonyms,
        }
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".vocabulary-", dir=path.parent)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(data, fh, ensure_ascii=False)
        os.replace(tmp, path)

    @classmethod
    def load(cls, path: Path) -> LibraryVocabulary | None:
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            if data.get("format") != FORMAT:
                return None
            terms = {
                k: Term(k, v[0], int(v[1]), frozenset(v[2]), v[3]) for k, v in data["terms"].items()
            }
            return cls(terms, data["synonyms"], int(data["n_sources"]), str(data["generation"]))
        except (OSError, ValueError, KeyError, IndexError, TypeError) as exc:
            if path.exists():
                logger.warning("vocabulary at %s is unreadable (%s); rebuilding it", path, exc)
            return None


def _term_class(display: str, kinds: set[str], interv: int, cond: int) -> str:
    general = general_vocabulary()
    spans = general.population_spans(display)
    if spans and spans[0].start == 0 and spans[0].end >= len(display.rstrip()) - 1:
        return "population"
    words = [w for w, _, _ in tokens(display)]
    shape = general.shape_class(words)
    scores = {
        "intervention": interv + SHAPE_WEIGHT * (shape == "intervention"),
        "condition": cond + SHAPE_WEIGHT * (shape == "condition"),
    }
    if "intervention" in kinds:
        scores["intervention"] += FIELD_WEIGHT
    best = max(scores, key=lambda c: scores[c])
    if scores[best] <= 0 or scores["intervention"] == scores["condition"]:
        return "other"
    return best


def build_vocabulary(
    rows: Iterable[tuple[str, str, str]], generation: str = ""
) -> LibraryVocabulary:
    """Aggregate the per-source terms (``Manifest.iter_source_meta`` rows)."""
    df: Counter[str] = Counter()
    kinds: dict[str, set[str]] = {}
    displays: dict[str, Counter[str]] = {}
    cues: dict[str, list[int]] = {}
    acronyms: dict[str, Counter[str]] = {}
    n_sources = 0
    for _, terms_json, _ in rows:
        n_sources += 1
        try:
            data = json.loads(terms_json or "{}")
        except ValueError:
            continue
        for key, (display, tf, term_kinds, interv, cond) in data.get("terms", {}).items():
            df[key] += 1
            kinds.setdefault(key, set()).update(term_kinds)
            displays.setdefault(key, Counter())[display] += int(tf)
            counts = cues.setdefault(key, [0, 0])
            counts[0] += int(interv)
            counts[1] += int(cond)
        for short, long_key in data.get("acronyms", {}).items():
            acronyms.setdefault(short, Counter())[long_key] += 1
    terms: dict[str, Term] = {}
    for key, n in df.items():
        term_kinds = kinds[key]
        if not (term_kinds & STRONG_KINDS or n >= 2 or "word" in term_kinds):
            continue
        if len(key.split(" ")) > MAX_TERM_WORDS + 1:
            continue
        terms[key] = Term(key, _display(displays[key]), n, frozenset(term_kinds))
    synonyms: dict[str, list[str]] = {}
    for short, longs in acronyms.items():
        long_key = longs.most_common(1)[0][0]
        if short in terms and long_key in terms:
            synonyms.setdefault(short, []).append(long_key)
            synonyms.setdefault(long_key, []).append(short)
    classed: dict[str, Term] = {}
    for key, term in terms.items():
        interv, cond = cues[key]
        for other in synonyms.get(key, []):  # an acronym is spoken of like its long form
            interv += cues[other][0]
            cond += cues[other][1]
        cls = _term_class(term.display, set(term.kinds), interv, cond)
        classed[key] = Term(key, term.display, term.df, term.kinds, cls)
    return LibraryVocabulary(classed, synonyms, n_sources, generation)


def _display(forms: Counter[str]) -> str:
    """The most frequent written form; an acronym keeps its capitals."""
    ranked = forms.most_common()
    for form, _ in ranked:
        if is_acronym(form):
            return form
    return ranked[0][0]
