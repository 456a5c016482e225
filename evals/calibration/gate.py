"""Calibrate the answerability gate's thresholds on the dev splits of several libraries.

Each item is asked once through the real chain up to the gate (condense, retrieve, rank); the gate
is then re-decided for every combination of thresholds on a grid, which is cheap because the
gate is a pure function of the ranked candidates. Items:

- answerable: HLH gold dev, real-text gold dev, PubMedQA dev (500), MedQuAD dev (a seeded 300);
- cannot-answer: the HLH and real-text dev items labelled so, the development probes written
  against three libraries (PROBES: the HLH, real-text and PubMedQA libraries; the first two also
  hold answerable probes), and questions asked against another library's
  index (the real-text dev questions against the HLH library and the HLH dev questions against
  the real-text library: neither holds the other's subject).

The chosen thresholds maximise the abstention recall on the cannot-answer items while the false
abstention rate stays at most ``--max-false`` on every answerable library (a coordinate search
over GRID from the current settings). Test splits are never read.
``python -m evals.calibration.gate --out DIR`` writes search.json (every setting tried) and
chosen.json.
"""

from __future__ import annotations

import argparse
import json
import pickle
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from assistant.ask.chain import AskChain
from assistant.ask.gate import Assessment, assess, decide
from assistant.ask.session import Conversation
from assistant.config import ComposeSettings, Settings, load_settings
from evals.datasets import EvalItem, datasets_dir, load_dataset, load_gold, read_jsonl, select
from evals.library import prepare

HERE = Path(__file__).resolve().parent
GOLD = HERE.parent / "gold"
GRID: dict[str, list[float]] = {
    "gate_max_unknown_share": [0.3, 0.4, 0.5, 0.6],
    "gate_min_unit_cover": [0.3, 0.4, 0.5],
    "gate_min_source_cover": [0.4, 0.5, 0.6, 0.7, 0.8],
    "gate_close_cosine": [0.55, 0.6, 0.65, 0.7, 0.75, 0.8, 1.01],
    "gate_close_source_cover": [0.1, 0.2, 0.3, 0.4, 0.5],
    "gate_close_chunk_cosine": [0.55, 0.6, 0.65, 0.7, 0.75, 0.8, 1.01],
    "gate_together_chunk_cosine": [-1.0, 0.4, 0.45, 0.5, 0.55, 0.6, 1.01],
    "gate_min_support": [0.4, 0.5, 0.55],
    "gate_min_cosine": [0.2, 0.3, 0.4],
}


PROBES = {
    "hlh": "abstention-probes.jsonl",
    "realtext": "realtext-probes.jsonl",
    "pubmedqa": "pubmedqa-probes.jsonl",
}
"""Development questions written against each library (see README.md), asked beside its dev
split."""


@dataclass
class Case:
    group: str
    question: str
    should_abstain: bool
    assessment: Assessment


def _cases(chain: AskChain, group: str, items: list[EvalItem], progress: bool) -> list[Case]:
    out = []
    for i, item in enumerate(items):
        conversation = Conversation()
        for turn in item.turns:
            conversation.ask(chain, turn, item.audience)
        from assistant.ask.condense import condense_offline

        standalone = (
            condense_offline(item.question, conversation.turns, chain.profile)
            if conversation.turns
            else item.question
        )
        retrieval = chain.retriever.retrieve(
            standalone, lexical_query=chain.lexical_query(standalone)
        )
        profile = chain.profile(standalone)
        ranked = chain.rank(profile, retrieval)
        window = chain.settings.compose.gate_window
        out.append(Case(group, standalone, item.should_abstain, assess(profile, ranked, window)))
        if progress and i % 50 == 0:
            print(f"  {group}: {i}/{len(items)}", file=sys.stderr, flush=True)
    return out


def collect(settings: Settings, shared: Path, progress: bool) -> list[Case]:
    hlh = load_gold(GOLD / "hlh-gold.jsonl")
    realtext = load_gold(GOLD / "realtext-gold.jsonl", shared)
    hlh_dev = select(hlh.items, "dev", None, 0)
    rt_dev = select(realtext.items, "dev", None, 0)
    cases: list[Case] = []
    libraries = {
        "hlh": prepare(settings, hlh, progress=progress),
        "realtext": prepare(settings, realtext, progress=progress),
    }
    chains = {name: AskChain(p.settings, p.library) for name, p in libraries.items()}
    cases += _cases(chains["hlh"], "hlh-dev", hlh_dev, progress)
    cases += _cases(chains["hlh"], "hlh-probes", probes("hlh"), progress)
    cases += _cases(chains["realtext"], "realtext-dev", rt_dev, progress)
    cases += _cases(chains["realtext"], "realtext-probes", probes("realtext"), progress)
    foreign = [
        EvalItem(id=f"x-{it.id}", question=it.question, turns=it.turns, should_abstain=True)
        for it in rt_dev
        if not it.should_abstain
    ]
    cases += _cases(chains["hlh"], "realtext-q-on-hlh", foreign, progress)
    foreign = [
        EvalItem(id=f"x-{it.id}", question=it.question, turns=it.turns, should_abstain=True)
        for it in hlh_dev
        if not it.should_abstain
    ]
    cases += _cases(chains["realtext"], "hlh-q-on-realtext", foreign, progress)
    for name, limit in (("pubmedqa", None), ("medquad", 300)):
        dataset = load_dataset(name, datasets_dir(shared))
        prepared = prepare(settings, dataset, progress=progress)
        chain = AskChain(prepared.settings, prepared.library)
        items = select(dataset.items, "dev", limit, 0)
        cases += _cases(chain, f"{name}-dev", items, progress)
        if name in PROBES:
            cases += _cases(chain, f"{name}-probes", probes(name), progress)
    return cases


