"""Eval metrics: one small class each, its formula in its docstring.

A metric looks at one record of ``records.jsonl`` (a dict) and returns a ``Ratio`` (numerator,
denominator), or None when it does not apply to that item. The run's value is
sum(numerators) / sum(denominators): a plain mean when every denominator is 1, a micro-average
otherwise. Retrieval and cited-gold metrics take ``system`` ("ours", "bm25", "dense") and read
``record["systems"][system]``; everything else scores the chain's answer.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from typing import Any, ClassVar

from assistant.ask.citations import MARKER_RE
from assistant.text import STOPWORDS, content_terms, numbers
from evals.scoring import (
    Context,
    Record,
    abstained,
    answer_of,
    answer_text,
    bottom_line,
    bullets,
    evidence_numbers,
    fold,
    nearest_rank,
    question_facets,
    references,
    subject_terms,
    support,
    support_texts,
)

Ratio = tuple[float, float]
RANK_CUTOFF = 10


# --------------------------------------------------------------------------- base


class Metric:
    """Base: ``score`` one record, ``aggregate`` the ratios (sum num / sum den)."""

    name: ClassVar[str] = ""
    needs_encoder: ClassVar[bool] = False

    def __init__(self, system: str = "ours") -> None:
        self.system = system

    @property
    def key(self) -> str:
        return self.name

    def score(self, rec: Record, ctx: Context) -> Ratio | None:
        raise NotImplementedError

    def texts(self, rec: Record) -> list[str]:
        """Texts this metric will embed for ``rec`` (encoded up front, in one batch)."""
        return []

    def aggregate(self, parts: Sequence[Ratio]) -> float | None:
        den = sum(d for _, d in parts)
        return sum(n for n, _ in parts) / den if den else None

    def ranked(self, rec: Record) -> list[str]:
        return list(rec.get("systems", {}).get(self.system, {}).get("sources", []))

    def cited(self, rec: Record) -> list[str]:
        return list(rec.get("systems", {}).get(self.system, {}).get("cited", []))


def _gold(rec: Record) -> list[str]:
    return list(rec.get("gold", {}).get("sources") or [])


# --------------------------------------------------------------------------- retrieval


class RecallAtK(Metric):
    """recall@k = |gold sources among the top-k retrieved sources| / |gold sources|; document
    level (chunk ids mapped to source ids, deduplicated in rank order); items with gold only."""

    def __init__(self, k: int, system: str = "ours") -> None:
        super().__init__(system)
        self.k = k

    @property
    def key(self) -> str:
        return f"retrieval.recall@{self.k}"

    def score(self, rec: Record, ctx: Context) -> Ratio | None:
        gold = set(_gold(rec))
        if not gold:
            return None
        return len(gold & set(self.ranked(rec)[: self.k])) / len(gold), 1.0


class MRR(Metric):
    """mrr = mean over items with gold of 1 / rank of the first gold source in the top 10
    retrieved sources (0 when none is there); the cut-off makes lists of any length comparable."""

    name = "retrieval.mrr"

    def score(self, rec: Record, ctx: Context) -> Ratio | None:
        gold = set(_gold(rec))
        if not gold:
            return None
        for rank, sid in enumerate(self.ranked(rec)[:RANK_CUTOFF], start=1):
            if sid in gold:
                return 1.0 / rank, 1.0
        return 0.0, 1.0


class NDCGAt10(Metric):
    """ndcg@10 = DCG / ideal DCG with binary relevance: DCG = sum over the top 10 sources of
    rel_i / log2(i + 1), i the rank from 1; the ideal ranks min(|gold|, 10) gold sources first."""

    name = "retrieval.ndcg@10"

    def score(self, rec: Record, ctx: Context) -> Ratio | None:
        gold = set(_gold(rec))
        if not gold:
            return None
        ranked = self.ranked(rec)[:RANK_CUTOFF]
        dcg = sum(1 / math.log2(i + 2) for i, sid in enumerate(ranked) if sid in gold)
        ideal = sum(1 / math.log2(i + 2) for i in range(min(len(gold), RANK_CUTOFF)))
        return dcg / ideal, 1.0


# --------------------------------------------------------------------------- citations


class ExpectedCitedRate(Metric):
    """expected_cited_rate = answerable items with gold sources whose answer cites >= 1 gold
    source / those items. A baseline's naive answer cites the sources of its top-3 chunks."""

    name = "citations.expected_cited_rate"
    followups_only: ClassVar[bool] = False

    def score(self, rec: Record, ctx: Context) -> Ratio | None:
        gold = set(_gold(rec))
        if not gold or rec.get("gold", {}).get("should_abstain"):
            return None
        if self.followups_only and not rec.get("turns"):
            return None
        return float(bool(gold & set(self.cited(rec)))), 1.0


