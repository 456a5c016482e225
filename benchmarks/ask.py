"""Latency of a full extractive ``ask`` against bare retrieval, on the built-in corpus.

    .venv/bin/python benchmarks/ask.py [--data-dir D] [--repeat N] [--json] [--check]

Without ``--data-dir`` the corpus is ingested into a temporary directory first. After a
warm-up pass, every question is asked ``--repeat`` times; each ask is paired with a bare
retrieval of the same question (query embedding + Chroma top-k, nothing else) measured right
before it, so both see the same machine load. Reported: p50/p95 of every stage in
``Answer.timings_ms``, the bare retrieval p50, and the ratio ask p50 / retrieval p50.

Targets (issue 4): ask p50 <= 100 ms, ratio <= 4. ``--check`` exits 1 when one is missed.
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
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")

TARGET_ASK_P50_MS = 100.0
TARGET_RATIO = 4.0
STAGES = ("condense", "retrieve", "compose", "cite", "render", "total")

# Written for this benchmark (not the gold set): treatments, dosing, safety, diagnosis,
# prognosis, special populations, lay wording, and a few the library cannot answer.
QUESTIONS: list[str] = [
    "How well does anakinra work for secondary HLH in adults?",
    "Which treatments does the EULAR/PReS guideline recommend for MAS in Still's disease?",
    "What did the HLH-94 protocol combine for induction therapy?",
    "How is emapalumab given in primary HLH and how did patients respond?",
    "What response did ruxolitinib achieve as first-line therapy in children with HLH?",
    "When is alemtuzumab used in HLH?",
    "What is the role of ciclosporin in macrophage activation syndrome?",
    "How is IVIG used for haemophagocytic syndrome in Australia?",
    "Is etoposide helpful in EBV-associated HLH?",
    "What are the eight HLH-2004 diagnostic criteria?",
    "How does the HScore estimate the probability of reactive HLH?",
    "Which laboratory findings define MAS in systemic juvenile idiopathic arthritis?",
    "How specific is a very high ferritin for HLH in children?",
    "Is hyperferritinaemia in adults usually caused by HLH?",
    "What is the ferritin to ESR ratio used for?",
    "What dose of anakinra is given intravenously for MAS in children?",
    "How is continuous intravenous anakinra administered?",
    "What side effects were reported with anakinra in HLH?",
    "How many patients with HLH die in intensive care?",
    "What is IEC-HS after CAR T-cell therapy?",
    "How should HLH be managed in adults with lymphoma?",
    "Did anakinra improve survival in sepsis with features of MAS?",
    "Was anakinra used for COVID-19 hyperinflammation?",
    "What long-term outcomes were seen after HLH-2004 treatment?",
    "My child was diagnosed with HLH, what treatments exist?",
    "Does NHS England fund anakinra for HLH?",
    "What is the recommended dose of sarilumab for giant cell arteritis?",
    "How is psoriasis treated with topical steroids?",
    "What is the survival of HLH at 20 years after stem cell transplant?",
    "What is the rituximab regimen for EBV-HLH?",
]

# Two-turn conversations: the follow-up exercises the condense step.
CONVERSATIONS: list[tuple[str, str]] = [
    ("How well does anakinra work for secondary HLH in adults?", "and in children?"),
    ("What response did ruxolitinib achieve in children with HLH?", "any side effects?"),
    ("Is etoposide helpful in EBV-associated HLH?", "how does that compare with ciclosporin?"),
]


@dataclass
class Samples:
    stages: dict[str, list[float]] = field(default_factory=lambda: {s: [] for s in STAGES})
    wall: list[float] = field(default_factory=list)
    bare: list[float] = field(default_factory=list)
    embed: list[float] = field(default_factory=list)
    chroma: list[float] = field(default_factory=list)
    abstained: int = 0
    asked: int = 0


def percentile(values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100) of a non-empty sample."""
    ordered = sorted(values)
    rank = max(1, min(len(ordered), round(q / 100 * len(ordered) + 0.5)))
    return ordered[rank - 1]


