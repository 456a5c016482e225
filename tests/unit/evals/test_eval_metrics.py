"""Every metric class on hand-made records, edge cases included (no model: bag-of-words)."""

from __future__ import annotations

import math

import pytest

from evals import metrics as m
from evals.scoring import Context, Encoder, nearest_rank, support


def value(metric: m.Metric, records: list, ctx: Context) -> float | None:
    return m.compute([metric], records, ctx)[metric.key]


# -- retrieval ------------------------------------------------------------------------------


def test_recall_at_k_is_the_fraction_of_gold_in_the_top_k(rec, ctx) -> None:
    r = rec(gold_sources=["a", "b"], systems={"ours": {"sources": ["x", "a", "y", "b"]}})
    assert value(m.RecallAtK(1), [r], ctx) == 0.0
    assert value(m.RecallAtK(2), [r], ctx) == 0.5
    assert value(m.RecallAtK(5), [r], ctx) == 1.0


def test_retrieval_metrics_skip_items_without_gold_and_score_empty_lists_zero(rec, ctx) -> None:
    no_gold = rec(gold_sources=[], should_abstain=True, abstained=True)
    empty = rec("q2", gold_sources=["a"], systems={"ours": {"sources": []}})
    for metric in (m.RecallAtK(5), m.MRR(), m.NDCGAt10()):
        assert value(metric, [no_gold], ctx) is None
        assert value(metric, [no_gold, empty], ctx) == 0.0


def test_mrr_uses_the_first_gold_rank_and_cuts_at_ten(rec, ctx) -> None:
    third = rec(gold_sources=["g"], systems={"ours": {"sources": ["x", "y", "g", "g2"]}})
    assert value(m.MRR(), [third], ctx) == pytest.approx(1 / 3, abs=1e-4)
    eleventh = rec(gold_sources=["g"], systems={"ours": {"sources": [*"abcdefhijk", "g"]}})
    assert value(m.MRR(), [eleventh], ctx) == 0.0
    assert value(m.MRR(), [third, eleventh], ctx) == pytest.approx(round(1 / 6, 4))


def test_ndcg_is_one_for_an_ideal_ranking_and_discounts_by_log_rank(rec, ctx) -> None:
    ideal = rec(gold_sources=["a", "b"], systems={"ours": {"sources": ["a", "b", "x"]}})
    assert value(m.NDCGAt10(), [ideal], ctx) == 1.0
    second = rec(gold_sources=["a"], systems={"ours": {"sources": ["x", "a"]}})
    assert value(m.NDCGAt10(), [second], ctx) == pytest.approx(round(1 / math.log2(3), 4))


def test_metrics_read_the_named_system(rec, ctx) -> None:
    r = rec(gold_sources=["a"], systems={"ours": {"sources": ["a"]}, "bm25": {"sources": ["z"]}})
    assert value(m.RecallAtK(1, "bm25"), [r], ctx) == 0.0
    assert value(m.RecallAtK(1, "dense"), [r], ctx) == 0.0  # absent system: nothing retrieved
    assert value(m.RecallAtK(1), [r], ctx) == 1.0


# -- citations ------------------------------------------------------------------------------


def test_expected_cited_rate_counts_items_citing_any_gold_source(rec, ctx) -> None:
    hit = rec(gold_sources=["src-a", "other"])
    miss = rec("q2", gold_sources=["other"])
    abstain_item = rec("q3", gold_sources=[], should_abstain=True, abstained=True)
    assert value(m.ExpectedCitedRate(), [hit, miss, abstain_item], ctx) == 0.5


def test_followup_rate_only_looks_at_conversations(rec, ctx) -> None:
    single = rec(gold_sources=["src-a"])
    follow = rec("q2", gold_sources=["nope"], turns=["earlier question"])
    assert value(m.FollowupExpectedCitedRate(), [single], ctx) is None
    assert value(m.FollowupExpectedCitedRate(), [single, follow], ctx) == 0.0
    assert value(m.ExpectedCitedRate(), [single, follow], ctx) == 0.5


def test_valid_rate_counts_markers_that_resolve(rec, ctx) -> None:
    r = rec(bullets=[("One.", [1, 7]), ("Two.", [1])])
    assert value(m.CitationValidRate(), [r], ctx) == pytest.approx(round(2 / 3, 4))
    uncited = rec(bullets=[("No marker here.", [])])
    assert value(m.CitationValidRate(), [uncited], ctx) is None
    assert value(m.CitationValidRate(), [rec(abstained=True)], ctx) is None


