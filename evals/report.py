"""report.md and report.html from one list of blocks, so both always say the same thing.

All text that came from data (questions, answers, notes) is escaped in the HTML; plots are PNG
files next to the report, referenced by relative path.
"""

from __future__ import annotations

import html
from pathlib import Path
from typing import Any

from evals import metrics as m
from evals.plots import BASELINE_KEYS, write_plots
from evals.scoring import answer_text, fold
from evals.systems import NAIVE_CITED_CHUNKS, SYSTEM_LABELS

WORST = 10
Block = tuple[Any, ...]


def fmt(value: Any, key: str = "") -> str:
    if value is None:
        return "n/a"
    if isinstance(value, float):
        return f"{value:.0f}" if key.startswith("latency.") else f"{value:.3f}"
    return str(value)


def definitions(judge: bool) -> list[str]:
    """'key: formula' for every metric, from the metric classes' docstrings."""
    keys: dict[type, list[str]] = {}
    for metric in m.all_metrics(judge):
        keys.setdefault(type(metric), []).append(metric.key)
    return [f"{', '.join(k)}: {' '.join((cls.__doc__ or '').split())}" for cls, k in keys.items()]


def _run_facts(run: dict[str, Any]) -> list[str]:
    lib = run["library"]
    state = "built or updated by this run" if lib["built_now"] else "reused as it was"
    return [
        f"Items: {run['items']} (split {run['split']}, limit {run['limit']}, seed {run['seed']}); "
        f"errors: {run['errors']}",
        f"Composer: {run['composer']}; judge: {run['judge'] or 'off'}",
        f"Library: {lib['sources']} sources, {lib['chunks']} chunks in {lib['location']} "
        f"(index {lib['index']}; {state})",
        f"Wall time: {run['wall_time_s']} s (library {run['prepare_s']} s, asks {run['asks_s']} s,"
        f" scoring {run['scoring_s']} s)",
        f"Command: {' '.join(run['command']) or '(python API)'}",
        f"Commit: {run['git_commit'] or 'unknown'}; finished {run['finished']}",
    ]


def _baseline_notes(run: dict[str, Any]) -> list[str]:
    k = run["baseline_k_chunks"]
    return [
        f"{SYSTEM_LABELS['bm25']}: library.lexical.search(query, k={k} chunks).",
        f"{SYSTEM_LABELS['dense']}: library.dense.store.similarity_search(query, k={k} chunks).",
        f"{SYSTEM_LABELS['ours']}: the chain's own retrieval (answer.retrieved_ids) and citations.",
        "Document level: chunk ids mapped to source ids, deduplicated in rank order. A baseline's "
        f"naive answer cites the sources of its top-{NAIVE_CITED_CHUNKS} chunks. Its query is "
        "the earlier user turns and the question joined; ours condenses a follow-up itself.",
    ]


def _metrics_table(result: dict[str, Any]) -> Block:
    base = result["baselines"]
    rows = []
    for key, value in result["metrics"].items():
        cells = [key, fmt(value, key)]
        for system in base:
            cells.append(fmt(base[system].get(key), key) if key in base[system] else "")
        rows.append(cells)
    headers = ["metric", SYSTEM_LABELS["ours"], *(SYSTEM_LABELS[s] for s in base)]
    return ("table", headers, rows)


def _category_table(result: dict[str, Any]) -> Block:
    keys = [
        *BASELINE_KEYS[1:2],
        "citations.expected_cited_rate",
        "citations.support_rate",
        "answer.key_fact_recall",
        "abstention.recall",
        "answer.rougeL",
    ]
    rows = [
        [cat or "(none)", str(vals["n"]), *(fmt(vals.get(k), k) for k in keys)]
        for cat, vals in sorted(result["per_category"].items())
    ]
    return ("table", ["category", "n", *keys], rows)


def _worst(records: list[dict[str, Any]]) -> list[Block]:
    blocks: list[Block] = []
    ranked = sorted(records, key=lambda r: (r.get("quality", 0.0), r["id"]))[:WORST]
    for rec in ranked:
        gold = rec["gold"]
        text = fold(answer_text(rec))
        missing = [f for f in gold.get("key_facts") or [] if fold(f) not in text]
        facts = [
            f"Question: {rec['question']}",
            *(f"Earlier turn: {t}" for t in rec.get("turns", [])),
            f"Category: {rec['category'] or '(none)'}; verdict: {rec.get('verdict')}; "
            f"quality: {fmt(rec.get('quality'))}",
            f"Gold sources: {', '.join(gold['sources']) or '(none: should abstain)'}",
            f"Cited: {', '.join(rec['systems']['ours']['cited']) or '(nothing)'}",
        ]
        if missing:
            facts.append(f"Missing key facts: {', '.join(missing)}")
        if rec.get("error"):
            facts.append(f"Error: {rec['error']}")
        answer = (rec.get("answer") or {}).get("markdown") or "(no answer)"
        blocks += [("h", 3, rec["id"]), ("list", facts), ("pre", answer)]
    return blocks