class FollowupExpectedCitedRate(ExpectedCitedRate):
    """followup.expected_cited_rate = the expected-cited rate over conversation items only (the
    earlier turns were asked first, the last answer is scored)."""

    name = "followup.expected_cited_rate"
    followups_only = True


class CitationValidRate(Metric):
    """valid_rate = citation markers that resolve to a reference of the same answer / all
    markers (micro-average over the answer's sentences)."""

    name = "citations.valid_rate"

    def score(self, rec: Record, ctx: Context) -> Ratio | None:
        refs = references(rec)
        marks = [n for b in bullets(rec) for n in b.get("citations", [])]
        if not marks:
            return None
        return float(sum(1 for n in marks if n in refs)), float(len(marks))


class CitationPrecision(Metric):
    """precision = (sentence, cited source) pairs where the source is gold or supports the
    sentence on its own (see SupportRate) / all such pairs."""

    name = "citations.precision"
    needs_encoder = True

    def texts(self, rec: Record) -> list[str]:
        return support_texts(rec)

    def score(self, rec: Record, ctx: Context) -> Ratio | None:
        refs, gold = references(rec), set(_gold(rec))
        good = total = 0
        for b in bullets(rec):
            for n in b.get("citations", []):
                ref = refs.get(n)
                if ref is None:
                    total += 1
                    continue
                total += 1
                good += ref["source_id"] in gold or support(b["text"], [ref], ctx)[0]
        return (float(good), float(total)) if total else None


class SupportRate(Metric):
    """support_rate (ALCE-style) = answer sentences supported by their cited passages / all
    answer sentences. Supported: the sentence cites >= 1 passage, every number in it appears in
    the cited passages (or the cited sources' title/year), and its cosine to the most similar
    cited passage sentence is >= the support threshold (SUPPORT_THRESHOLD, 0.7, MiniLM cosine).
    Uncited sentences count as unsupported. Generated evidence sentences (the evidence profile,
    result ranges: ``generated``) are not quotations and are scored by GeneratedTraced."""

    name = "citations.support_rate"
    needs_encoder = True

    def texts(self, rec: Record) -> list[str]:
        return support_texts(rec)

    def score(self, rec: Record, ctx: Context) -> Ratio | None:
        refs = references(rec)
        items = [b for b in bullets(rec) if not b.get("generated")]
        if not items:
            return None
        ok = 0
        for b in items:
            cited = [refs[n] for n in b.get("citations", []) if n in refs]
            ok += bool(cited) and support(b["text"], cited, ctx)[0]
        return float(ok), float(len(items))


class GeneratedTraced(Metric):
    """generated.numbers_traced = generated evidence sentences (evidence profile, result ranges,
    conflicts) whose every number (markers aside) appears in the passages they cite / all such
    sentences; answers without one do not count."""

    name = "generated.numbers_traced"

    def score(self, rec: Record, ctx: Context) -> Ratio | None:
        refs = references(rec)
        items = [b for b in bullets(rec) if b.get("generated")]
        if not items:
            return None
        ok = 0
        for b in items:
            cited = [refs[n] for n in b.get("citations", []) if n in refs]
            text = MARKER_RE.sub("", b["text"])
            ok += bool(cited) and numbers(text) <= evidence_numbers(cited)
        return float(ok), float(len(items))


# --------------------------------------------------------------------------- answers