def test_support_needs_matching_numbers_and_a_similar_sentence(rec, ctx) -> None:
    refs = {1: ("src-a", "Fever resolved in 19 of 21 patients. Ferritin fell.")}
    good = rec(bullets=[("Fever resolved in 19 of 21 patients.", [1])], refs=refs)
    wrong_number = rec(bullets=[("Fever resolved in 20 of 21 patients.", [1])], refs=refs)
    unrelated = rec(bullets=[("Etoposide dosing schedules vary widely.", [1])], refs=refs)
    uncited = rec(bullets=[("Fever resolved in 19 of 21 patients.", [])], refs=refs)
    assert value(m.SupportRate(), [good], ctx) == 1.0
    assert value(m.SupportRate(), [wrong_number], ctx) == 0.0
    assert value(m.SupportRate(), [unrelated], ctx) == 0.0
    assert value(m.SupportRate(), [uncited], ctx) == 0.0
    assert value(m.SupportRate(), [rec(abstained=True)], ctx) is None
    both = [good, unrelated]
    assert value(m.SupportRate(), both, ctx) == 0.5


def test_numbers_in_the_title_or_year_count_as_evidence(rec, ctx) -> None:
    refs = {1: ("src-a", "Fever resolved quickly after anakinra.")}
    r = rec(bullets=[("In 2020, fever resolved quickly after anakinra.", [1])], refs=refs)
    ref = {"source_id": "src-a", "year": 2020, "title": "t", "passages": [{"text": refs[1][1]}]}
    assert support("In 2020, fever resolved quickly after anakinra.", [ref], ctx)[0]
    assert value(m.SupportRate(), [r], ctx) == 1.0


def test_support_threshold_is_applied(rec, ctx) -> None:
    refs = {1: ("src-a", "Fever resolved in 19 of 21 patients treated early.")}
    r = rec(bullets=[("Fever resolved in 19 of 21 patients.", [1])], refs=refs)
    strict = Context(encoder=ctx.encoder, support_threshold=0.999)
    lenient = Context(encoder=ctx.encoder, support_threshold=0.0)
    assert value(m.SupportRate(), [r], strict) == 0.0
    assert value(m.SupportRate(), [r], lenient) == 1.0


def test_citation_precision_accepts_gold_or_supporting_sources(rec, ctx) -> None:
    refs = {1: ("gold-src", "Unrelated words entirely."), 2: ("other", "Fever fell in 3 days.")}
    r = rec(
        gold_sources=["gold-src"],
        bullets=[("Fever fell in 3 days.", [1, 2]), ("Ferritin rose sharply.", [2])],
        refs=refs,
    )
    # pairs: (b1, gold) ok, (b1, other) supports, (b2, other) does not -> 2/3
    assert value(m.CitationPrecision(), [r], ctx) == pytest.approx(round(2 / 3, 4))
    dangling = rec(bullets=[("Fever fell.", [9])], gold_sources=["x"])
    assert value(m.CitationPrecision(), [dangling], ctx) == 0.0
    assert value(m.CitationPrecision(), [rec(abstained=True)], ctx) is None


# -- answers --------------------------------------------------------------------------------


def test_key_fact_recall_folds_case_and_dashes(rec, ctx) -> None:
    r = rec(
        key_facts=["6-10 mg/kg/day", "REMISSION", "absent fact"],
        bullets=[("Children got 6\u201310 mg/kg/day and reached remission.", [1])],
    )
    assert value(m.KeyFactRecall(), [r], ctx) == pytest.approx(round(2 / 3, 4))
    assert value(m.KeyFactRecall(), [rec(key_facts=[])], ctx) is None
    assert value(m.KeyFactRecall(), [rec(key_facts=["x"], abstained=True)], ctx) == 0.0


def test_rouge_l_against_the_gold_answer(rec, ctx) -> None:
    same = rec(gold_answer="Anakinra worked in 19 of 21 patients.")
    assert value(m.RougeL(), [same], ctx) == 1.0
    disjoint = rec(gold_answer="Completely different words here.")
    assert value(m.RougeL(), [disjoint], ctx) == 0.0
    assert value(m.RougeL(), [rec(gold_answer=None)], ctx) is None
    assert value(m.RougeL(), [rec(gold_answer="x y", abstained=True)], ctx) == 0.0


def test_semantic_similarity_is_the_cosine_to_the_gold_answer(rec, ctx) -> None:
    same = rec(gold_answer="Anakinra worked in 19 of 21 patients.")
    assert value(m.SemanticSimilarity(), [same], ctx) == pytest.approx(1.0)
    disjoint = rec(gold_answer="Etoposide toxicity")
    assert value(m.SemanticSimilarity(), [disjoint], ctx) == 0.0
    assert value(m.SemanticSimilarity(), [rec(gold_answer="a b", abstained=True)], ctx) == 0.0
    with pytest.raises(ValueError, match="encoder"):
        m.SemanticSimilarity().score(same, Context())


# -- behaviour ------------------------------------------------------------------------------


def test_abstention_precision_and_recall(rec, ctx) -> None:
    right = rec("a", gold_sources=[], should_abstain=True, abstained=True)
    missed = rec("b", gold_sources=[], should_abstain=True, abstained=False)
    wrong = rec("c", gold_sources=["x"], abstained=True)
    answered = rec("d")
    records = [right, missed, wrong, answered]
    assert value(m.AbstentionPrecision(), records, ctx) == 0.5
    assert value(m.AbstentionRecall(), records, ctx) == 0.5
    assert value(m.AbstentionPrecision(), [answered], ctx) is None
    assert value(m.AbstentionRecall(), [answered], ctx) is None