def summary(values: Sequence[float]) -> dict[str, float]:
    if not values:
        return {"p50": 0.0, "p95": 0.0, "mean": 0.0, "n": 0}
    return {
        "p50": round(statistics.median(values), 2),
        "p95": round(percentile(values, 95), 2),
        "mean": round(statistics.fmean(values), 2),
        "n": len(values),
    }


def build_chain(data_dir: Path, torch_threads: int | None) -> tuple[Any, dict[str, Any]]:
    """The chain over the library in ``data_dir``, ingesting the corpus first if it is empty."""
    from assistant.ask.chain import AskChain
    from assistant.config import load_settings
    from assistant.ingest.pipeline import ingest
    from assistant.ingest.store import Library

    info: dict[str, Any] = {}
    overrides: dict[str, Any] = {"data_dir": data_dir, "compose.composer": "extractive"}
    settings = load_settings(None, **overrides)
    library = Library(settings)
    if not library.is_built():
        start = time.perf_counter()
        ingest([REPO / "corpus"], settings, library=library, progress=False)
        info["ingest_s"] = round(time.perf_counter() - start, 1)
    if torch_threads:
        import torch

        torch.set_num_threads(torch_threads)
    chain = AskChain(settings, library=library)
    info.update(
        data_dir=str(data_dir),
        sources=len(library.sources()),
        chunks=library.manifest.count_chunks(),
        k=settings.retrieval.k_dense,
    )
    return chain, info


def bare_retrieval(chain: Any, question: str, k: int, samples: Samples | None) -> None:
    """Query embedding + Chroma top-k: the floor any answer pays."""
    t0 = time.perf_counter()
    vector = chain.retriever.embed(question)
    t1 = time.perf_counter()
    chain.library.dense.search(vector, k)
    t2 = time.perf_counter()
    if samples is not None:
        samples.embed.append((t1 - t0) * 1000)
        samples.chroma.append((t2 - t1) * 1000)
        samples.bare.append((t2 - t0) * 1000)


def run(chain: Any, k: int, repeat: int, warmup: int) -> Samples:
    from assistant.types import Turn

    histories: dict[str, list[Turn]] = {}
    for first, _ in CONVERSATIONS:
        answer = chain.ask(first)
        histories[first] = [
            Turn(role="user", content=first),
            Turn(role="assistant", content=answer.markdown),
        ]
    work: list[tuple[str, list[Turn]]] = [(q, []) for q in QUESTIONS]
    work += [(follow, histories[first]) for first, follow in CONVERSATIONS]

    for _ in range(warmup):
        for question, history in work:
            bare_retrieval(chain, question, k, None)
            chain.ask(question, history)

    samples = Samples()
    for _ in range(repeat):
        for question, history in work:
            bare_retrieval(chain, question, k, samples)
            start = time.perf_counter()
            answer = chain.ask(question, history)
            samples.wall.append((time.perf_counter() - start) * 1000)
            for stage in STAGES:
                samples.stages[stage].append(float(answer.timings_ms.get(stage, 0.0)))
            samples.asked += 1
            samples.abstained += int(answer.abstained)
    return samples