class KeyFactRecall(Metric):
    """key_fact_recall = mean over items with key facts of (key facts found in the answer text
    / key facts); matching is case-folded with dashes and spaces normalised; an abstention
    finds none."""

    name = "answer.key_fact_recall"

    def score(self, rec: Record, ctx: Context) -> Ratio | None:
        facts = rec.get("gold", {}).get("key_facts") or []
        if not facts:
            return None
        text = fold(answer_text(rec))
        return sum(1 for f in facts if fold(f) in text) / len(facts), 1.0


class RougeL(Metric):
    """rougeL = mean ROUGE-L F1 (rouge-score, Porter stemming) of the answer text against the
    gold long answer; an abstention scores 0."""

    name = "answer.rougeL"
    _scorer: Any = None

    def score(self, rec: Record, ctx: Context) -> Ratio | None:
        gold = rec.get("gold", {}).get("answer")
        if not gold:
            return None
        text = answer_text(rec)
        if not text:
            return 0.0, 1.0
        if RougeL._scorer is None:
            from rouge_score import rouge_scorer

            RougeL._scorer = rouge_scorer.RougeScorer(["rougeL"], use_stemmer=True)
        return float(RougeL._scorer.score(gold, text)["rougeL"].fmeasure), 1.0


class SemanticSimilarity(Metric):
    """semantic_similarity = mean cosine of the embeddings (the library's embedder, which reads
    the first 256 tokens) of the answer text and the gold long answer; an abstention scores 0."""

    name = "answer.semantic_similarity"
    needs_encoder = True

    def texts(self, rec: Record) -> list[str]:
        gold = rec.get("gold", {}).get("answer")
        return [gold, answer_text(rec)] if gold else []

    def score(self, rec: Record, ctx: Context) -> Ratio | None:
        gold = rec.get("gold", {}).get("answer")
        if not gold:
            return None
        return max(0.0, ctx.require_encoder().cosine(answer_text(rec), gold)), 1.0


# --------------------------------------------------------------------------- behaviour


class AbstentionPrecision(Metric):
    """abstention.precision = items that should abstain among those the chain abstained on /
    items it abstained on."""

    name = "abstention.precision"

    def score(self, rec: Record, ctx: Context) -> Ratio | None:
        if not abstained(rec):
            return None
        return float(bool(rec.get("gold", {}).get("should_abstain"))), 1.0


class AbstentionRecall(Metric):
    """abstention.recall = items the chain abstained on among those that should abstain /
    items that should abstain."""

    name = "abstention.recall"

    def score(self, rec: Record, ctx: Context) -> Ratio | None:
        if not rec.get("gold", {}).get("should_abstain"):
            return None
        return float(abstained(rec)), 1.0


class BottomLinePresent(Metric):
    """bottom_line.present = answered items (not abstained, no error) whose answer opens with a
    non-empty "Bottom line" section / answered items."""

    name = "bottom_line.present"

    def score(self, rec: Record, ctx: Context) -> Ratio | None:
        if answer_of(rec) is None or abstained(rec):
            return None
        return float(bool(bottom_line(rec))), 1.0


class BottomLineOnTopic(Metric):
    """bottom_line.on_topic (reviewer-style) = answered items whose bottom line (the first
    bullet of the "Bottom line" section) names the question's subject AND speaks to its facet /
    answered items. Subject: at least one of the question's subject words (stemmed content words
    that are neither general scaffolding nor facet words, prompts/vocabulary.yaml) is in the
    bottom line or in the title of a source it cites; facet: when the question asks about a
    facet (efficacy, dosing, safety, ...), the bottom line speaks to it or to a facet related to
    it with credit >= 0.5; questions without a facet need only the subject. An acronym of the
    question ("AMD") is also named by its expansion, words whose initials spell it ("age-related
    macular degeneration")."""

    name = "bottom_line.on_topic"

    def score(self, rec: Record, ctx: Context) -> Ratio | None:
        if answer_of(rec) is None or abstained(rec):
            return None
        line = bottom_line(rec)
        if not line:
            return 0.0, 1.0
        question = rec.get("standalone_question") or rec["question"]
        text = MARKER_RE.sub("", line["text"])
        refs = references(rec)
        titles = " ".join(refs[n].get("title", "") for n in line.get("citations", []) if n in refs)
        subject = subject_terms(question)
        named = (
            not subject
            or bool(subject & set(content_terms(f"{text} {titles}")))
            or any(spelled_out(a, f"{text} {titles}") for a in acronyms(question))
        )
        wanted = question_facets(question, related=False)
        spoken = question_facets(text, related=True)
        return float(named and (not wanted or bool(wanted & spoken))), 1.0


