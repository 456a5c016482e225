"""Hand-built evidence for the ask unit tests (no model, no index)."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable

import numpy as np
import pytest

from assistant.ask.question import Idf, QuestionProfile, profile_question
from assistant.config import ChunkingSettings
from assistant.ingest.chunking import chunk_document
from assistant.text import lexical_tokens
from assistant.types import Chunk, DocSection, Evidence, SourceDoc, SourceRef
from assistant.vocab.extract import source_terms_json
from assistant.vocab.library import LibraryVocabulary, build_vocabulary


def make_evidence(
    source_id: str,
    text: str,
    *,
    ordinal: int = 0,
    evidence_type: str = "case-series",
    year: int | None = 2020,
    rank: int = 1,
    title: str | None = None,
    heading: str = "Findings",
) -> Evidence:
    """One retrieved chunk of a made-up source."""
    return Evidence(
        chunk=Chunk(
            chunk_id=f"{source_id}#{ordinal}",
            source_id=source_id,
            text=text,
            heading=heading,
            ordinal=ordinal,
        ),
        source=SourceRef(
            source_id=source_id,
            title=title or f"Title of {source_id}",
            authors=["Doe J", "Roe R"],
            journal="J Test",
            year=year,
            pmid="123456",
            doi="10.1000/test",
            evidence_type=evidence_type,
        ),
        fused_score=1.0 / rank,
        rank=rank,
    )


@pytest.fixture
def ev() -> Callable[..., Evidence]:
    """``ev(source_id, text, **kw)`` -> Evidence (see ``make_evidence``)."""
    return make_evidence


# -- a small two-topic library, read into a vocabulary the way ingest does it -----------

TEXTS: dict[str, list[str]] = {
    "anakinra-hlh": [
        "Patients with secondary hemophagocytic lymphohistiocytosis (HLH) were treated with "
        "anakinra.",
        "Anakinra was effective in 19 of 21 patients with secondary HLH.",
        "Anakinra therapy was stopped for adverse effects in 3 patients.",
        "Children with HLH who received anakinra early survived more often.",
    ],
    "emapalumab-hlh": [
        "Children with primary HLH were treated with emapalumab.",
        "Emapalumab therapy gave an overall response of 63% in patients with primary HLH.",
    ],
    "etoposide-hlh": [
        "Adults with HLH were treated with etoposide and dexamethasone.",
        "Etoposide therapy improved survival in adults with secondary HLH.",
        "Malignancy causes HLH in many adults.",
    ],
    "gestational-diabetes": [
        "Women with gestational diabetes are treated with insulin when diet fails.",
        "Patients with gestational diabetes may take metformin.",
        "Metformin therapy can cause nausea and diarrhoea.",
        "Gestational diabetes raises the risk of type 2 diabetes later in life.",
    ],
    "glaucoma": [
        "Glaucoma is a disease that damages the optic nerve.",
        "People with glaucoma are treated with eye drops or laser surgery.",
        "Glaucoma often has no symptoms at first.",
    ],
    "pregabalin": [
        "Pregabalin therapy is used in patients with neuropathic pain.",
        "Patients treated with pregabalin reported dizziness.",
    ],
}


def library_docs(texts: dict[str, list[str]] = TEXTS) -> list[tuple[SourceDoc, list[Chunk]]]:
    out = []
    for sid, lines in texts.items():
        doc = SourceDoc(
            source_id=sid,
            title=sid.replace("-", " "),
            sections=[DocSection(heading="Findings", text="\n".join(f"- {x}" for x in lines))],
        )
        out.append((doc, chunk_document(doc, ChunkingSettings())))
    return out


def vocabulary(texts: dict[str, list[str]] = TEXTS) -> LibraryVocabulary:
    rows = [
        (doc.source_id, source_terms_json(doc, chunks), "{}") for doc, chunks in library_docs(texts)
    ]
    return build_vocabulary(rows, "test")


def idf(texts: dict[str, list[str]] = TEXTS) -> Idf:
    df: Counter[str] = Counter()
    n = 0
    for _, chunks in library_docs(texts):
        for chunk in chunks:
            n += 1
            df.update(set(lexical_tokens(chunk.text)))
    return Idf(dict(df), n)


@pytest.fixture(scope="session")
def analyze() -> Callable[[str], QuestionProfile]:
    """``analyze(text)`` -> the question profile, read with the small two-topic library's
    vocabulary (built from its texts the way ingest builds it)."""
    vocab, table = vocabulary(), idf()
    return lambda text: profile_question(text, vocab, table)


@pytest.fixture(scope="session")
def analyze_in() -> Callable[[dict[str, list[str]]], Callable[[str], QuestionProfile]]:
    """``analyze_in(texts)(question)`` -> the question profile, read with the vocabulary of a
    library made of ``texts`` ({source id: lines}) instead of the two-topic one."""

    def library(texts: dict[str, list[str]]) -> Callable[[str], QuestionProfile]:
        vocab, table = vocabulary(texts), idf(texts)
        return lambda text: profile_question(text, vocab, table)

    return library


def terms_of(doc_id: str) -> dict:
    for doc, chunks in library_docs():
        if doc.source_id == doc_id:
            return json.loads(source_terms_json(doc, chunks))
    raise KeyError(doc_id)


# -- hand-built units of retrieved chunks (no model: vectors are made up) ------------------------


class EvidenceKit:
    """Build retrieved chunks with their units' roles and vectors for candidate tests."""

    DIM = 8
    E = np.eye(8, dtype=np.float32)

    def chunk(
        self,
        sid: str,
        lines: list[str],
        roles: list[str] | None = None,
        vectors: list[np.ndarray] | None = None,
        rank: int = 1,
        evidence_type: str = "other",
        heading: str = "",
        title: str | None = None,
    ) -> tuple[Evidence, list[tuple[str, np.ndarray]]]:
        text = "\n".join(lines)
        c = Chunk(chunk_id=f"{sid}#{rank}", source_id=sid, text=text, heading=heading)
        ref = SourceRef(
            source_id=sid, title=title or sid.replace("-", " "), evidence_type=evidence_type
        )
        roles = roles or ["results"] * len(lines)
        vectors = vectors if vectors is not None else [self.E[0]] * len(lines)
        return Evidence(chunk=c, source=ref, rank=rank), list(zip(roles, vectors, strict=True))

    @staticmethod
    def build(*parts: tuple[Evidence, list]) -> tuple[list[Evidence], dict]:
        return [p[0] for p in parts], {p[0].chunk.chunk_id: p[1] for p in parts}

    def near(self, k: int) -> np.ndarray:
        """A unit vector at cosine 0.71 to the query (E[0]) and 0.5 to any other near(j)."""
        v = self.E[0] + self.E[k]
        return v / np.linalg.norm(v)


@pytest.fixture
def evidence_kit() -> EvidenceKit:
    return EvidenceKit()