def test_disclaimer_rate_counts_answers_showing_it(rec, ctx) -> None:
    shown = rec()
    missing = rec("b", disclaimer="")
    failed = rec("c", error="RuntimeError: boom")
    assert value(m.DisclaimerRate(), [shown, missing, failed], ctx) == pytest.approx(0.3333)
    assert value(m.DisclaimerRate(), [rec(abstained=True)], ctx) == 1.0


def test_latency_percentiles_use_nearest_rank(rec, ctx) -> None:
    records = [rec(str(i), total_ms=float(ms)) for i, ms in enumerate([50, 10, 40, 30, 20])]
    assert value(m.LatencyPercentile(50), records, ctx) == 30.0
    assert value(m.LatencyPercentile(95), records, ctx) == 50.0
    assert value(m.LatencyPercentile(50), [rec(total_ms=None)], ctx) is None
    assert nearest_rank([], 50) is None
    assert nearest_rank([7.0], 95) == 7.0


def test_judge_scores_average_only_graded_answers(rec, ctx) -> None:
    graded = rec()
    graded["judge"] = {"faithfulness": 0.5, "relevancy": 1.0}
    failed = rec("b")
    failed["judge"] = {"error": "unparseable judge reply"}
    assert value(m.JudgeScore("faithfulness"), [graded, failed], ctx) == 0.5
    assert value(m.JudgeScore("relevancy"), [failed], ctx) is None


# -- per item -------------------------------------------------------------------------------


def test_verdicts(rec, ctx) -> None:
    metrics = m.all_metrics()

    def verdict(r: dict) -> str:
        return m.verdict(r, m.item_scores(r, ctx, metrics))

    assert verdict(rec(key_facts=["19 of 21"])) == "pass"
    assert verdict(rec(key_facts=["missing"])) == "fail"
    assert verdict(rec(gold_sources=["elsewhere"])) == "fail"
    assert verdict(rec(abstained=True)) == "fail"
    assert verdict(rec(gold_sources=[], should_abstain=True, abstained=True)) == "pass"
    assert verdict(rec(gold_sources=[], should_abstain=True)) == "fail"
    assert verdict(rec(error="boom")) == "fail"


def test_quality_orders_bad_items_first(rec, ctx) -> None:
    metrics = m.all_metrics()
    good = rec(key_facts=["19 of 21"])
    bad = rec("b", key_facts=["nope"], gold_sources=["elsewhere"])
    q_good = m.quality(good, m.item_scores(good, ctx, metrics))
    q_bad = m.quality(bad, m.item_scores(bad, ctx, metrics))
    assert 0 <= q_bad < q_good <= 1


def test_encoder_caches_and_batches() -> None:
    calls: list[int] = []

    def embed(texts: list[str]) -> list[list[float]]:
        calls.append(len(texts))
        return [[1.0, float(len(t))] for t in texts]

    enc = Encoder(embed, batch=2)
    enc.prime(["a", "bb", "a", "ccc", ""])
    assert calls == [2, 1]
    enc.vector("a")
    assert calls == [2, 1]
    assert enc.cosine("a", "") == 0.0
    assert enc.cosine("a", "a") == pytest.approx(1.0)


def _with_bottom_line(record: dict, question: str, line: str, title: str) -> dict:
    record["question"] = question
    record["answer"]["sections"].insert(
        0,
        {
            "heading": "Bottom line",
            "kind": "bottom-line",
            "bullets": [{"text": line, "citations": [1]}],
            "subsections": [],
        },
    )
    record["answer"]["references"][0]["title"] = title
    return record


def test_bottom_line_on_topic_needs_the_subject_and_the_facet(rec, ctx) -> None:
    metric = m.BottomLineOnTopic()
    question = "What are the side effects of metformin?"
    on = _with_bottom_line(
        rec("a"), question, "Metformin often causes side effects such as nausea. [1]", "T"
    )
    wrong_facet = _with_bottom_line(rec("b"), question, "Metformin lowers blood glucose. [1]", "T")
    wrong_subject = _with_bottom_line(rec("c"), question, "Insulin has side effects. [1]", "T")
    assert value(metric, [on], ctx) == 1.0
    assert value(metric, [wrong_facet], ctx) == 0.0
    assert value(metric, [wrong_subject], ctx) == 0.0


def test_an_acronym_is_named_by_its_expansion_not_by_any_initials(rec, ctx) -> None:
    metric = m.BottomLineOnTopic()
    question = "How is wet AMD treated?"
    expanded = _with_bottom_line(
        rec("a"),
        question,
        "Injections are the usual treatment. [1]",
        "Age-related Macular Degeneration",
    )
    unrelated = _with_bottom_line(
        rec("b"), question, "A man dies of a treatable infection. [1]", "Infections"
    )
    assert value(metric, [expanded], ctx) == 1.0
    assert value(metric, [unrelated], ctx) == 0.0