def probes(library: str) -> list[EvalItem]:
    """The probes written against ``library`` (a key of PROBES; JSONL: question, should_abstain,
    note)."""
    return [
        EvalItem(id=f"probe-{i}", question=r["question"], should_abstain=bool(r["should_abstain"]))
        for i, r in enumerate(read_jsonl(HERE / PROBES[library]))
    ]


def evaluate(cases: list[Case], compose: ComposeSettings) -> dict[str, dict[str, float]]:
    by_group: dict[str, list[int]] = {}
    for case in cases:
        decided = not decide(case.assessment, compose).answerable
        tally = by_group.setdefault(case.group, [0, 0, 0, 0])  # abstain-ok, should, fa, answerable
        if case.should_abstain:
            tally[1] += 1
            tally[0] += decided
        else:
            tally[3] += 1
            tally[2] += decided
    out: dict[str, dict[str, float]] = {}
    for group, (ok, should, fa, answerable) in by_group.items():
        out[group] = {
            "abstain_recall": ok / should if should else float("nan"),
            "false_abstentions": fa / answerable if answerable else float("nan"),
            "n_should": should,
            "n_answerable": answerable,
        }
    return out


def summary(result: dict[str, dict[str, float]]) -> tuple[float, float]:
    """(pooled abstention recall, worst false-abstention rate over the answerable groups)."""
    ok = sum(r["abstain_recall"] * r["n_should"] for r in result.values() if r["n_should"])
    should = sum(r["n_should"] for r in result.values())
    worst = max(
        (r["false_abstentions"] for r in result.values() if r["n_answerable"] >= 10), default=0.0
    )
    return (ok / should if should else 0.0), worst


def _objective(result: dict[str, dict[str, float]], max_false: float) -> tuple[float, float, float]:
    """Feasible settings (worst false-abstention rate <= max_false) first, then the highest
    pooled abstention recall, then the lowest worst rate; among infeasible ones, the lowest
    worst rate."""
    recall, worst = summary(result)
    return (1.0, recall, -worst) if worst <= max_false else (0.0, -worst, 0.0)


def search(
    cases: list[Case], start: ComposeSettings, max_false: float, rounds: int = 3
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Coordinate search over GRID from the current settings: each round tries every value of
    one threshold at a time and keeps the best (a full grid would take hours)."""
    params = {k: getattr(start, k) for k in GRID}
    rows: list[dict[str, Any]] = []

    def score(candidate: dict[str, float]) -> tuple[tuple[float, float, float], dict[str, Any]]:
        result = evaluate(cases, start.model_copy(update=candidate))
        recall, worst = summary(result)
        row = {"params": dict(candidate), "recall": recall, "worst_false": worst, "groups": result}
        rows.append(row)
        return _objective(result, max_false), row

    best_value, best_row = score(params)
    for _ in range(rounds):
        improved = False
        for key, values in GRID.items():
            for value in values:
                if value == params[key]:
                    continue
                trial = {**params, key: value}
                value_of, row = score(trial)
                if value_of > best_value:
                    best_value, best_row, params, improved = value_of, row, trial, True
        if not improved:
            break
    return best_row, rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--shared", type=Path, default=None, help="datasets dir (../shared)")
    parser.add_argument("--max-false", type=float, default=0.05)
    parser.add_argument("--data-dir", type=Path, default=None)
    parser.add_argument(
        "--cases",
        type=Path,
        default=None,
        help="pickle of collected cases: read if present, "
        "else written (to re-decide without re-asking, e.g. while reading the errors)",
    )
    args = parser.parse_args(argv)
    settings = load_settings(data_dir=args.data_dir)
    started = time.perf_counter()
    if args.cases is not None and args.cases.is_file():
        cases = pickle.loads(args.cases.read_bytes())
    else:
        cases = collect(settings, args.shared or datasets_dir(), progress=True)
        if args.cases is not None:
            args.cases.write_bytes(pickle.dumps(cases))
    print(f"{len(cases)} cases in {time.perf_counter() - started:.0f} s", file=sys.stderr)
    current = evaluate(cases, settings.compose)
    best, rows = search(cases, settings.compose, args.max_false)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "search.json").write_text(json.dumps(rows, indent=1))
    (args.out / "chosen.json").write_text(json.dumps(best, indent=1))
    print("current settings:", json.dumps(current, indent=1))
    print("chosen:", json.dumps(best, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