def blocks(records: list[dict[str, Any]], result: dict[str, Any], plots: dict) -> list[Block]:
    run = result["run"]
    out: list[Block] = [
        ("h", 1, f"Eval run: {run['dataset']} ({run['split']})"),
        ("list", _run_facts(run)),
    ]
    if run["notes"]:
        out += [("h", 2, "About this data set"), ("list", run["notes"])]
    out += [
        ("h", 2, "Metrics, with the baselines beside ours"),
        ("list", _baseline_notes(run)),
        _metrics_table(result),
        ("img", "Baselines beside ours", plots["baselines"]),
        ("img", "Answer metrics", plots["answers"]),
        ("h", 2, "Latency"),
        (
            "p",
            f"p50 {fmt(result['metrics'].get('latency.ask_p50_ms'), 'latency.')} ms, p95 "
            f"{fmt(result['metrics'].get('latency.ask_p95_ms'), 'latency.')} ms per ask.",
        ),
        ("img", "Latency histogram", plots["latency"]),
        ("h", 2, "Per category"),
        _category_table(result),
        ("img", "Per-category breakdown", plots["categories"]),
        ("h", 2, f"The {min(WORST, len(records))} worst items"),
        *_worst(records),
        ("h", 2, "Metric definitions"),
        ("list", definitions(run["judge"] is not None)),
    ]
    return out


def to_markdown(items: list[Block]) -> str:
    lines: list[str] = []
    for block in items:
        kind = block[0]
        if kind == "h":
            lines += [f"{'#' * block[1]} {block[2]}", ""]
        elif kind == "p":
            lines += [block[1], ""]
        elif kind == "list":
            lines += [f"- {x}" for x in block[1]] + [""]
        elif kind == "table":
            lines.append("| " + " | ".join(block[1]) + " |")
            lines.append("|" + "---|" * len(block[1]))
            lines += [
                "| " + " | ".join(c.replace("|", "\\|") for c in row) + " |" for row in block[2]
            ]
            lines.append("")
        elif kind == "img":
            lines += [f"![{block[1]}]({block[2]})", ""]
        elif kind == "pre":
            lines += [f"> {line}" if line else ">" for line in block[1].splitlines()] + [""]
    return "\n".join(lines).rstrip() + "\n"


def to_html(items: list[Block], title: str) -> str:
    e = html.escape
    parts = [
        "<!doctype html>",
        f'<html lang="en"><head><meta charset="utf-8"><title>{e(title)}</title>',
        "<style>body{font-family:sans-serif;max-width:70em;margin:2em auto;padding:0 1em}"
        "table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:.2em .5em}"
        "pre{white-space:pre-wrap;background:#f6f6f6;padding:.5em}img{max-width:100%}</style>",
        "</head><body>",
    ]
    for block in items:
        kind = block[0]
        if kind == "h":
            parts.append(f"<h{block[1]}>{e(block[2])}</h{block[1]}>")
        elif kind == "p":
            parts.append(f"<p>{e(block[1])}</p>")
        elif kind == "list":
            parts.append("<ul>" + "".join(f"<li>{e(x)}</li>" for x in block[1]) + "</ul>")
        elif kind == "table":
            head = "".join(f"<th>{e(h)}</th>" for h in block[1])
            body = "".join(
                "<tr>" + "".join(f"<td>{e(c)}</td>" for c in row) + "</tr>" for row in block[2]
            )
            parts.append(f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>")
        elif kind == "img":
            parts.append(f'<p><img src="{e(block[2])}" alt="{e(block[1])}"></p>')
        elif kind == "pre":
            parts.append(f"<pre>{e(block[1])}</pre>")
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"


def write_report(out: Path, records: list[dict[str, Any]], result: dict[str, Any]) -> None:
    plots = write_plots(out, records, result)
    items = blocks(records, result, plots)
    (out / "report.md").write_text(to_markdown(items), encoding="utf-8")
    title = f"Eval run: {result['run']['dataset']}"
    (out / "report.html").write_text(to_html(items, title), encoding="utf-8")
