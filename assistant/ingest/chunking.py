"""Section-aware chunking sized for the 256-token window of all-MiniLM-L6-v2."""

from __future__ import annotations

import hashlib

from assistant.config import ChunkingSettings
from assistant.text import normalize, split_sentences
from assistant.types import Chunk, SourceDoc


def chunk_id(source_id: str, heading: str, text: str, occurrence: int) -> str:
    """Stable id from content: the same text in the same place of the same source keeps its id."""
    key = "\x1f".join([source_id, heading, text, str(occurrence)])
    return hashlib.sha1(key.encode()).hexdigest()[:24]


def _units(text: str, max_words: int) -> list[tuple[int, int]]:
    """Sentence spans; a sentence longer than ``max_words`` is cut at word boundaries."""
    out: list[tuple[int, int]] = []
    for start, end in split_sentences(text):
        piece = text[start:end]
        if len(piece.split()) <= max_words:
            out.append((start, end))
            continue
        cursor, count, cut_start = start, 0, start
        for word in piece.split():
            pos = text.index(word, cursor)
            cursor = pos + len(word)
            count += 1
            if count == max_words:
                out.append((cut_start, cursor))
                cut_start, count = cursor + 1, 0
        if cut_start < end:
            out.append((cut_start, end))
    return out


def _next_start(
    text: str, units: list[tuple[int, int]], i: int, j: int, settings: ChunkingSettings
) -> int:
    """Where the chunk after ``units[i:j]`` starts: up to ``overlap_sentences`` units back,
    but only as many as still fit beside the first new unit ``units[j]`` (so a chunk never
    merely repeats the end of the previous one)."""
    start = max(j - settings.overlap_sentences, i + 1)

    def count(k: int) -> int:
        return len(text[units[k][0] : units[k][1]].split())

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
                n = len(text[units[j][0] : units[j][1]].split())
                if j > i and words + n > settings.max_words:
                    break
                words += n
                j += 1
            start, end = units[i][0], units[j - 1][1]
            body = "\n".join(text[a:b].strip() for a, b in units[i:j])
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
            i = _next_start(text, units, i, j, settings)
    return chunks


def embedding_text(chunk: Chunk, title: str) -> str:
    """What is embedded and indexed: the source title and heading give the chunk its context."""
    head = f"{title}. {chunk.heading}." if chunk.heading else f"{title}."
    return f"{head}\n{chunk.text}"
