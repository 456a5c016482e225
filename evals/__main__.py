"""``assistant eval`` / ``python -m evals``: score the real chain against gold answers.

Examples::

    python -m evals --gold evals/gold/hlh-gold.jsonl --split test --out eval-runs/gold
    python -m evals --dataset pubmedqa --split test --out eval-runs/pubmedqa
    python -m evals --compare eval-runs/before eval-runs/after
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from evals.datasets import Dataset, EvalItem

EXIT_OK, EXIT_ERROR, EXIT_USAGE = 0, 1, 2


def build_parser() -> argparse.ArgumentParser:
    from evals.datasets import DATASETS, MEDQUAD_SOURCES, SPLITS
    from evals.scoring import SUPPORT_THRESHOLD

    p = argparse.ArgumentParser(
        prog="assistant eval",
        description="Score the chain against gold answers, beside BM25-only and dense-only "
        "baselines; write records.jsonl, metrics.json, report.md/.html and plots to --out.",
    )
    what = p.add_mutually_exclusive_group(required=True)
    what.add_argument(
        "--gold",
        type=Path,
        help="in-house gold JSONL (e.g. evals/gold/*.jsonl); asked against the built-in library, "
        "or against the library its <name>-library.yaml spec builds from --datasets-dir",
    )
    what.add_argument("--dataset", choices=DATASETS, help="a public data set (../shared)")
    what.add_argument(
        "--compare",
        nargs=2,
        type=Path,
        metavar=("DIR_A", "DIR_B"),
        help="print metric deltas and flipped verdicts of two runs",
    )
    p.add_argument("--split", choices=SPLITS, help="only items of this split (default: all)")
    p.add_argument("--limit", type=int, help="ask at most N items (a seeded sample)")
    p.add_argument("--seed", type=int, default=0, help="seed of --limit and of subsets")
    p.add_argument("--composer", help="'extractive' (default) or an LLM spec, e.g. openai:MODEL")
    p.add_argument("--out", type=Path, help="run directory (default eval-runs/<name>-<split>)")
    p.add_argument("--data-dir", type=Path, help="data directory (default .assistant/)")
    p.add_argument("--config", type=Path, help="TOML settings file")
    p.add_argument("--chroma-url", help="use a Chroma server instead of the embedded store")
    p.add_argument(
        "--datasets-dir",
        type=Path,
        help="where the public data sets are "
        "(default ../shared/datasets or $ASSISTANT_SHARED_DIR/datasets)",
    )
    p.add_argument("--corpus", type=Path, help="corpus to build the library from if it is missing")
    p.add_argument("--sources", type=int, help=f"MedQuAD answers to index ({MEDQUAD_SOURCES})")
    p.add_argument("--baseline-k", type=int, default=40, help="chunks each baseline retrieves")
    p.add_argument(
        "--support-threshold",
        type=float,
        default=SUPPORT_THRESHOLD,
        help="cosine a sentence needs with its cited passage (support_rate)",
    )
    p.add_argument("--judge", metavar="SPEC", help="LLM judge, e.g. openai:MODEL (off by default)")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")
    return p


def _default_out(args: argparse.Namespace) -> Path:
    name = args.dataset or (args.gold.stem if args.gold else "run")
    return Path("eval-runs") / f"{name}-{args.split or 'all'}"


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(list(sys.argv[1:] if argv is None else argv))
    if args.compare:
        from evals.compare import RunMissing, compare, format_comparison

        try:
            print(format_comparison(compare(*args.compare)))
        except RunMissing as exc:
            print(f"error: {exc}", file=sys.stderr)
            return EXIT_USAGE
        return EXIT_OK
    if args.limit is not None and args.limit < 1:
        print("error: --limit must be at least 1", file=sys.stderr)
        return EXIT_USAGE
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")
    from evals.datasets import DatasetUnavailable, datasets_dir, load_dataset, load_gold, select

    try:
        base = datasets_dir(args.datasets_dir)
        if args.gold:
            dataset = load_gold(args.gold, base)
        else:
            dataset = load_dataset(args.dataset, base, seed=args.seed, sources=args.sources)
    except DatasetUnavailable as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    items = select(dataset.items, args.split, args.limit, args.seed)
    if not items:
        print(f"error: {dataset.name} has no items in split {args.split!r}", file=sys.stderr)
        return EXIT_USAGE
    return _run(args, dataset, items, argv)


def _run(
    args: argparse.Namespace,
    dataset: Dataset,
    items: list[EvalItem],
    argv: Sequence[str] | None,
) -> int:
    from assistant.config import load_settings
    from assistant.errors import USER_ERRORS
    from evals.run import RunConfig, run

    out = args.out or _default_out(args)
    command = ["assistant", "eval", *(sys.argv[1:] if argv is None else argv)]
    try:
        settings = load_settings(
            args.config,
            data_dir=args.data_dir,
            **{"store.chroma_url": args.chroma_url, "compose.composer": args.composer},
        )
        cfg = RunConfig(
            out=out,
            split=args.split,
            limit=args.limit,
            seed=args.seed,
            baseline_k=args.baseline_k,
            judge=args.judge,
            support_threshold=args.support_threshold,
            progress=not args.no_progress,
            corpus=args.corpus,
            command=command,
        )
        result = run(dataset, items, settings, cfg)
    except USER_ERRORS as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_ERROR
    print(summary(result, out))
    return EXIT_OK


def summary(result: dict, out: Path) -> str:
    """A few lines for the terminal: the headline metrics, baselines beside ours."""
    from evals.report import fmt

    run = result["run"]
    keys = [
        "retrieval.recall@1",
        "retrieval.recall@5",
        "retrieval.mrr",
        "citations.expected_cited_rate",
        "citations.support_rate",
        "answer.key_fact_recall",
        "answer.rougeL",
        "abstention.recall",
        "abstention.false_rate",
        "bottom_line.on_topic",
        "bottom_line.max_share",
        "latency.ask_p50_ms",
    ]
    lines = [f"{run['dataset']} ({run['split']}): {run['items']} items in {run['wall_time_s']} s"]
    base = result["baselines"]
    lines.append(f"{'metric':32} {'ours':>8} " + " ".join(f"{s:>8}" for s in base))
    for key in keys:
        cells = [fmt(base[s].get(key), key) if key in base[s] else "" for s in base]
        ours = fmt(result["metrics"].get(key), key)
        lines.append(f"{key:32} {ours:>8} " + " ".join(f"{c:>8}" for c in cells))
    lines.append(f"report: {out / 'report.md'} (and report.html, metrics.json, records.jsonl)")
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
