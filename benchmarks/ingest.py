"""Ingest benchmark: the whole pipeline against the embedding model alone, in one process.

On a slice of PubMedQA dev contexts (../shared/datasets/pubmedqa/pqal.jsonl) it

1. loads the embedder once (timed on its own) and warms it up on a few texts;
2. runs ``ingest()`` into a fresh temporary data directory with that embedder, timed;
3. times the same model encoding exactly the texts the pipeline embedded (every chunk text
   and every unit text: ingest embeds both), in the same encode calls, same batch size;

and prints docs/s, chunks/s, both wall times and the ratio pipeline / embedding-only
(target <= 1.3), as a table or as JSON (``--json``).

    python benchmarks/ingest.py [--docs 200] [--repeat 1] [--json] [--check]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

from langchain_core.embeddings import Embeddings  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
TARGET_RATIO = 1.3


def default_dataset() -> Path:
    shared = Path(os.environ.get("ASSISTANT_SHARED_DIR", REPO.parent / "shared"))
    return shared / "datasets" / "pubmedqa" / "pqal.jsonl"


class TimedEmbeddings(Embeddings):
    """Wraps an embedder, adds up the wall time spent inside it and keeps every call's texts
    (chunk texts and unit texts alike), so the baseline can replay exactly the same calls."""

    def __init__(self, inner: Embeddings) -> None:
        self.inner = inner
        self.seconds = 0.0
        self.calls: list[list[str]] = []

    @property
    def texts(self) -> int:
        return sum(len(c) for c in self.calls)

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        start = time.perf_counter()
        try:
            return self.inner.embed_documents(texts)
        finally:
            self.seconds += time.perf_counter() - start
            self.calls.append(list(texts))

    def embed_query(self, text: str) -> list[float]:
        return self.inner.embed_query(text)


def dev_slice(path: Path, n_docs: int) -> list[dict[str, Any]]:
    if not path.is_file():
        raise SystemExit(f"dataset not found: {path} (set --dataset or ASSISTANT_SHARED_DIR)")
    rows: list[dict[str, Any]] = []
    with path.open(encoding="utf-8") as fh:
        for line in fh:
            row = json.loads(line)
            if row.get("split") == "dev":
                rows.append(row)
                if len(rows) == n_docs:
                    break
    return rows


def write_library(rows: Sequence[dict[str, Any]], directory: Path) -> Path:
    """The contexts as a JSONL library (no question, no answer), one record per article."""
    directory.mkdir(parents=True, exist_ok=True)
    target = directory / "pubmedqa-dev.jsonl"
    with target.open("w", encoding="utf-8") as fh:
        for row in rows:
            record = {"id": row["pmid"], "title": f"PubMed {row['pmid']}", "text": row["contexts"]}
            fh.write(json.dumps(record, ensure_ascii=False) + "\n")
    return target


def run_once(
    library_file: Path, embedder: Embeddings, work: Path, round_no: int, progress: bool
) -> dict[str, Any]:
    from assistant.config import load_settings
    from assistant.ingest.pipeline import ingest
    from assistant.ingest.store import Library

    settings = load_settings(data_dir=work / f"data-{round_no}")
    timed = TimedEmbeddings(embedder)
    library = Library(settings, embeddings=timed)
    try:
        start = time.perf_counter()
        report = ingest([library_file], settings, library=library, progress=progress)
        pipeline_s = time.perf_counter() - start
        chunks = library.manifest.count_chunks()
    finally:
        library.close()
    if report.skipped or report.warnings:
        raise SystemExit(f"the benchmark library did not load cleanly: {report.text()}")

    # the baseline: the model alone on the very texts the pipeline embedded (chunk texts and
    # unit texts), in the same encode calls
    start = time.perf_counter()
    for call in timed.calls:
        vectors = embedder.embed_documents(call)
        assert len(vectors) == len(call)
    embed_only_s = time.perf_counter() - start
    return {
        "docs": len(report.added),
        "chunks": chunks,
        "texts": timed.texts,
        "encode_calls": len(timed.calls),
        "pipeline_s": pipeline_s,
        "pipeline_embed_s": timed.seconds,
        "embed_only_s": embed_only_s,
    }


def benchmark(n_docs: int, dataset: Path, repeat: int, progress: bool = False) -> dict[str, Any]:
    from assistant.config import EmbeddingSettings
    from assistant.models import get_embeddings

    rows = dev_slice(dataset, n_docs)
    embedding_settings = EmbeddingSettings()
    start = time.perf_counter()
    embedder = get_embeddings(embedding_settings)
    load_s = time.perf_counter() - start
    embedder.embed_documents([" ".join(r["contexts"])[:800] for r in rows[:8]])  # warm-up

    runs: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="ingest-bench-") as tmp:
        work = Path(tmp)
        library_file = write_library(rows, work / "library")
        for round_no in range(repeat):
            runs.append(run_once(library_file, embedder, work, round_no, progress))

    pipeline_s = statistics.median(r["pipeline_s"] for r in runs)
    embed_only_s = statistics.median(r["embed_only_s"] for r in runs)
    pipeline_embed_s = statistics.median(r["pipeline_embed_s"] for r in runs)
    docs, chunks, texts = runs[0]["docs"], runs[0]["chunks"], runs[0]["texts"]
    ratio = pipeline_s / embed_only_s
    return {
        "dataset": str(dataset),
        "docs": docs,
        "chunks": chunks,
        "embedded_texts": texts,
        "progress_bar": progress,
        "repeat": repeat,
        "batch_size": embedding_settings.batch_size,
        "model_load_s": round(load_s, 3),
        "pipeline_s": round(pipeline_s, 3),
        "pipeline_embed_s": round(pipeline_embed_s, 3),
        "pipeline_other_s": round(pipeline_s - pipeline_embed_s, 3),
        "embed_only_s": round(embed_only_s, 3),
        "docs_per_s": round(docs / pipeline_s, 2),
        "chunks_per_s": round(chunks / pipeline_s, 2),
        "embed_only_chunks_per_s": round(chunks / embed_only_s, 2),
        "embed_only_texts_per_s": round(texts / embed_only_s, 2),
        "ratio": round(ratio, 3),
        "target_ratio": TARGET_RATIO,
        "ok": ratio <= TARGET_RATIO,
        "runs": [
            {k: round(v, 3) if isinstance(v, float) else v for k, v in r.items()} for r in runs
        ],
        "cpus": os.cpu_count(),
        "load_avg_1m": round(os.getloadavg()[0], 2) if hasattr(os, "getloadavg") else None,
    }


def table(result: dict[str, Any]) -> str:
    verdict = "OK" if result["ok"] else "ABOVE TARGET"
    rows = [
        f"ingest benchmark: {result['docs']} PubMedQA dev docs -> {result['chunks']} chunks; "
        f"{result['embedded_texts']} texts embedded (chunks + their units) "
        f"(batch size {result['batch_size']}, median of {result['repeat']} run(s))",
        f"  {'model load':<28}{result['model_load_s']:>8.2f} s",
        f"  {'pipeline (ingest)':<28}{result['pipeline_s']:>8.2f} s"
        f"   {result['docs_per_s']:>6.2f} docs/s   {result['chunks_per_s']:>6.2f} chunks/s",
        f"  {'  of which embedding':<28}{result['pipeline_embed_s']:>8.2f} s",
        f"  {'  everything else':<28}{result['pipeline_other_s']:>8.2f} s",
        f"  {'model alone, same texts':<28}{result['embed_only_s']:>8.2f} s"
        f"   {result['embed_only_texts_per_s']:>6.2f} texts/s "
        f"{result['embed_only_chunks_per_s']:>6.2f} chunks/s",
        f"  {'ratio pipeline / embedding':<28}{result['ratio']:>8.3f}"
        f"     target <= {result['target_ratio']}: {verdict}",
        f"  (cpus {result['cpus']}, load average {result['load_avg_1m']})",
    ]
    return "\n".join(rows)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--docs", type=int, default=200, help="PubMedQA dev docs (default 200)")
    parser.add_argument("--dataset", type=Path, default=None, help="path to pqal.jsonl")
    parser.add_argument("--repeat", type=int, default=1, help="runs; medians are reported")
    parser.add_argument("--json", action="store_true", help="print JSON only")
    parser.add_argument("--progress", action="store_true", help="ingest with its progress bar")
    parser.add_argument("--check", action="store_true", help="exit 1 if the ratio is above 1.3")
    args = parser.parse_args(argv)
    if args.docs < 1 or args.repeat < 1:
        parser.error("--docs and --repeat must be at least 1")
    result = benchmark(args.docs, args.dataset or default_dataset(), args.repeat, args.progress)
    print(json.dumps(result, indent=2) if args.json else table(result))
    return 1 if args.check and not result["ok"] else 0


if __name__ == "__main__":
    sys.exit(main())