ACRONYM_RE = re.compile(r"\b[A-Z][A-Z0-9]{1,5}s?\b")


def acronyms(question: str) -> list[str]:
    """Upper-case abbreviations of three or more letters in a question ("AMD", "CKDs" ->
    "CKD"), letters only."""
    out = []
    for m in ACRONYM_RE.finditer(question):
        letters = re.sub(r"[^A-Z]", "", m.group(0).rstrip("s"))
        if len(letters) >= 3:
            out.append(letters)
    return out


def spelled_out(acronym: str, text: str) -> bool:
    """Whether consecutive words of ``text`` other than stopwords (hyphenated words counted
    whole) start with the acronym's letters: "age-related macular degeneration" spells AMD."""
    words = [w for w in re.findall(r"[A-Za-z][\w'-]*", text) if w.lower() not in STOPWORDS]
    initials = "".join(w[0] for w in words).upper()
    return acronym.upper() in initials


class BottomLineConcentration(Metric):
    """bottom_line.max_share = the largest share of answered items that have one and the same
    bottom line (first bullet text) / answered items with a bottom line; lower is better."""

    name = "bottom_line.max_share"

    def score(self, rec: Record, ctx: Context) -> Ratio | None:
        return None  # a property of the whole run: see aggregate_records

    def aggregate_records(self, records: Sequence[Record]) -> float | None:
        lines = [
            " ".join(line["text"].split())
            for r in records
            if answer_of(r) is not None and not abstained(r) and (line := bottom_line(r))
        ]
        if not lines:
            return None
        counts: dict[str, int] = {}
        for text in lines:
            counts[text] = counts.get(text, 0) + 1
        return max(counts.values()) / len(lines)


class FalseAbstentionRate(Metric):
    """abstention.false_rate = answerable items (should not abstain) the chain abstained on /
    answerable items (a failed ask counts as not abstaining)."""

    name = "abstention.false_rate"

    def score(self, rec: Record, ctx: Context) -> Ratio | None:
        if rec.get("gold", {}).get("should_abstain"):
            return None
        return float(abstained(rec)), 1.0


class DisclaimerRate(Metric):
    """disclaimer_rate = answers (abstentions included) whose rendered Markdown shows the
    non-empty disclaimer / all answers (a failed ask counts as an answer without it)."""

    name = "disclaimer_rate"

    def score(self, rec: Record, ctx: Context) -> Ratio | None:
        answer = answer_of(rec)
        if answer is None:
            return 0.0, 1.0
        from assistant.ask.render import md_escape

        text = (answer.get("disclaimer") or "").strip()
        shown = bool(text) and md_escape(text) in (answer.get("markdown") or "")
        return float(shown), 1.0


class LatencyPercentile(Metric):
    """latency.ask_pNN_ms = the nearest-rank NNth percentile of the scored ask's total wall
    time (the earlier turns of a conversation are not included)."""

    def __init__(self, pct: int) -> None:
        super().__init__("ours")
        self.pct = pct

    @property
    def key(self) -> str:
        return f"latency.ask_p{self.pct}_ms"

    def score(self, rec: Record, ctx: Context) -> Ratio | None:
        total = (rec.get("timings_ms", {}).get("ask") or {}).get("total")
        return (float(total), 1.0) if total is not None else None

    def aggregate(self, parts: Sequence[Ratio]) -> float | None:
        return nearest_rank([n for n, _ in parts], self.pct)


class JudgeScore(Metric):
    """judge.<field> = mean of the LLM judge's 0-1 score (RAGAS-style faithfulness: share of the
    answer's statements its cited sources support; relevancy: how directly it answers) over the
    answers it graded. Only present when a judge was configured."""

    def __init__(self, field_name: str) -> None:
        super().__init__("ours")
        self.field_name = field_name

    @property
    def key(self) -> str:
        return f"judge.{self.field_name}"

    def score(self, rec: Record, ctx: Context) -> Ratio | None:
        value = (rec.get("judge") or {}).get(self.field_name)
        return (float(value), 1.0) if isinstance(value, int | float) else None


