"""The card when the champion was re-scored on this PR's data: the same-data table first (Δ, interval,
verdict), the recorded metrics second, the worst slice in the headline, and a failed comparison as one line."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

from bot.core.card import CardFacts, card_context, render_card
from bot.core.config import MetricSpec, ModelSpec, Promotion
from bot.core.evaluation import (
    MetricComparison,
    SameDataComparison,
    SliceComparison,
    SliceMetric,
    failed_comparison,
)
from bot.core.gates import evaluate
from tests.core.test_card import CHAMPION, RESULT, SHA, SPEC

Snapshot = Callable[[str, str], None]

COMPARISON = SameDataComparison(
    data="data/test.csv",
    rows=1200,
    champion_version="3",
    resamples=1000,
    seed=0,
    metrics=(
        MetricComparison("f1", "higher", candidate=0.912, champion=0.905, low=-0.004, high=0.018),
        MetricComparison("log_loss", "lower", candidate=0.251, champion=0.290, low=-0.052, high=-0.027),
    ),
    slices=(
        SliceComparison("region", "north", 640, (SliceMetric("f1", "higher", 0.95, 0.91),)),
        SliceComparison("region", "south", 560, (SliceMetric("f1", "higher", 0.83, 0.90),)),
    ),
)


def card_facts(comparison: SameDataComparison | None, model: ModelSpec = SPEC) -> CardFacts:
    decision = evaluate(
        model,
        RESULT.metrics,
        CHAMPION.metrics,
        promotion=Promotion(),
        same_data=comparison,
    )
    return CardFacts(
        repo="octo/churn",
        pr_number=12,
        model=model,
        result=replace(RESULT, same_data=comparison),
        champion=CHAMPION,
        decision=decision,
        head_sha=SHA,
        base_ref="main",
        same_data=comparison,
    )


def test_the_same_data_table_comes_first_and_the_recorded_metrics_second(snapshot: Snapshot) -> None:
    body = render_card(card_facts(COMPARISON))

    snapshot("card_same_data.md", body)
    same, recorded = (
        body.index("#### On the same data: 1,200 rows of `data/test.csv`"),
        body.index("#### Recorded metrics"),
    )
    assert same < recorded
    assert "| `f1` ↑ | 0.905 | 0.912 | +0.007 | [-0.004, +0.018] | ⚪ not distinguishable |" in body
    assert "| `log_loss` ↓ | 0.290 | 0.251 | -0.039 | [-0.052, -0.027] | 🟢 better |" in body
    # the gate judged the same rows, not the recorded 0.931 against the champion's recorded 0.925
    assert "f1 on the same data (1200 rows of data/test.csv): 0.912 vs champion 0.905" in body


def test_the_worst_slice_regression_is_named_in_the_headline() -> None:
    """south lost 0.07 f1, more than the metric's tolerance (0.01): the headline says so."""
    context = card_context(card_facts(COMPARISON))

    assert context["headline"].endswith("· worst slice region=south: f1 -0.070")
    assert context["same_data"]["worst_slice"].startswith(
        "f1 on region=south (560 rows) 0.830 vs champion 0.900"
    )


def test_a_slice_gate_fails_the_promotion_and_says_which_slice() -> None:
    spec = SPEC.model_copy(
        update={"metrics": [MetricSpec(name="f1", tolerance=0.01, slice_tolerance=0.05), SPEC.metrics[1]]}
    )
    facts = card_facts(COMPARISON, spec)

    assert not facts.decision.allowed
    [failed] = facts.decision.failures
    assert failed.name == "f1 per slice"
    assert failed.reason == (
        "f1 on region=south (560 rows) 0.830 vs champion 0.900: worse by 0.070, more than the allowed 0.050"
    )


def test_a_comparison_that_could_not_be_made_is_one_clear_line() -> None:
    error = (
        "the evaluation data data/test.csv lacks column(s) tenure that the champion (version 3) takes as "
        "input (its MLflow signature)"
    )
    body = render_card(card_facts(failed_comparison("data/test.csv", error, "3")))

    assert f"> ⚠️ Not compared with the champion on the same data: {error}" in body
    assert "#### On the same data" not in body and "#### Metrics" in body
    # the gates fall back to the recorded metrics, and say so by their reasons
    assert "f1 0.931 vs champion 0.925: improved by 0.006" in body


def test_same_data_required_refuses_a_candidate_without_the_comparison() -> None:
    spec = SPEC.model_copy(update={"evaluation": None})
    decision = evaluate(
        spec, RESULT.metrics, CHAMPION.metrics, promotion=Promotion(same_data="required"), same_data=None
    )

    assert not decision.allowed
    assert decision.failures[0].reason == (
        "promotion.same_data is required, but model churn has no `evaluation:` to score the champion on"
    )


def test_a_retrain_pr_shows_both_models_on_the_labelled_production_rows() -> None:
    production = SameDataComparison(
        data="data/production.csv",
        rows=400,
        champion_version="3",
        resamples=1000,
        metrics=(MetricComparison("f1", "higher", candidate=0.93, champion=0.66, low=0.22, high=0.32),),
    )
    facts = replace(card_facts(COMPARISON), production=production)

    body = render_card(facts)

    assert "#### On production data: 400 labelled rows of `data/production.csv`" in body
    assert "| `f1` ↑ | 0.660 | 0.930 | +0.270 | [+0.220, +0.320] | 🟢 better |" in body
    assert body.index("#### On production data") < body.index("#### On the same data")
