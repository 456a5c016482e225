"""Compare two runs: metric deltas (ours and the baselines) and the items whose verdict flipped."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any


class RunMissing(FileNotFoundError):
    """A run directory lacks metrics.json or records.jsonl."""


def load_run(path: Path) -> tuple[dict[str, Any], dict[str, dict[str, Any]]]:
    metrics_file, records_file = path / "metrics.json", path / "records.jsonl"
    for f in (metrics_file, records_file):
        if not f.is_file():
            raise RunMissing(f"{f} not found: is {path} the --out directory of an eval run?")
    metrics = json.loads(metrics_file.read_text(encoding="utf-8"))
    records = {}
    with records_file.open(encoding="utf-8") as fh:
        for line in fh:
            if line.strip():
                rec = json.loads(line)
                records[rec["id"]] = rec
    return metrics, records


def _rows(a: dict[str, Any], b: dict[str, Any], prefix: str = "") -> list[tuple]:
    rows = []
    for key in list(dict.fromkeys([*a, *b])):
        va, vb = a.get(key), b.get(key)
        delta = vb - va if isinstance(va, int | float) and isinstance(vb, int | float) else None
        rows.append((prefix + key, va, vb, delta))
    return rows


def compare(dir_a: Path, dir_b: Path) -> dict[str, Any]:
    """{'metrics': [(key, a, b, b - a)], 'flipped': {'pass->fail': [...], 'fail->pass': [...]},
    'only_a': [...], 'only_b': [...]} for two run directories."""
    ma, ra = load_run(dir_a)
    mb, rb = load_run(dir_b)
    rows = _rows(ma.get("metrics", {}), mb.get("metrics", {}))
    for system in sorted(set(ma.get("baselines", {})) | set(mb.get("baselines", {}))):
        rows += _rows(
            ma.get("baselines", {}).get(system, {}),
            mb.get("baselines", {}).get(system, {}),
            prefix=f"[{system}] ",
        )
    flipped: dict[str, list[str]] = {"pass->fail": [], "fail->pass": []}
    for item_id in sorted(set(ra) & set(rb)):
        va, vb = ra[item_id].get("verdict"), rb[item_id].get("verdict")
        if va != vb and va and vb:
            flipped[f"{va}->{vb}"].append(item_id)
    return {
        "a": str(dir_a),
        "b": str(dir_b),
        "metrics": rows,
        "flipped": flipped,
        "questions": {i: (ra.get(i) or rb.get(i) or {}).get("question", "") for i in ra | rb},
        "only_a": sorted(set(ra) - set(rb)),
        "only_b": sorted(set(rb) - set(ra)),
    }


def _num(value: Any) -> str:
    if value is None:
        return "n/a"
    return f"{value:.3f}" if isinstance(value, float) else str(value)


def format_comparison(diff: dict[str, Any]) -> str:
    lines = [f"A = {diff['a']}", f"B = {diff['b']}", ""]
    width = max((len(r[0]) for r in diff["metrics"]), default=10)
    lines.append(f"{'metric':<{width}}  {'A':>9}  {'B':>9}  {'B - A':>9}")
    for key, va, vb, delta in diff["metrics"]:
        sign = "" if delta is None else ("+" if delta > 0 else "")
        shown = "n/a" if delta is None else f"{sign}{delta:.3f}"
        lines.append(f"{key:<{width}}  {_num(va):>9}  {_num(vb):>9}  {shown:>9}")
    for label, ids in diff["flipped"].items():
        lines += ["", f"verdict {label}: {len(ids)}"]
        lines += [f"  {i}: {diff['questions'].get(i, '')}" for i in ids]
    for side, label in (("only_a", "A"), ("only_b", "B")):
        if diff[side]:
            lines += ["", f"items only in {label}: {len(diff[side])}"]
            lines += [f"  {i}" for i in diff[side][:20]]
    return "\n".join(lines)
