"""Small text utilities shared by chunking, retrieval, composition and evaluation."""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

NUMBER_RE = re.compile(r"\d+(?:[.,]\d+)*")
"""A number as written: digits with inner dots or commas (90.5, 2,400, 0.001)."""

_ABBREVIATIONS = frozenset(
    "al e.g i.e vs fig figs dr prof no approx ca cf etc mr mrs ms st jr sr incl resp ref refs eq "
    "vol pp min max".split()
)
"""Words whose trailing dot never ends a sentence (a second guard behind the splitter)."""
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

    A line break always ends a sentence (a bullet is one unit; its marker is not part of the
    span). Inside a line the maintained splitter blingfire decides; it was measured against
    pysbd and syntok on PubMed and NIH text (``benchmarks/splitters.py``). A guard follows it:
    a piece that starts in lower case, or follows a known abbreviation, continues the sentence
    before it.
    """
    spans: list[tuple[int, int]] = []
    offset = 0
    for line in text.split("\n"):
        line_start = offset
        offset += len(line) + 1
        if not line.strip():
            continue
        bullet = _BULLET_RE.match(line)
        body_start = line_start + (bullet.end() if bullet else 0)
        body = text[body_start : line_start + len(line.rstrip())]
        pieces: list[tuple[int, int]] = []
        for a, b in _splitter_offsets(body):
            a, b = body_start + a, body_start + b
            if pieces and _continues(text[pieces[-1][0] : pieces[-1][1]], text[a:b]):
                pieces[-1] = (pieces[-1][0], b)
            else:
                pieces.append((a, b))
        spans.extend(p for p in pieces if text[p[0] : p[1]].strip())
    return spans


def _splitter_offsets(body: str) -> list[tuple[int, int]]:
    import blingfire

    if not body.strip():
        return []
    _, offsets = blingfire.text_to_sentences_and_offsets(body)
    out = [(int(a), int(b)) for a, b in offsets]
    return out or [(0, len(body))]


def _continues(previous: str, piece: str) -> bool:
    if piece[:1].islower():
        return True
    word = re.search(r"([A-Za-z.]+)\.$", previous.rstrip())
    return word is not None and word.group(1).lower() in _ABBREVIATIONS


_SPACE_RUN = re.compile(r"(?<=\S)[ \u00a0]{3,}(?=\S)")


_INLINE_LIST = re.compile(r":\s+-\s+(?=\S)")
_INLINE_ITEM = re.compile(r"\s+-\s+(?=\S)")
_BULLET_WITH_ITEMS = re.compile(r"^-\s+\S.*?\s{2,}-\s+\S")
_GLUED_HEADING = re.compile(r"^((?:[A-Z][\w'-]*\s?){1,6})\s{2,}(?=[A-Z])")
"""A short Title Case heading glued to the text after it by two spaces ("Gestational Diabetes
Some women develop ...")."""


def split_space_runs(line: str) -> list[str]:
    """Web-scraped text marks its line breaks with runs of spaces ("Overview      Your risk",
    "may include      - fatigue"): a run of three or more spaces inside a line is a break. So
    is a dash list written inline after a colon ("management of X: - Genetic Testing
    Registry: X - MedlinePlus: X"): each item goes on a line of its own."""
    indent = line[: len(line) - len(line.lstrip())]
    out: list[str] = []
    for part in _SPACE_RUN.split(line.strip()):
        if _BULLET_WITH_ITEMS.match(part):  # "- are overweight  - have had ..."
            items = _INLINE_ITEM.split(part[1:].strip())
            out.extend(f"- {item.strip()}" for item in items if item.strip())
            continue
        heading = _GLUED_HEADING.match(part)
        if heading:
            out.append(heading.group(1).strip())
            part = part[heading.end() :]
        found = _INLINE_LIST.search(part)
        if found is None:
            out.append(part)
            continue
        out.append(part[: found.start() + 1])
        out.extend(f"- {item.strip()}" for item in _INLINE_ITEM.split(part[found.end() :]) if item)
    return [indent + out[0], *out[1:]] if out else [line]


def sentences(text: str) -> list[str]:
    return [text[a:b].strip() for a, b in split_sentences(text)]


def words(text: str) -> list[str]:
    return _WORD_RE.findall(text)


def numbers(text: str) -> set[str]:
    """Every number written in ``text``, normalised so that 2,400 and 2400 compare equal."""
    return {n.replace(",", "") for n in NUMBER_RE.findall(text)}


NUMBER_WORDS = (
    "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen "
    "fifteen sixteen seventeen eighteen nineteen twenty"
).split()
"""The numbers 0 to 20 in words, each at its own index."""
_NUMBER_WORD_VALUES = {w: str(i) for i, w in enumerate(NUMBER_WORDS)} | {
    "thirty": "30",
    "forty": "40",
    "fifty": "50",
    "sixty": "60",
    "seventy": "70",
    "eighty": "80",
}
_NUMBER_WORD_RE = re.compile(rf"\b(?:{'|'.join(_NUMBER_WORD_VALUES)})\b", re.IGNORECASE)


def spelled_numbers(text: str) -> str:
    """``text`` with the number words zero to twenty (and the tens to eighty) as digits."""
    return _NUMBER_WORD_RE.sub(lambda m: _NUMBER_WORD_VALUES[m.group(0).lower()], text)


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