def report(samples: Samples, info: dict[str, Any]) -> dict[str, Any]:
    ask = summary(samples.stages["total"])
    bare = summary(samples.bare)
    ratio = round(ask["p50"] / bare["p50"], 2) if bare["p50"] else float("inf")
    try:
        import torch

        threads = torch.get_num_threads()
    except ImportError:  # pragma: no cover
        threads = None
    return {
        "questions": len(QUESTIONS) + len(CONVERSATIONS),
        "asks": samples.asked,
        "abstained": samples.abstained,
        "stages_ms": {s: summary(v) for s, v in samples.stages.items()},
        "ask_wall_ms": summary(samples.wall),
        "bare_retrieval_ms": bare,
        "query_embedding_ms": summary(samples.embed),
        "chroma_topk_ms": summary(samples.chroma),
        "ratio_ask_p50_to_retrieval_p50": ratio,
        "targets": {
            "ask_p50_ms": TARGET_ASK_P50_MS,
            "ratio": TARGET_RATIO,
            "ask_p50_met": ask["p50"] <= TARGET_ASK_P50_MS,
            "ratio_met": ratio <= TARGET_RATIO,
        },
        "environment": {
            **info,
            "torch_threads": threads,
            "omp_wait_policy": os.environ.get("OMP_WAIT_POLICY", "(default)"),
            "cpus": os.cpu_count(),
            "load_average": [round(x, 2) for x in os.getloadavg()],
        },
    }


def table(result: dict[str, Any]) -> str:
    rows = [("stage", "p50 ms", "p95 ms", "mean ms")]
    for stage, s in result["stages_ms"].items():
        rows.append((f"ask.{stage}", f"{s['p50']:.1f}", f"{s['p95']:.1f}", f"{s['mean']:.1f}"))
    for name in ("query_embedding_ms", "chroma_topk_ms", "bare_retrieval_ms"):
        s = result[name]
        label = name.removesuffix("_ms")
        rows.append((label, f"{s['p50']:.1f}", f"{s['p95']:.1f}", f"{s['mean']:.1f}"))
    width = max(len(r[0]) for r in rows)
    lines = [f"{r[0]:<{width}}  {r[1]:>8}  {r[2]:>8}  {r[3]:>8}" for r in rows]
    lines.insert(1, "-" * len(lines[0]))
    t = result["targets"]
    env = result["environment"]
    lines += [
        "",
        f"asks: {result['asks']} ({result['questions']} questions, "
        f"{result['abstained']} abstained); chunks: {env['chunks']}; top-k: {env['k']}; "
        f"torch threads: {env['torch_threads']}; OMP_WAIT_POLICY: {env['omp_wait_policy']}; "
        f"load average: {env['load_average']}",
        f"ask p50 {result['stages_ms']['total']['p50']:.1f} ms "
        f"(target <= {t['ask_p50_ms']:.0f}: {'met' if t['ask_p50_met'] else 'MISSED'})",
        f"ratio ask p50 / retrieval p50 = {result['ratio_ask_p50_to_retrieval_p50']:.2f} "
        f"(target <= {t['ratio']:.0f}: {'met' if t['ratio_met'] else 'MISSED'})",
    ]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data-dir", type=Path, help="use this built library (else build one)")
    parser.add_argument("--repeat", type=int, default=3, help="timed passes over the questions")
    parser.add_argument("--warmup", type=int, default=1, help="untimed passes first")
    parser.add_argument("--torch-threads", type=int, help="torch.set_num_threads before asking")
    parser.add_argument(
        "--omp-passive",
        action="store_true",
        help="OMP_WAIT_POLICY=PASSIVE: idle torch threads sleep instead of spinning",
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--check", action="store_true", help="exit 1 if a target is missed")
    args = parser.parse_args(argv)
    if args.omp_passive:  # read when torch starts its thread pool: before the first import
        os.environ["OMP_WAIT_POLICY"] = "PASSIVE"

    with tempfile.TemporaryDirectory(prefix="bench-ask-") as tmp:
        chain, info = build_chain(args.data_dir or Path(tmp), args.torch_threads)
        samples = run(chain, info["k"], max(1, args.repeat), max(0, args.warmup))
        chain.library.close()
    result = report(samples, info)
    print(json.dumps(result, indent=2) if args.json else table(result))
    met = result["targets"]["ask_p50_met"] and result["targets"]["ratio_met"]
    return 0 if met or not args.check else 1


if __name__ == "__main__":
    sys.exit(main())
