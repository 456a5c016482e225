"""Run the real chain over eval items, beside two baselines, and write the run's artifacts.

Per item: the earlier turns of a conversation are asked first through a ``Conversation`` (as a
user would), then the question; the last answer is scored. In the same loop two baselines
retrieve for the same question: BM25 alone (``library.lexical.search``) and dense alone (plain
langchain-chroma ``similarity_search``). A baseline's query is the earlier user turns and the
question joined (it has no condensing step); its naive answer cites the sources of its top-3
chunks.
"""

from __future__ import annotations

import json
import platform
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from assistant.ask.chain import AskChain
from assistant.ask.session import Conversation
from assistant.config import Settings
from assistant.ingest.store import Library
from evals import metrics as m
from evals.datasets import Dataset, EvalItem, unique
from evals.library import Prepared, prepare
from evals.report import write_report
from evals.scoring import SUPPORT_THRESHOLD, Context, Encoder
from evals.systems import NAIVE_CITED_CHUNKS, SYSTEMS

KEEP_SOURCES = 20


@dataclass
class RunConfig:
    out: Path
    split: str | None = None
    limit: int | None = None
    seed: int = 0
    baseline_k: int = 40
    judge: str | None = None
    support_threshold: float = SUPPORT_THRESHOLD
    progress: bool = True
    corpus: Path | None = None
    command: list[str] = field(default_factory=list)


def source_ids(library: Library, chunk_ids: Sequence[str]) -> list[str]:
    """Chunk ids -> their source ids, deduplicated in rank order."""
    chunks = library.manifest.chunks(chunk_ids)
    return unique(chunks[c].source_id for c in chunk_ids if c in chunks)


def _system(library: Library, chunk_ids: list[str]) -> dict[str, list[str]]:
    return {
        "sources": source_ids(library, chunk_ids)[:KEEP_SOURCES],
        "cited": source_ids(library, chunk_ids[:NAIVE_CITED_CHUNKS]),
    }


def baselines(library: Library, query: str, k: int) -> tuple[dict[str, Any], dict[str, float]]:
    """BM25 alone and dense alone for ``query``: ranked sources, naive citations, timings."""
    t0 = time.perf_counter()
    lexical = [cid for cid, _ in library.lexical.search(query, k)]
    t1 = time.perf_counter()
    docs = library.dense.store.similarity_search(query, k=k)
    dense = [str(d.id) for d in docs if d.id]
    t2 = time.perf_counter()
    systems = {"bm25": _system(library, lexical), "dense": _system(library, dense)}
    timings = {"bm25": round((t1 - t0) * 1000, 2), "dense": round((t2 - t1) * 1000, 2)}
    return systems, timings


def run_item(chain: AskChain, library: Library, item: EvalItem, k: int) -> dict[str, Any]:
    """Ask one item (its earlier turns first) and collect everything the metrics need."""
    record: dict[str, Any] = {
        "id": item.id,
        "category": item.category,
        "split": item.split,
        "question": item.question,
        "turns": list(item.turns),
        "audience": item.audience,
        "gold": {
            "sources": list(item.gold_sources),
            "key_facts": list(item.key_facts),
            "answer": item.gold_answer,
            "should_abstain": item.should_abstain,
        },
        "error": None,
    }
    timings: dict[str, Any] = {}
    try:
        conversation = Conversation()
        earlier = [conversation.ask(chain, turn, item.audience) for turn in item.turns]
        answer = conversation.ask(chain, item.question, item.audience)
    except Exception as exc:  # recorded and scored as a failure; the run goes on
        record["error"] = f"{type(exc).__name__}: {exc}"
        record.update(standalone_question=None, answer=None, retrieved_ids=[])
        record["systems"] = {"ours": {"sources": [], "cited": []}}
    else:
        record["standalone_question"] = answer.standalone_question
        record["answer"] = answer.model_dump(mode="json", exclude={"timings_ms"})
        record["retrieved_ids"] = list(answer.retrieved_ids)
        ours = source_ids(library, answer.retrieved_ids)[:KEEP_SOURCES]
        record["systems"] = {"ours": {"sources": ours, "cited": answer.cited_source_ids()}}
        timings["ask"] = answer.timings_ms
        timings["earlier_turns_ms"] = [a.timings_ms.get("total") for a in earlier]
    query = " ".join([*item.turns, item.question])
    systems, base_ms = baselines(library, query, k)
    record["systems"].update(systems)
    timings.update({f"{name}_ms": ms for name, ms in base_ms.items()})
    record["timings_ms"] = timings
    return record


