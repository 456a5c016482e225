"""Calibrate the approved-page matcher (assistant/pages/match.py) on labelled question pairs.

``page-match-pairs.jsonl``: 180 pairs written for this purpose over 20 clinical topics, each
``{"id", "split", "topic", "kind", "same", "a", "b"}``. ``same`` pairs are paraphrases or light
rewordings; the others share most words but ask something else: another facet ("side effects
of X" / "dose of X"), another population ("in adults" / "in children"), another subject
("for asthma" / "for COPD"), or are unrelated. Topics are split whole into dev and test, so a
topic never straddles the split.

The threshold is chosen on dev only: the highest recall with no false match (precision 1.0),
the middle of the range of thresholds that reach it. Test precision/recall are reported at
that threshold, beside the embedding alone (no slot checks) at the same threshold.

    python -m evals.calibration.page_match [--json]
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from assistant.pages.match import is_same_question, load_vocabulary

PAIRS = Path(__file__).resolve().parent / "page-match-pairs.jsonl"
GRID = [round(x, 2) for x in np.arange(0.50, 1.00, 0.01)]


@dataclass(frozen=True)
class Scores:
    threshold: float
    pairs: int
    positives: int
    tp: int
    fp: int

    @property
    def precision(self) -> float:
        """tp / (tp + fp); 1.0 when nothing is matched."""
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 1.0

    @property
    def recall(self) -> float:
        """tp / positives."""
        return self.tp / self.positives if self.positives else 0.0

    def as_dict(self) -> dict[str, Any]:
        return {
            "threshold": self.threshold,
            "pairs": self.pairs,
            "positives": self.positives,
            "true_matches": self.tp,
            "false_matches": self.fp,
            "precision": round(self.precision, 3),
            "recall": round(self.recall, 3),
        }


def load_pairs(path: Path = PAIRS) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]


def similarities(pairs: Sequence[dict[str, Any]], embeddings: Any) -> list[float]:
    texts = sorted({p["a"] for p in pairs} | {p["b"] for p in pairs})
    vectors = dict(zip(texts, np.asarray(embeddings.embed_documents(texts)), strict=True))
    out = []
    for p in pairs:
        a, b = vectors[p["a"]], vectors[p["b"]]
        out.append(float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b))))
    return out


def score(
    pairs: Sequence[dict[str, Any]], sims: Sequence[float], threshold: float, slots: bool = True
) -> Scores:
    vocab = load_vocabulary()
    tp = fp = 0
    for pair, sim in zip(pairs, sims, strict=True):
        if slots:
            matched = is_same_question(pair["a"], pair["b"], sim, threshold, vocab)
        else:
            matched = sim >= threshold
        if matched and pair["same"]:
            tp += 1
        elif matched:
            fp += 1
    positives = sum(1 for p in pairs if p["same"])
    return Scores(threshold, len(pairs), positives, tp, fp)


def choose_threshold(pairs: Sequence[dict[str, Any]], sims: Sequence[float]) -> float:
    """Middle of the thresholds that reach the best recall at precision 1.0 on these pairs."""
    clean = [s for s in (score(pairs, sims, t) for t in GRID) if s.fp == 0]
    if not clean:
        raise ValueError("no threshold on the grid avoids every false match")
    best = max(s.recall for s in clean)
    tied = [s.threshold for s in clean if s.recall == best]
    return round((min(tied) + max(tied)) / 2, 2)


def calibrate(embeddings: Any, path: Path = PAIRS) -> dict[str, Any]:
    pairs = load_pairs(path)
    sims = similarities(pairs, embeddings)
    by_split: dict[str, tuple[list[dict[str, Any]], list[float]]] = {}
    for pair, sim in zip(pairs, sims, strict=True):
        chosen = by_split.setdefault(pair["split"], ([], []))
        chosen[0].append(pair)
        chosen[1].append(sim)
    dev_pairs, dev_sims = by_split["dev"]
    threshold = choose_threshold(dev_pairs, dev_sims)
    report: dict[str, Any] = {"threshold": threshold, "splits": {}}
    for split, (items, values) in sorted(by_split.items()):
        kinds: dict[str, list[int]] = {}
        for pair, sim in zip(items, values, strict=True):
            hit = is_same_question(pair["a"], pair["b"], sim, threshold)
            kinds.setdefault(pair["kind"], [0, 0])[0] += int(hit)
            kinds[pair["kind"]][1] += 1
        report["splits"][split] = {
            "with_slot_checks": score(items, values, threshold).as_dict(),
            "embedding_only": score(items, values, threshold, slots=False).as_dict(),
            "matched_by_kind": {k: f"{v[0]}/{v[1]}" for k, v in sorted(kinds.items())},
        }
    return report


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    args = parser.parse_args(argv)
    from assistant.config import EmbeddingSettings
    from assistant.models import get_embeddings

    report = calibrate(get_embeddings(EmbeddingSettings()))
    if args.json:
        print(json.dumps(report, indent=2))
        return 0
    print(f"threshold chosen on dev: {report['threshold']}")
    for split, data in report["splits"].items():
        for name in ("with_slot_checks", "embedding_only"):
            s = data[name]
            print(
                f"{split:4} {name:17} precision {s['precision']:.3f} recall {s['recall']:.3f} "
                f"({s['true_matches']}/{s['positives']} same-question pairs matched, "
                f"{s['false_matches']} false matches, {s['pairs']} pairs)"
            )
        print(f"{split:4} matched by kind: {data['matched_by_kind']}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
