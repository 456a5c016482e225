"""Ask latency by stage at ~1k, ~10k and ~100k chunks, beside two baselines, in one run.

For each size the scale library (``benchmarks/scale.py``) is built or reused, then:

1. **cold start and peak RSS**: a new Python process opens the library, builds the chain and
   answers the first question (the time from spawning it to that answer is the cold start;
   the files are in the page cache, as on a server that restarts), then asks every question
   once and reports its peak RSS (``ru_maxrss``);
2. **warm asks** in this process, extractive composer: one untimed pass, then ``--repeat``
   timed passes over real MedQuAD/PubMedQA questions about the library's sources and three
   two-turn conversations (the follow-up exercises condense); every stage of
   ``Answer.timings_ms``; a pass of the same questions with a metadata filter (three evidence
   types and a year range), warmed like the rest (the first filtered ask, which reads the
   filter's chunk set, is reported on its own);
3. **baselines** on the same questions and library, paired with each ask: langchain-chroma
   ``similarity_search(question, k)`` as a stock LangChain app runs it (HuggingFaceEmbeddings,
   i.e. sentence-transformers on torch, embeds the question; Chroma top-k with documents) and
   ``rank_bm25.BM25Okapi`` over the same chunk texts with the project's tokens (top-k by
   ``get_scores``); the ratios ask p50 / baseline p50 are printed.

Results go to ``<bench dir>/results/ask-scale.json``; ``--png`` draws ask p50 and p95 against
library size (``benchmarks/ask-scale.png`` by default).

    .venv/bin/python benchmarks/ask_scale.py [--sizes 1000 10000 100000] [--repeat 2]
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import resource
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(1, str(HERE.parent))

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

from ask import STAGES, summary  # noqa: E402

SIZES = (1000, 10000, 100000)
FOLLOW_UPS = ("What are the symptoms?", "How is it treated?", "How is it diagnosed?")
TARGETS = {"p50_10k_ms": 100.0, "p50_100k_ms": 150.0, "p95_over_p50": 2.0, "growth": 2.0}
TARGET_COLD_S = 8.0
TARGET_RSS_MB = 1536.0
STAGE_NAMES = (*STAGES[:-1], "suggest", "total")


def library_questions(data_dir: Path, n: int) -> list[str]:
    """The data sets' questions about the library's real (not variant) sources."""
    from realtext import real_questions
    from scale import settings_for

    from assistant.ingest.manifest import Manifest
    from assistant.ingest.store import manifest_path

    manifest = Manifest(manifest_path(settings_for(data_dir)), readonly=True)
    try:
        real = [r.ref.source_id for r in manifest.sources() if "~" not in r.ref.source_id]
    finally:
        manifest.close()
    return real_questions(real, n)


# --------------------------------------------------------------------------- child process
def child(data_dir: Path, questions: list[str]) -> int:
    """Cold start: open, build the chain, answer the first question (prints FIRST), then ask
    the rest and print the peak RSS."""
    from scale import settings_for

    from assistant.ask.chain import AskChain

    chain = AskChain(settings_for(data_dir))
    first = chain.ask(questions[0])
    print("FIRST", json.dumps({"abstained": first.abstained}), flush=True)
    for question in questions[1:]:
        chain.ask(question)
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print("DONE", json.dumps({"peak_rss_mb": round(rss_mb, 1)}), flush=True)
    return 0


def cold_start(data_dir: Path, questions: list[str]) -> dict[str, Any]:
    args = [sys.executable, __file__, "--child", str(data_dir), "--child-questions"]
    start = time.perf_counter()
    proc = subprocess.Popen(
        [*args, json.dumps(questions)], stdout=subprocess.PIPE, text=True, env=os.environ.copy()
    )
    out: dict[str, Any] = {}
    assert proc.stdout is not None
    for line in proc.stdout:
        if line.startswith("FIRST"):
            out["cold_start_s"] = round(time.perf_counter() - start, 2)
        elif line.startswith("DONE"):
            out.update(json.loads(line.split(" ", 1)[1]))
    if proc.wait() != 0 or "peak_rss_mb" not in out:
        raise SystemExit(f"the cold-start process failed (exit {proc.returncode})")
    return out


# --------------------------------------------------------------------------- baselines
class RankBM25:
    """rank_bm25's BM25Okapi over the library's chunk texts, tokenised as the project does."""

    def __init__(self, library: Any) -> None:
        from rank_bm25 import BM25Okapi

        from assistant.text import lexical_tokens

        self.tokens = lexical_tokens
        start = time.perf_counter()
        pairs = list(library.manifest.iter_embed_texts())
        self.ids = [cid for cid, _ in pairs]
        self.bm25 = BM25Okapi([lexical_tokens(text) for _, text in pairs])
        self.build_s = time.perf_counter() - start

    def search(self, query: str, k: int) -> list[str]:
        import numpy as np

        scores = self.bm25.get_scores(self.tokens(query))
        top = np.argpartition(-scores, min(k, len(scores) - 1))[:k]
        return [self.ids[i] for i in top[np.argsort(-scores[top])]]


def stock_langchain_chroma(chain: Any) -> Any:
    """What a stock LangChain app queries: langchain-chroma over the same collection with
    HuggingFaceEmbeddings (sentence-transformers, torch) embedding the question."""
    from langchain_chroma import Chroma

    from assistant.models import get_embeddings

    settings = chain.settings
    return Chroma(
        collection_name=settings.index_name(),
        embedding_function=get_embeddings(settings.embedding),
        client=chain.library.dense.store._client,
        collection_metadata={"hnsw:space": "cosine"},
    )


# --------------------------------------------------------------------------- one size
def measure(data_dir: Path, questions: list[str], repeat: int) -> dict[str, Any]:
    from scale import settings_for

    from assistant.ask.chain import AskChain
    from assistant.ask.retrieve import Filters
    from assistant.ask.session import Conversation

    chain = AskChain(settings_for(data_dir))
    library = chain.library
    k = chain.settings.retrieval.top_k
    bm25 = RankBM25(library)
    stock = stock_langchain_chroma(chain)
    convs = questions[: len(FOLLOW_UPS)]
    filtered = Filters(("rct", "systematic-review", "guideline"), 2005, 2020)
    stages: dict[str, list[float]] = {s: [] for s in STAGE_NAMES}
    base: dict[str, list[float]] = {"chroma_similarity_search": [], "rank_bm25": [], "bm25s": []}
    filt: list[float] = []
    cpu: list[float] = []
    first_filtered: list[float] = []
    abstained = asked = 0

    def one_pass(timed: bool) -> None:
        nonlocal abstained, asked
        work: list[tuple[str, Conversation | None]] = [(q, None) for q in questions]
        for question, follow in zip(convs, FOLLOW_UPS, strict=False):
            conv = Conversation()
            conv.ask(chain, question)
            work.append((follow, conv))
        for question, conv in work:
            t0 = time.perf_counter()
            stock.similarity_search(question, k=k)
            t1 = time.perf_counter()
            bm25.search(question, k)
            t2 = time.perf_counter()
            library.lexical.search(question, k)
            t3 = time.perf_counter()
            c0 = time.process_time()
            answer = chain.ask(
                question,
                conv.turns if conv else (),
                None,
                None,
                conv.citation_map if conv else None,
            )
            cpu_ms = (time.process_time() - c0) * 1000
            if not timed:
                continue
            cpu.append(cpu_ms)
            base["chroma_similarity_search"].append((t1 - t0) * 1000)
            base["rank_bm25"].append((t2 - t1) * 1000)
            base["bm25s"].append((t3 - t2) * 1000)
            for stage in STAGE_NAMES:
                stages[stage].append(float(answer.timings_ms.get(stage, 0.0)))
            asked += 1
            abstained += int(answer.abstained)
        for question in questions:
            ms = float(chain.ask(question, filters=filtered).timings_ms["total"])
            if timed:
                filt.append(ms)
            elif not first_filtered:
                first_filtered.append(ms)  # pays for the filter's chunk set (cached after)

    one_pass(timed=False)
    for _ in range(repeat):
        one_pass(timed=True)
    total = summary(stages["total"])
    result = {
        "chunks": library.manifest.count_chunks(),
        "sources": library.manifest.count_sources(),
        "asks": asked,
        "abstained": abstained,
        "stages_ms": {s: summary(v) for s, v in stages.items()},
        "filtered_total_ms": summary(filt),
        "cpu_ms": summary(cpu),
        "first_filtered_ask_ms": round(first_filtered[0], 1),
        "baselines_ms": {name: summary(v) for name, v in base.items()},
        "rank_bm25_build_s": round(bm25.build_s, 1),
        "ratios": {
            f"ask_p50_over_{name}_p50": round(total["p50"] / summary(v)["p50"], 2)
            for name, v in base.items()
            if v
        },
    }
    library.close()
    return result


def run(sizes: Sequence[int], repeat: int, n_questions: int, cold: bool, root: Path | None):
    from scale import scale_library

    results: dict[str, Any] = {"sizes": {}, "load_average_start": os.getloadavg()}
    for size in sizes:
        data_dir, info = scale_library(size, root, log=lambda m: print(m, file=sys.stderr))
        questions = library_questions(data_dir, n_questions)
        if not questions:
            raise SystemExit(f"no data-set question matches the sources of {data_dir}")
        row: dict[str, Any] = {"library": info, "questions": len(questions)}
        if cold:
            row.update(cold_start(data_dir, questions))
        row.update(measure(data_dir, questions, repeat))
        row["load_average"] = [round(x, 2) for x in os.getloadavg()]
        results["sizes"][str(size)] = row
        gc.collect()
        print(f"size {size}: ask p50 {row['stages_ms']['total']['p50']} ms", file=sys.stderr)
    results["targets"] = verdicts(results["sizes"])
    results["cpus"] = os.cpu_count()
    return results


def verdicts(rows: dict[str, Any]) -> dict[str, Any]:
    """Each target of issue 12 that this run measured: value, bound, met."""

    def p(size: str, q: str) -> float | None:
        return rows[size]["stages_ms"]["total"][q] if size in rows else None

    out: dict[str, Any] = {}
    if (v := p("10000", "p50")) is not None:
        out["ask_p50_10k_ms"] = (v, TARGETS["p50_10k_ms"], v <= TARGETS["p50_10k_ms"])
    if (v := p("100000", "p50")) is not None:
        out["ask_p50_100k_ms"] = (v, TARGETS["p50_100k_ms"], v <= TARGETS["p50_100k_ms"])
    for size, row in rows.items():
        s = row["stages_ms"]["total"]
        ratio = round(s["p95"] / s["p50"], 2) if s["p50"] else 0.0
        out[f"p95_over_p50_{size}"] = (ratio, TARGETS["p95_over_p50"], ratio <= 2.0)
        if "cold_start_s" in row:
            out[f"cold_start_s_{size}"] = (
                row["cold_start_s"],
                TARGET_COLD_S,
                row["cold_start_s"] <= TARGET_COLD_S,
            )
            out[f"peak_rss_mb_{size}"] = (
                row["peak_rss_mb"],
                TARGET_RSS_MB,
                row["peak_rss_mb"] <= TARGET_RSS_MB,
            )
    small, large = p("1000", "p50"), p("100000", "p50")
    if small and large:
        growth = round(large / small, 2)
        out["p50_100k_over_1k"] = (growth, TARGETS["growth"], growth <= TARGETS["growth"])
    return out


def table(results: dict[str, Any]) -> str:
    sizes = list(results["sizes"])
    head = f"{'ms (p50 / p95)':<28}" + "".join(f"{s + ' chunks':>20}" for s in sizes)
    lines = [head, "-" * len(head)]

    def cell(s: dict[str, float]) -> str:
        return f"{s['p50']:.1f} / {s['p95']:.1f}"

    for stage in STAGE_NAMES:
        lines.append(
            f"{'ask.' + stage:<28}"
            + "".join(f"{cell(results['sizes'][s]['stages_ms'][stage]):>20}" for s in sizes)
        )
    lines.append(
        f"{'ask CPU time':<28}"
        + "".join(f"{cell(results['sizes'][s]['cpu_ms']):>20}" for s in sizes)
    )
    lines.append(
        f"{'ask.total (filtered)':<28}"
        + "".join(f"{cell(results['sizes'][s]['filtered_total_ms']):>20}" for s in sizes)
    )
    for name in ("chroma_similarity_search", "rank_bm25", "bm25s"):
        lines.append(
            f"{name:<28}"
            + "".join(f"{cell(results['sizes'][s]['baselines_ms'][name]):>20}" for s in sizes)
        )
    for key in ("ask_p50_over_chroma_similarity_search_p50", "ask_p50_over_rank_bm25_p50"):
        lines.append(
            f"{'ask / ' + key.split('_over_')[1].removesuffix('_p50') + ' (p50)':<28}"
            + "".join(f"{results['sizes'][s]['ratios'][key]:>20.2f}" for s in sizes)
        )
    lines.append(
        f"{'first ask with a new filter':<28}"
        + "".join(f"{results['sizes'][s]['first_filtered_ask_ms']:>17.1f} ms" for s in sizes)
    )
    for key, unit in (("cold_start_s", "s"), ("peak_rss_mb", "MB")):
        if all(key in results["sizes"][s] for s in sizes):
            lines.append(
                f"{key:<28}" + "".join(f"{results['sizes'][s][key]:>18.1f} {unit}" for s in sizes)
            )
    lines.append("")
    for name, (value, bound, met) in results["targets"].items():
        lines.append(f"{name:<28}{value:>10} (target <= {bound}): {'met' if met else 'MISSED'}")
    lines.append(
        f"load average at start {results['load_average_start']}, "
        f"after each size {[results['sizes'][s]['load_average'] for s in sizes]}"
    )
    return "\n".join(lines)


def curve(results: dict[str, Any], path: Path) -> None:
    """Ask p50/p95 and the baselines' p50 against library size (log x)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = results["sizes"].values()
    x = [r["chunks"] for r in rows]
    fig, ax = plt.subplots(figsize=(6.4, 4.0), dpi=120)
    ax.plot(x, [r["stages_ms"]["total"]["p50"] for r in rows], "o-", label="ask p50")
    ax.plot(x, [r["stages_ms"]["total"]["p95"] for r in rows], "o--", label="ask p95")
    ax.plot(
        x,
        [r["baselines_ms"]["chroma_similarity_search"]["p50"] for r in rows],
        "s:",
        label="langchain-chroma similarity_search p50",
    )
    ax.plot(x, [r["baselines_ms"]["rank_bm25"]["p50"] for r in rows], "^:", label="rank_bm25 p50")
    ax.axhline(150, color="grey", lw=0.8, ls="-.", label="target at 100k (150 ms)")
    ax.set_xscale("log")
    ax.set_xlabel("library size (chunks)")
    ax.set_ylabel("latency (ms, warm)")
    ax.set_title("Extractive ask latency against library size")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=list(SIZES))
    parser.add_argument("--repeat", type=int, default=2, help="timed passes (default 2)")
    parser.add_argument("--questions", type=int, default=30, help="questions per size")
    parser.add_argument("--root", type=Path, default=None, help="bench dir (default .bench)")
    parser.add_argument("--no-cold", action="store_true", help="skip cold start and RSS")
    parser.add_argument("--png", type=Path, default=HERE / "ask-scale.png")
    parser.add_argument("--json", action="store_true", help="print JSON")
    parser.add_argument("--check", action="store_true", help="exit 1 if a target is missed")
    parser.add_argument("--child", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--child-questions", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        return child(args.child, json.loads(args.child_questions))
    if args.repeat < 1 or args.questions < 1 or any(s < 1 for s in args.sizes):
        parser.error("--repeat, --questions and --sizes must be at least 1")
    results = run(args.sizes, args.repeat, args.questions, not args.no_cold, args.root)
    from realtext import default_cache

    out = (args.root or default_cache()) / "results"
    out.mkdir(parents=True, exist_ok=True)
    (out / "ask-scale.json").write_text(json.dumps(results, indent=2))
    if args.png and len(results["sizes"]) > 1:
        curve(results, args.png)
    print(json.dumps(results, indent=2) if args.json else table(results))
    met = all(v[2] for v in results["targets"].values())
    return 0 if met or not args.check else 1


if __name__ == "__main__":
    sys.exit(main())