# --------------------------------------------------------------------------- registry


def baseline_metrics(system: str) -> list[Metric]:
    """The metrics every system (ours and the baselines) is scored on."""
    return [
        RecallAtK(1, system),
        RecallAtK(5, system),
        RecallAtK(10, system),
        MRR(system),
        NDCGAt10(system),
        ExpectedCitedRate(system),
        FollowupExpectedCitedRate(system),
    ]


def answer_metrics(judge: bool = False) -> list[Metric]:
    out: list[Metric] = [
        CitationValidRate(),
        CitationPrecision(),
        SupportRate(),
        GeneratedTraced(),
        BottomLinePresent(),
        BottomLineOnTopic(),
        BottomLineConcentration(),
        KeyFactRecall(),
        RougeL(),
        SemanticSimilarity(),
        AbstentionPrecision(),
        AbstentionRecall(),
        FalseAbstentionRate(),
        DisclaimerRate(),
        LatencyPercentile(50),
        LatencyPercentile(95),
    ]
    if judge:
        out += [JudgeScore("faithfulness"), JudgeScore("relevancy")]
    return out


def all_metrics(judge: bool = False) -> list[Metric]:
    return [*baseline_metrics("ours"), *answer_metrics(judge)]


def prime(metrics: Sequence[Metric], records: Sequence[Record], ctx: Context, progress: bool):
    """Encode every text the metrics will need, once, in batches."""
    if ctx.encoder is None or not any(m.needs_encoder for m in metrics):
        return
    texts = [t for m in metrics if m.needs_encoder for r in records for t in m.texts(r)]
    ctx.encoder.prime(texts, progress=progress)


def compute(metrics: Sequence[Metric], records: Sequence[Record], ctx: Context) -> dict:
    """{metric key: value or None} over ``records``."""
    out: dict[str, float | None] = {}
    for metric in metrics:
        whole = getattr(metric, "aggregate_records", None)
        if whole is not None:
            value = whole(records)
        else:
            parts = [p for p in (metric.score(r, ctx) for r in records) if p is not None]
            value = metric.aggregate(parts)
        out[metric.key] = None if value is None else round(value, 4)
    return out


def item_scores(rec: Record, ctx: Context, metrics: Sequence[Metric]) -> dict[str, float]:
    """Per-item values (num / den) of the metrics that apply to ``rec``, latency excluded."""
    out: dict[str, float] = {}
    for metric in metrics:
        if isinstance(metric, LatencyPercentile):
            continue
        part = metric.score(rec, ctx)
        if part is not None and part[1]:
            out[metric.key] = round(part[0] / part[1], 4)
    return out


def verdict(rec: Record, scores: dict[str, float]) -> str:
    """'pass' or 'fail' for one item: abstain when it should; otherwise answer, cite a gold
    source (when there is one) and contain every key fact (when there are any)."""
    if rec.get("error"):
        return "fail"
    if rec.get("gold", {}).get("should_abstain"):
        return "pass" if abstained(rec) else "fail"
    if abstained(rec):
        return "fail"
    if scores.get(ExpectedCitedRate.name, 1.0) < 1.0:
        return "fail"
    return "pass" if scores.get(KeyFactRecall.name, 1.0) >= 1.0 else "fail"


QUALITY_KEYS = (
    ExpectedCitedRate.name,
    KeyFactRecall.name,
    SupportRate.name,
    RougeL.name,
    SemanticSimilarity.name,
)


def quality(rec: Record, scores: dict[str, float]) -> float:
    """Mean of the item's answer-quality scores (and 1/0 for a right/wrong abstention);
    the report lists the items with the lowest value as the worst."""
    values = [scores[k] for k in QUALITY_KEYS if k in scores]
    if rec.get("gold", {}).get("should_abstain") or not values:
        values.append(1.0 if verdict(rec, scores) == "pass" else 0.0)
    return round(sum(values) / len(values), 4)
