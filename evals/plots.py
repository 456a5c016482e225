"""The report's PNG plots (matplotlib, Agg backend): baselines side by side, answer metrics,
latency histogram and the per-category breakdown."""

from __future__ import annotations

from pathlib import Path
from typing import Any

BASELINE_KEYS = (
    "retrieval.recall@1",
    "retrieval.recall@5",
    "retrieval.recall@10",
    "retrieval.mrr",
    "retrieval.ndcg@10",
    "citations.expected_cited_rate",
)
ANSWER_KEYS = (
    "citations.valid_rate",
    "citations.precision",
    "citations.support_rate",
    "answer.key_fact_recall",
    "answer.rougeL",
    "answer.semantic_similarity",
    "abstention.precision",
    "abstention.recall",
    "followup.expected_cited_rate",
    "disclaimer_rate",
)
CATEGORY_KEYS = (
    "citations.expected_cited_rate",
    "retrieval.recall@5",
    "citations.support_rate",
    "answer.key_fact_recall",
)
COLORS = {"bm25": "#9e9e9e", "dense": "#64b5f6", "ours": "#1565c0"}


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


_PREFIXES = {
    "retrieval.": "",
    "answer.": "",
    "latency.": "",
    "citations.": "cite ",
    "abstention.": "abstain ",
    "followup.": "follow-up ",
}


def _short(key: str) -> str:
    for prefix, label in _PREFIXES.items():
        if key.startswith(prefix):
            key = label + key[len(prefix) :]
    return key.replace("cite expected_cited_rate", "cited gold").replace(
        "expected_cited_rate", "cited gold"
    )


def _bars(ax: Any, labels: list[str], series: dict[str, list[float | None]]) -> None:
    width = 0.8 / max(1, len(series))
    for i, (name, values) in enumerate(series.items()):
        xs = [x + (i - (len(series) - 1) / 2) * width for x in range(len(labels))]
        heights = [v if v is not None else 0.0 for v in values]
        ax.bar(xs, heights, width, label=name, color=COLORS.get(name))
        for x, v in zip(xs, values, strict=True):
            ax.text(
                x,
                (v or 0) + 0.01,
                "n/a" if v is None else f"{v:.2f}",
                ha="center",
                va="bottom",
                fontsize=7,
                rotation=90,
            )
    ax.set_xticks(range(len(labels)), labels, rotation=20, ha="right", fontsize=8)
    ax.set_ylim(0, 1.3)
    ax.grid(axis="y", alpha=0.3)


def _legend(ax: Any, n: int) -> None:
    """Above the bars, in one row, so it never hides a bar."""
    ax.legend(
        fontsize=8, loc="upper center", bbox_to_anchor=(0.5, 1.0), ncol=max(1, n), frameon=False
    )


def plot_baselines(result: dict[str, Any], path: Path) -> None:
    plt = _pyplot()
    series = {
        name: [values.get(k) for k in BASELINE_KEYS]
        for name, values in (*result["baselines"].items(), ("ours", result["metrics"]))
    }
    fig, ax = plt.subplots(figsize=(8, 4))
    _bars(ax, [_short(k) for k in BASELINE_KEYS], series)
    ax.set_title("Retrieval and cited-gold rate: baselines beside ours")
    _legend(ax, len(series))
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def plot_answers(result: dict[str, Any], path: Path) -> None:
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(8, 4))
    _bars(
        ax,
        [_short(k) for k in ANSWER_KEYS],
        {"ours": [result["metrics"].get(k) for k in ANSWER_KEYS]},
    )
    ax.set_title("Citation, answer and behaviour metrics (ours)")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def plot_latency(latencies: list[float], result: dict[str, Any], path: Path) -> None:
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6, 3.5))
    ax.hist(latencies or [0.0], bins=30, color=COLORS["ours"])
    for key, style in (("latency.ask_p50_ms", "--"), ("latency.ask_p95_ms", ":")):
        value = result["metrics"].get(key)
        if value is not None:
            ax.axvline(value, color="black", linestyle=style, label=f"{_short(key)} {value:.0f}")
    ax.set_xlabel("ask wall time (ms)")
    ax.set_ylabel("questions")
    ax.set_title("Latency of the scored ask")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def plot_categories(result: dict[str, Any], path: Path) -> None:
    plt = _pyplot()
    cats = sorted(result["per_category"])
    keys = [
        k for k in CATEGORY_KEYS if any(result["per_category"][c].get(k) is not None for c in cats)
    ]
    fig, ax = plt.subplots(figsize=(max(6, 0.9 * len(cats) + 2), 4))
    series = {_short(k): [result["per_category"][c].get(k) for c in cats] for k in keys}
    _bars(ax, [f"{c or '(none)'} (n={result['per_category'][c]['n']})" for c in cats], series)
    ax.set_title("Per-category breakdown (ours)")
    _legend(ax, len(series))
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


PLOTS = {
    "baselines": "plot-baselines.png",
    "answers": "plot-answers.png",
    "latency": "plot-latency.png",
    "categories": "plot-categories.png",
}


def write_plots(out: Path, records: list[dict[str, Any]], result: dict[str, Any]) -> dict:
    """Write every plot into ``out``; returns {plot: file name}."""
    latencies = [
        float(r["timings_ms"]["ask"]["total"])
        for r in records
        if (r.get("timings_ms", {}).get("ask") or {}).get("total") is not None
    ]
    plot_baselines(result, out / PLOTS["baselines"])
    plot_answers(result, out / PLOTS["answers"])
    plot_latency(latencies, result, out / PLOTS["latency"])
    plot_categories(result, out / PLOTS["categories"])
    return dict(PLOTS)
