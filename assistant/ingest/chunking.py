"""Section-aware chunking sized for the 256-token window of all-MiniLM-L6-v2."""

from __future__ import annotations

import hashlib
import re

from assistant.config import ChunkingSettings
from assistant.text import normalize, split_sentences
from assistant.types import Chunk, SourceDoc


def chunk_id(source_id: str, heading: str, text: str, occurrence: int) -> str:
    """Stable id from content: the same text in the same place of the same source keeps its id."""
    key = "\x1f".join([source_id, heading, text, str(occurrence)])
    return hashlib.sha1(key.encode()).hexdigest()[:24]


Unit = tuple[int, int, str]
"""A chunking unit: its span in the section text and the text it contributes (one line)."""

_LEAD_IN = re.compile(
    r"(?::|\b(?:include|includes|including|such as|are|the following|as follows|these))\s*$",
    re.IGNORECASE,
)
"""How a sentence that introduces a list ends: "Symptoms may include", "Risk factors:"."""
_TERMINAL = re.compile(r"[.!?]['\")\]]*\s*$")
"""A sentence ends with this; a line without it that bullets follow introduces them."""
MAX_LIST_ITEM_WORDS = 25
"""A bullet longer than this is a statement of its own, not an item of a list."""


def _sentence_units(text: str, max_words: int) -> list[tuple[int, int, bool]]:
    """Sentence spans, each flagged when it is a bullet line of its own; a sentence longer
    than ``max_words`` is cut at word boundaries."""
    out: list[tuple[int, int, bool]] = []
    for start, end in split_sentences(text):
        line_start = text.rfind("\n", 0, start) + 1
        bullet = start > line_start and bool(_BULLET_MARK.match(text[line_start:start]))
        piece = text[start:end]
        if len(piece.split()) <= max_words:
            out.append((start, end, bullet))
            continue
        cursor, count, cut_start = start, 0, start
        for word in piece.split():
            pos = text.index(word, cursor)
            cursor = pos + len(word)
            count += 1
            if count == max_words:
                out.append((cut_start, cursor, bullet))
                cut_start, count = cursor + 1, 0
        if cut_start < end:
            out.append((cut_start, end, bullet))
    return out


_BULLET_MARK = re.compile(r"^\s*(?:[-*+\u2022]|\d+[.)])\s+$")


def _units(text: str, max_words: int) -> list[Unit]:
    """The section's units: sentences, except that a list is kept with the sentence that
    introduces it ("Symptoms may include: fatigue; swelling; weight loss."), so neither the
    lead-in nor its items is ever quoted as a fragment. A list too long for one unit is cut
    into parts that each repeat the lead-in."""
    spans = _sentence_units(text, max_words)
    out: list[Unit] = []
    i = 0
    while i < len(spans):
        start, end, _ = spans[i]
        lead = text[start:end].strip()
        j = i + 1
        items: list[tuple[int, int]] = []
        while (
            (_LEAD_IN.search(lead) or not _TERMINAL.search(lead))
            and j < len(spans)
            and spans[j][2]
            and len(text[spans[j][0] : spans[j][1]].split()) <= MAX_LIST_ITEM_WORDS
        ):
            items.append((spans[j][0], spans[j][1]))
            j += 1
        if not items:
            out.append((start, end, lead))
            i += 1
            continue
        head = lead if lead.endswith(":") else f"{lead}:"
        parts: list[list[tuple[int, int]]] = [[]]
        for item in items:
            if parts[-1] and len(_list_text(text, head, [*parts[-1], item]).split()) > max_words:
                parts.append([])
            parts[-1].append(item)
        for n, part in enumerate(parts):
            out.append((start if n == 0 else part[0][0], part[-1][1], _list_text(text, head, part)))
        i = j
    return out


def _list_text(text: str, head: str, items: list[tuple[int, int]]) -> str:
    parts = [text[a:b].strip().rstrip(".;,") for a, b in items]
    return f"{head} {'; '.join(p for p in parts if p)}."


def _next_start(units: list[Unit], i: int, j: int, settings: ChunkingSettings) -> int:
    """Where the chunk after ``units[i:j]`` starts: up to ``overlap_sentences`` units back,
    but only as many as still fit beside the first new unit ``units[j]`` (so a chunk never
    merely repeats the end of the previous one)."""
    start = max(j - settings.overlap_sentences, i + 1)

    def count(k: int) -> int:
        return len(units[k][2].split())

    while start < j and sum(count(k) for k in range(start, j + 1)) > settings.max_words:
        start += 1
    return start


def chunk_document(doc: SourceDoc, settings: ChunkingSettings) -> list[Chunk]:
    """Split each section into chunks of whole sentences of at most ``max_words`` words.

    A chunk never crosses a section boundary; it keeps the section heading, its character
    offsets in the section text, and repeats the last ``overlap_sentences`` sentences of the
    previous chunk of the same section for context.
    """
    chunks: list[Chunk] = []
    seen: dict[str, int] = {}
    skip = {h.lower() for h in settings.skip_sections}
    for section_index, section in enumerate(doc.sections):
        text = normalize(section.text)
        if not text or section.heading.strip().lower() in skip:
            continue
        units = _units(text, settings.max_words)
        i = 0
        while i < len(units):
            j, words = i, 0
            while j < len(units):
                n = len(units[j][2].split())
                if j > i and words + n > settings.max_words:
                    break
                words += n
                j += 1
            start, end = units[i][0], units[j - 1][1]
            body = "\n".join(u[2] for u in units[i:j])
            key = (section.heading, body)
            occurrence = seen.get(str(key), 0)
            seen[str(key)] = occurrence + 1
            chunks.append(
                Chunk(
                    chunk_id=chunk_id(doc.source_id, section.heading, body, occurrence),
                    source_id=doc.source_id,
                    text=body,
                    heading=section.heading,
                    section_index=section_index,
                    ordinal=len(chunks),
                    start=start,
                    end=end,
                )
            )
            if j >= len(units):
                break
            i = _next_start(units, i, j, settings)
    return chunks


def embedding_text(chunk: Chunk, title: str) -> str:
    """What is embedded and indexed: the source title and heading give the chunk its context."""
    head = f"{title}. {chunk.heading}." if chunk.heading else f"{title}."
    return f"{head}\n{chunk.text}"