def _git_commit() -> str | None:
    try:
        out = subprocess.run(
            ["git", "describe", "--always", "--dirty"],
            capture_output=True,
            text=True,
            timeout=5,
            cwd=Path(__file__).resolve().parents[1],
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None


def score(
    records: list[dict[str, Any]], ctx: Context, judge: bool, progress: bool
) -> dict[str, Any]:
    """metrics (ours), baselines (each system), per-category values; adds per-item scores."""
    ours = m.all_metrics(judge)
    m.prime(ours, records, ctx, progress)
    for rec in records:
        rec["scores"] = m.item_scores(rec, ctx, ours)
        rec["verdict"] = m.verdict(rec, rec["scores"])
        rec["quality"] = m.quality(rec, rec["scores"])
    result: dict[str, Any] = {
        "metrics": m.compute(ours, records, ctx),
        "baselines": {s: m.compute(m.baseline_metrics(s), records, ctx) for s in SYSTEMS[1:]},
        "per_category": {},
    }
    for category in sorted({r["category"] for r in records}):
        subset = [r for r in records if r["category"] == category]
        values = m.compute(ours, subset, ctx)
        values["n"] = len(subset)
        result["per_category"][category] = values
    return result


def run(dataset: Dataset, items: list[EvalItem], settings: Settings, cfg: RunConfig) -> dict:
    """Prepare the library, ask every item, score, and write the artifacts into ``cfg.out``."""
    from tqdm import tqdm

    started = time.perf_counter()
    prepared: Prepared = prepare(settings, dataset, progress=cfg.progress, corpus=cfg.corpus)
    library = prepared.library
    chain = AskChain(prepared.settings, library)
    judge = None
    if cfg.judge:
        from evals.judge import Judge

        judge = Judge.from_spec(cfg.judge, prepared.settings)
    # load the embedder and open both indexes before anything is timed
    if items:
        library.dense.store.similarity_search(items[0].question, k=1)
        library.lexical.search(items[0].question, 1)
    records: list[dict[str, Any]] = []
    asks_started = time.perf_counter()
    bar = tqdm(
        items,
        desc=f"eval {dataset.name}",
        unit="q",
        file=sys.stderr,
        disable=not cfg.progress,
        dynamic_ncols=True,
    )
    for item in bar:
        rec = run_item(chain, library, item, cfg.baseline_k)
        if judge is not None:
            rec["judge"] = judge.grade(rec)
        records.append(rec)
        answerable = [r for r in records if r["gold"]["sources"]]
        cited = sum(
            bool(set(r["gold"]["sources"]) & set(r["systems"]["ours"]["cited"])) for r in answerable
        )
        bar.set_postfix_str(f"cited-gold {cited}/{len(answerable)}")
    asks_s = time.perf_counter() - asks_started
    scoring_started = time.perf_counter()
    ctx = Context(
        encoder=Encoder(library.embeddings.embed_documents),
        support_threshold=cfg.support_threshold,
    )
    result = score(records, ctx, judge is not None, cfg.progress)
    scoring_s = time.perf_counter() - scoring_started
    result["run"] = {
        "dataset": dataset.name,
        "split": cfg.split or "all",
        "items": len(records),
        "errors": sum(1 for r in records if r["error"]),
        "limit": cfg.limit,
        "seed": cfg.seed,
        "composer": prepared.settings.compose.composer,
        "judge": cfg.judge,
        "baseline_k_chunks": cfg.baseline_k,
        "naive_cited_chunks": NAIVE_CITED_CHUNKS,
        "support_threshold": cfg.support_threshold,
        "library": {
            "location": prepared.location,
            "sources": prepared.sources,
            "chunks": prepared.chunks,
            "built_now": prepared.built_now,
            "index": prepared.settings.index_name(),
        },
        "notes": dataset.notes,
        "command": cfg.command,
        "git_commit": _git_commit(),
        "python": platform.python_version(),
        "settings": json.loads(prepared.settings.model_dump_json(exclude={"llm", "ui"})),
        "wall_time_s": round(time.perf_counter() - started, 1),
        "prepare_s": prepared.ingest_s,
        "asks_s": round(asks_s, 1),
        "scoring_s": round(scoring_s, 1),
        "finished": time.strftime("%Y-%m-%d %H:%M:%S"),
    }
    write_artifacts(cfg.out, records, result)
    return result


def write_artifacts(out: Path, records: list[dict[str, Any]], result: dict[str, Any]) -> None:
    out.mkdir(parents=True, exist_ok=True)
    with (out / "records.jsonl").open("w", encoding="utf-8") as fh:
        for rec in records:
            fh.write(json.dumps(rec, ensure_ascii=False, sort_keys=True) + "\n")
    ordered = {k: result[k] for k in ("run", "metrics", "baselines", "per_category")}
    (out / "metrics.json").write_text(json.dumps(ordered, indent=2, ensure_ascii=False) + "\n")
    write_report(out, records, result)
