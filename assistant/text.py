"""Small text utilities shared by chunking, retrieval, composition and evaluation."""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

NUMBER_RE = re.compile(r"\d+(?:[.,]\d+)*")
"""A number as written: digits with inner dots or commas (90.5, 2,400, 0.001)."""

_ABBREVIATIONS = {
    "al",
    "e.g",
    "i.e",
    "vs",
    "fig",
    "figs",
    "dr",
    "prof",
    "no",
    "approx",
    "ca",
    "cf",
    "etc",
    "mr",
    "mrs",
    "ms",
    "st",
    "jr",
    "sr",
    "incl",
    "resp",
    "ref",
    "refs",
    "eq",
    "vol",
    "pp",
    "min",
    "max",
}
# A sentence ends at . ! or ? followed by space(s) and a capital, digit, quote or bracket.
_BOUNDARY_RE = re.compile(r"([.!?])[\"')\]]*\s+(?=[A-Z0-9\"'(\[])")
_WORD_RE = re.compile(r"[A-Za-z0-9]+(?:[-'][A-Za-z0-9]+)*")
_BULLET_RE = re.compile(r"^\s*(?:[-*+•]|\d+[.)])\s+")

STOPWORDS: frozenset[str] = frozenset(
    """a about above after again against all also am an and any are as at be because been before
    being below between both but by can could did do does doing down during each few for from
    further had has have having he her here hers herself him himself his how i if in into is
    it its itself just me more most my myself no nor not now of off on once only or other our
    ours ourselves out over own same she should so some such than that the their theirs them
    themselves then there these they this those through to too under until up very was we were
    what when where which while who whom why will with would you your yours yourself
    yourselves s t don shall may might must whether per via vs versus""".split()
)


def normalize(text: str) -> str:
    """NFC, no control characters, single spaces inside lines."""
    text = unicodedata.normalize("NFC", text)
    text = "".join(ch if ch in "\n\t" or unicodedata.category(ch)[0] != "C" else " " for ch in text)
    lines = [" ".join(line.split()) for line in text.splitlines()]
    return "\n".join(lines).strip()


def strip_bullet(line: str) -> str:
    return _BULLET_RE.sub("", line, count=1).strip()


def split_sentences(text: str) -> list[tuple[int, int]]:
    """Character spans of the sentences of ``text``.

    Line breaks always end a sentence (a bullet is one unit); inside a line, a sentence ends at
    terminal punctuation followed by a capital, digit or bracket, unless the word before the dot
    is a known abbreviation or a single initial ("Henter JI.").
    """
    spans: list[tuple[int, int]] = []
    offset = 0
    for line in text.split("\n"):
        line_start = offset
        offset += len(line) + 1
        if not line.strip():
            continue
        bullet = _BULLET_RE.match(line)
        start = line_start + (bullet.end() if bullet else 0)
        body_end = line_start + len(line.rstrip())
        for match in _BOUNDARY_RE.finditer(text, start, body_end):
            dot = match.start(1)
            word = re.search(r"([A-Za-z.]+)$", text[start:dot])
            token = word.group(1).lower() if word else ""
            if match.group(1) == "." and (token in _ABBREVIATIONS or len(token) == 1):
                continue
            end = match.end(0)
            sentence_end = end - (len(match.group(0)) - len(match.group(0).rstrip()))
            if text[start:sentence_end].strip():
                spans.append((start, sentence_end))
            start = end
        if text[start:body_end].strip():
            spans.append((start, body_end))
    return spans


def sentences(text: str) -> list[str]:
    return [text[a:b].strip() for a, b in split_sentences(text)]


def words(text: str) -> list[str]:
    return _WORD_RE.findall(text)


def numbers(text: str) -> set[str]:
    """Every number written in ``text``, normalised so that 2,400 and 2400 compare equal."""
    return {n.replace(",", "") for n in NUMBER_RE.findall(text)}


@lru_cache(maxsize=1)
def _stemmer():  # type: ignore[no-untyped-def]
    import Stemmer

    return Stemmer.Stemmer("english")


@lru_cache(maxsize=50_000)
def stem(word: str) -> str:
    return str(_stemmer().stemWord(word))


def lexical_tokens(text: str, keep_stopwords: bool = False) -> list[str]:
    """Lower-cased, stemmed word tokens for the lexical index.

    Hyphenated tokens are kept whole and also split ("il-1" -> "il-1", "il", "1"), so
    "IL-1" and "HLH-2004" match exactly while "anakinra-treated" still matches "anakinra".
    """
    out: list[str] = []
    for raw in words(text.lower()):
        raw = raw.replace("'", "")
        parts = raw.split("-") if "-" in raw else []
        for token in [raw, *parts]:
            if not token or (not keep_stopwords and token in STOPWORDS):
                continue
            out.append(token if token[0].isdigit() or "-" in token else stem(token))
    return out


def content_terms(text: str) -> list[str]:
    """Distinct stemmed tokens of ``text`` minus stopwords, in order of first appearance."""
    seen: dict[str, None] = {}
    for token in lexical_tokens(text):
        seen.setdefault(token, None)
    return list(seen)


def slugify(text: str, max_len: int = 80) -> str:
    text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")
    return slug[:max_len].strip("-") or "untitled"
