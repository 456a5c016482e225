"""Dataset adapters: each turns a gold file into eval items (and, for public data sets, the
source documents its questions are asked against).

The public data sets live in ``../shared/datasets`` (override with ``--datasets-dir`` or
``ASSISTANT_SHARED_DIR``). Their documents are indexed in a data directory of their own
(see ``evals.library``), never in the built-in library.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from assistant.text import slugify
from assistant.types import DocSection, SourceDoc

REPO = Path(__file__).resolve().parents[1]
DATASETS = ("pubmedqa", "medquad", "mirage-pubmedqa", "mirage-bioasq")
SPLITS = ("dev", "test")
MEDQUAD_SOURCES = 1000
"""Answers indexed from MedQuAD by default (a seeded sample; gold items come from it)."""


class DatasetUnavailable(RuntimeError):
    """A data set file is absent or unusable; the message says what is missing (exit code 2)."""


@dataclass(frozen=True)
class EvalItem:
    """One question to ask, with what a good answer should contain."""

    id: str
    question: str
    turns: tuple[str, ...] = ()
    category: str = ""
    split: str = ""
    audience: str | None = None
    gold_sources: tuple[str, ...] = ()
    key_facts: tuple[str, ...] = ()
    gold_answer: str | None = None
    should_abstain: bool = False


@dataclass
class Dataset:
    """Items plus the library they are asked against.

    ``docs is None`` means the built-in library (``corpus/``). Otherwise ``index_key`` names the
    separate index and ``index_inputs`` / ``index_params`` are hashed into its directory name.
    """

    name: str
    items: list[EvalItem]
    docs: list[SourceDoc] | None = None
    index_key: str = ""
    index_inputs: list[Path] = field(default_factory=list)
    index_params: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


def datasets_dir(explicit: Path | None = None) -> Path:
    if explicit is not None:
        return explicit
    shared = os.environ.get("ASSISTANT_SHARED_DIR")
    return (Path(shared) if shared else REPO.parent / "shared") / "datasets"


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    if not path.is_file():
        raise DatasetUnavailable(f"data set file not found: {path}")
    rows = []
    with path.open(encoding="utf-8") as fh:
        for n, line in enumerate(fh, start=1):
            if line.strip():
                try:
                    rows.append(json.loads(line))
                except json.JSONDecodeError as exc:
                    raise DatasetUnavailable(f"{path}:{n} is not valid JSON: {exc.msg}") from exc
    return rows


def select(
    items: Sequence[EvalItem], split: str | None, limit: int | None, seed: int
) -> list[EvalItem]:
    """Items of ``split`` (all when None); with ``limit``, a seeded sample kept in file order."""
    chosen = [it for it in items if split is None or it.split == split]
    if limit is not None and 0 <= limit < len(chosen):
        keep = sorted(random.Random(seed).sample(range(len(chosen)), limit))
        chosen = [chosen[i] for i in keep]
    return chosen


# --------------------------------------------------------------------------- in-house gold


def load_gold(path: Path, datasets: Path | None = None) -> Dataset:
    """The in-house JSONL gold set (fields: id, category, split, turns, question, audience,
    expected_sources, key_facts, should_abstain, note).

    It is asked against the built-in library, unless a library spec sits beside it
    (``<name>-gold.jsonl`` -> ``<name>-library.yaml``, see ``evals.libspec``): then against
    that library, built from the data sets in ``datasets`` (default ``datasets_dir()``)."""
    items = []
    for row in read_jsonl(path):
        items.append(
            EvalItem(
                id=str(row["id"]),
                question=row["question"],
                turns=tuple(row.get("turns") or ()),
                category=row.get("category", ""),
                split=row.get("split", ""),
                audience=row.get("audience"),
                gold_sources=tuple(row.get("expected_sources") or ()),
                key_facts=tuple(row.get("key_facts") or ()),
                should_abstain=bool(row.get("should_abstain")),
            )
        )
    name = f"gold:{path.name}"
    spec = library_spec_of(path)
    if spec is None:
        return Dataset(name=name, items=items)
    from evals.libspec import load_library

    lib = load_library(spec, datasets_dir(datasets))
    params = {"spec": spec.name, "docs": lib.digest}
    return Dataset(name, items, lib.docs, f"gold-{lib.name}", [], params, lib.notes)


def library_spec_of(gold: Path) -> Path | None:
    """The library spec paired with a gold file, if there is one."""
    stem = gold.name.removesuffix(".jsonl").removesuffix("-gold")
    spec = gold.with_name(f"{stem}-library.yaml")
    return spec if spec.is_file() else None


# --------------------------------------------------------------------------- PubMedQA


def pubmedqa_doc(row: dict[str, Any], *, conclusion: bool = False) -> SourceDoc:
    """An item's contexts as a source. Never the question (it paraphrases the article title).
    ``long_answer`` (the abstract's conclusion) is left out unless ``conclusion``: it is the
    PubMedQA gold answer, but a library of real abstracts (``load_gold`` with a library spec)
    holds the whole abstract, so there it is a final CONCLUSIONS section."""
    pmid = str(row["pmid"])
    labels = row.get("context_labels") or [""] * len(row["contexts"])
    sections = [
        DocSection(heading=str(label), text=str(text))
        for label, text in zip(labels, row["contexts"], strict=True)
        if str(text).strip()
    ]
    if conclusion and str(row.get("long_answer") or "").strip():
        sections.append(DocSection(heading="CONCLUSIONS", text=str(row["long_answer"])))
    return SourceDoc(
        source_id=pmid,
        title=f"PubMed {pmid}",
        year=row.get("year"),
        pmid=pmid,
        evidence_type="other",
        mesh=list(row.get("meshes") or []),
        sections=sections,
    )


def _pubmedqa_index(base: Path) -> tuple[Path, list[dict[str, Any]], list[SourceDoc]]:
    path = base / "pubmedqa" / "pqal.jsonl"
    rows = read_jsonl(path)
    return path, rows, [pubmedqa_doc(r) for r in rows]


def load_pubmedqa(base: Path) -> Dataset:
    """All 1,000 PQA-L items are indexed (whatever split or limit restricts the questions), so
    each question has 999 distractors. Gold: the item's own PMID and its ``long_answer``."""
    path, rows, docs = _pubmedqa_index(base)
    items = [
        EvalItem(
            id=str(r["pmid"]),
            question=r["question"],
            category=r.get("final_decision", ""),
            split=r.get("split", ""),
            gold_sources=(str(r["pmid"]),),
            gold_answer=r.get("long_answer"),
        )
        for r in rows
    ]
    notes = [
        "Index: the contexts of all 1,000 PubMedQA (PQA-L) items, without their conclusions; "
        "titles are 'PubMed <PMID>' because the questions paraphrase the real titles.",
        "Category = the expert yes/no/maybe label (the extractive composer does not decide it).",
    ]
    return Dataset("pubmedqa", items, docs, "pubmedqa", [path], {}, notes)


def load_mirage(base: Path, part: str) -> Dataset:
    """MIRAGE PubMedQA* (or BioASQ-Y/N) questions with gold PMIDs, retrieved over the PubMedQA
    index; questions whose gold PMIDs are not indexed at all are left out."""
    path = base / "mirage" / f"{part}.jsonl"
    if not path.is_file():
        why = (
            "MIRAGE's BioASQ-Y/N part is not kept in ../shared/datasets (unclear redistribution "
            "terms, and no corpus here holds its gold abstracts); see datasets/bioasq/README.md"
            if part == "bioasq"
            else "the MIRAGE file is missing"
        )
        raise DatasetUnavailable(f"{path} is absent: {why}")
    index_path, _, docs = _pubmedqa_index(base)
    available = {d.source_id for d in docs}
    items = []
    skipped = 0
    for r in read_jsonl(path):
        gold = tuple(p for p in map(str, r.get("pmids") or ()) if p in available)
        if not gold:
            skipped += 1
            continue
        items.append(
            EvalItem(
                id=str(r["id"]),
                question=r["question"],
                category=r.get("answer_text", ""),
                split="test",
                gold_sources=gold,
            )
        )
    notes = [
        "Retrieval runs over the 1,000 PubMedQA contexts, which hold every gold abstract: this "
        "is much easier than MIRAGE's setting (all of PubMed), so the numbers are not comparable "
        "with MIRAGE/MedRAG's published accuracies.",
        f"{skipped} question(s) left out because none of their gold PMIDs is indexed.",
    ]
    return Dataset(f"mirage-{part}", items, docs, "pubmedqa", [index_path], {}, notes)


# --------------------------------------------------------------------------- MedQuAD


def _split_of(key: str) -> str:
    """A stable dev/test split by page (MedQuAD has none): parity of sha1(url)."""
    return "test" if int(hashlib.sha1(key.encode()).hexdigest(), 16) % 2 else "dev"


def medquad_doc(row: dict[str, Any]) -> SourceDoc:
    title = " - ".join(x for x in (row.get("focus", "").strip(), row.get("qtype", "")) if x)
    return SourceDoc(
        source_id=row["uid"],
        title=title or row["uid"],
        link=row.get("url") or None,
        evidence_type="other",
        sections=[DocSection(text=row["answer"])],
    )


MEDQUAD_HEADINGS = {
    "information": "Information",
    "symptoms": "Symptoms",
    "treatment": "Treatment",
    "inheritance": "Inheritance",
    "frequency": "Frequency",
    "genetic changes": "Genetic changes",
    "causes": "Causes",
    "exams and tests": "Exams and tests",
    "research": "Research",
    "outlook": "Outlook",
    "susceptibility": "Who is at risk",
    "considerations": "Considerations",
    "prevention": "Prevention",
    "stages": "Stages",
    "complications": "Complications",
    "support groups": "Support groups",
}
"""Section heading per MedQuAD question type. The templated question itself ("What is (are)
X ?") is never used: it is not page text, and it would hand retrieval the query's wording."""
_HOST_NOISE = frozenset({"www", "gov", "nih", "info", "nlm", "rarediseases"})
_PATH_NOISE = frozenset(
    {"health-information", "health-topics", "health", "topics", "pages", "disorders", "condition"}
)
_URL_FILES = frozenset({"index", "facts", "fact-sheet", "toc", "publicationdetail"})


def medquad_page_id(url: str) -> str:
    """A stable, readable slug of a MedQuAD page url: the site (host labels without 'www',
    'nih', 'gov' ...), then the path without boilerplate ('health-topics', 'Pages',
    'index.aspx'), numeric ids and a file name repeating its folder; e.g.
    ``http://nihseniorhealth.gov/glaucoma/toc.html`` -> ``nihseniorhealth-glaucoma``."""
    rest = url.split("://", 1)[-1]
    host, _, path = rest.partition("/")
    parts = [x for x in host.lower().split(".") if x not in _HOST_NOISE]
    for segment in path.replace("#", "/").split("/"):
        stem = (segment.rsplit(".", 1)[0] if "." in segment else segment).lower()
        if not stem or stem.isdigit() or stem in _PATH_NOISE or stem in _URL_FILES:
            continue
        if parts and parts[-1].startswith(stem):
            continue
        parts.append(stem)
    return slugify("-".join(parts), 80)


def medquad_page_doc(rows: Sequence[dict[str, Any]]) -> SourceDoc:
    """All QA pairs of one MedQuAD page (one url) as one source: one section per answer, headed
    by its question type (``MEDQUAD_HEADINGS``), in ``uid`` order; an answer repeated on the
    page is kept once. Title = the page's focus, link = url, source_id = ``medquad_page_id``."""
    ordered = sorted(rows, key=lambda r: _uid_key(r["uid"]))
    first = ordered[0]
    seen: set[str] = set()
    sections = []
    for r in ordered:
        text = str(r.get("answer", "")).strip()
        if not text or text in seen:
            continue
        seen.add(text)
        qtype = str(r.get("qtype", "")).strip().lower()
        sections.append(DocSection(heading=MEDQUAD_HEADINGS.get(qtype, qtype.title()), text=text))
    url = str(first["url"])
    return SourceDoc(
        source_id=medquad_page_id(url),
        title=str(first.get("focus") or "").strip() or url,
        link=url,
        evidence_type="patient-information",
        provenance=f"MedQuAD ({first.get('source', '')}), CC BY 4.0",
        sections=sections,
    )


def _uid_key(uid: str) -> tuple[str, int]:
    """``folder/file#7`` sorts before ``folder/file#12``."""
    page, _, pid = uid.partition("#")
    return page, int(pid) if pid.isdigit() else 0


def load_medquad(base: Path, n_sources: int, seed: int) -> Dataset:
    """A seeded sample of ``n_sources`` answers is indexed (source_id = uid, link = url); the
    questions of the sampled answers are the queries. Identical questions are asked once, with
    every sampled answer to that question as a gold source."""
    path = base / "medquad" / "medquad.jsonl"
    rows = sorted(
        (r for r in read_jsonl(path) if str(r.get("answer", "")).strip()), key=lambda r: r["uid"]
    )
    if n_sources < len(rows):
        keep = sorted(random.Random(seed).sample(range(len(rows)), n_sources))
        rows = [rows[i] for i in keep]
    by_question: dict[str, list[dict[str, Any]]] = {}
    for r in rows:
        by_question.setdefault(" ".join(r["question"].lower().split()), []).append(r)
    items = []
    for group in by_question.values():
        first = group[0]
        items.append(
            EvalItem(
                id=first["uid"],
                question=first["question"],
                category=first.get("qtype", ""),
                split=_split_of(first.get("url") or first["uid"]),
                gold_sources=tuple(r["uid"] for r in group),
                gold_answer=first["answer"],
            )
        )
    items.sort(key=lambda it: it.id)
    notes = [
        f"Index: {len(rows)} MedQuAD answers sampled with seed {seed} (of 16,407); questions "
        "come from the sampled answers. MedQuAD is CC BY 4.0 (Ben Abacha & Demner-Fushman 2019).",
        "MedQuAD has no split: dev/test here is the parity of sha1(url), so pages never straddle.",
    ]
    params = {"sources": n_sources, "seed": seed}
    docs = [medquad_doc(r) for r in rows]
    return Dataset("medquad", items, docs, "medquad", [path], params, notes)


def load_dataset(name: str, base: Path, *, seed: int = 0, sources: int | None = None) -> Dataset:
    """The adapter for ``name`` (one of DATASETS)."""
    if name == "pubmedqa":
        return load_pubmedqa(base)
    if name == "medquad":
        return load_medquad(base, sources or MEDQUAD_SOURCES, seed)
    if name in ("mirage-pubmedqa", "mirage-bioasq"):
        return load_mirage(base, name.removeprefix("mirage-"))
    raise DatasetUnavailable(f"unknown data set {name!r}; choose from {', '.join(DATASETS)}")


def unique(values: Iterable[str]) -> list[str]:
    """Values in first-seen order, duplicates dropped."""
    return list(dict.fromkeys(values))
