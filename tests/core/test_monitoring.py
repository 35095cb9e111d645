"""The triggers beyond drift as pure decisions: quality, performance, schedule, and the one monitoring issue
that carries their state from one check to the next."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace
from typing import Any

import pytest

from bot.core import monitoring
from bot.core.config import DriftSpec, load_config
from bot.core.drift import decode_metadata, encode_metadata
from bot.core.markers import drift_marker, find_markers
from bot.core.models import ColumnDrift, DriftSummary
from bot.core.monitoring import (
    ChampionFacts,
    CheckFacts,
    ColumnQuality,
    MetricScore,
    PerformanceFacts,
    QualityFacts,
    decide,
    facts_from_dict,
    facts_to_dict,
    judge_performance,
    judge_quality,
    judge_schedule,
)

CONFIG = """\
models:
  - name: churn
    stage: train
    output: model.pkl
    drift:
      current: prod.csv
      reference: train.csv
      drift_share: 0.5
      consecutive: 2
      quality:
        max_missing_share: 0.1
        max_out_of_range_share: 0.05
        max_duplicate_share: 0.2
      performance:
        label: churned
        metrics:
          - name: accuracy
            tolerance: 0.05
          - name: f1
            tolerance: 0.05
            min: 0.7
      retrain:
        schedule:
          every: 30d
"""
SPEC: DriftSpec = load_config(CONFIG).models[0].drift  # type: ignore[assignment]
PROMOTED = "2025-01-01T00:00:00+00:00"
CHAMPION = ChampionFacts("4", PROMOTED, "tag mlops_bot.promoted_at", {"accuracy": 0.92, "f1": 0.90})
SOON = dt.datetime(2025, 1, 10, tzinfo=dt.UTC)  # 9 days after the promotion: not due
LATE = dt.datetime(2025, 2, 5, tzinfo=dt.UTC)  # 35 days after: due


def drift_summary(drifted: int, total: int = 4) -> DriftSummary:
    columns = tuple(ColumnDrift(f"c{i}", 0.3, "ks", 0.05, i < drifted) for i in range(total))
    share = drifted / total
    return DriftSummary("churn", share >= 0.5, share, 0.5, columns, 1000, 500, 1000, 500)


GOOD_QUALITY = QualityFacts(500, 0.0, (ColumnQuality("c0", "number", "number", 0.0, 0.0, 0.0, 10.0),))
BROKEN_TYPE = QualityFacts(500, 0.0, (ColumnQuality("c0", "number", "text", 0.0, example="n/a"),))


def scored(accuracy: float, f1: float = 0.9) -> PerformanceFacts:
    return PerformanceFacts(
        "scored", "churned", 500, 500, (MetricScore("accuracy", accuracy), MetricScore("f1", f1))
    )


GOOD_PERF, BAD_PERF = scored(0.91), scored(0.70)
NO_LABELS = PerformanceFacts(
    "no-labels", "churned", 500, note="the production data has no 'churned' column yet"
)


def facts(
    n: int = 0,
    *,
    drifted: int = 0,
    quality: QualityFacts = GOOD_QUALITY,
    performance: PerformanceFacts | None = GOOD_PERF,
    champion: ChampionFacts | None = CHAMPION,
) -> CheckFacts:
    broken = judge_quality(quality, SPEC.quality).status == "schema-break"
    if broken and performance is not None:  # as `mlops-bot drift` does: broken data is not scored
        performance = PerformanceFacts("unavailable", "churned", 500, note="the data's schema is broken")
    return CheckFacts(
        model="churn",
        check_id=f"check{n}",
        checked_at=f"2025-01-{n + 2:02d}T06:00:00+00:00",
        drift=None if broken else drift_summary(drifted),
        quality=quality,
        performance=performance,
        champion=champion,
        drift_skipped="the data's schema is broken" if broken else "",
    )


def run(checks: list[CheckFacts], *, now: dt.datetime = SOON) -> list[monitoring.MonitorDecision]:
    """Each check reads the metadata the previous one wrote into the issue body, as drift-report does."""
    body, decisions, pr = "", [], None
    for check in checks:
        decision = decide(check, SPEC, decode_metadata(body), now=now)
        if decision.retrain:
            pr = 11
        _title, body = monitoring.render_issue(
            decision, report_url="", retrain_pr=pr if decision.retrain_active else None
        )
        decisions.append(decision)
    return decisions


# -- quality ------------------------------------------------------------------------------------------------


def col(name: str = "c0", **kw: Any) -> ColumnQuality:
    return ColumnQuality(**{"column": name, "expected": "number", "found": "number", **kw})


@pytest.mark.parametrize(
    ("quality", "status", "says"),
    [
        (QualityFacts(10, 0.0, (col(missing_share=0.05, out_of_range_share=0.01),)), "pass", ""),
        (
            QualityFacts(10, 0.0, (col(found="absent"),)),
            "schema-break",
            "column 'c0' of the training data is missing",
        ),
        (
            QualityFacts(10, 0.0, (col(found="text", example="n/a"),)),
            "schema-break",
            "column 'c0' holds text values, e.g. 'n/a', where the training data has number",
        ),
        (QualityFacts(10, 0.0, (col(found="empty"),)), "schema-break", "column 'c0' has no values at all"),
        (
            QualityFacts(10, 0.0, (col(missing_share=0.25),)),
            "fail",
            "column 'c0' is 25% empty (at most 10% allowed)",
        ),
        (
            QualityFacts(10, 0.0, (col(out_of_range_share=0.2, low=0.0, high=1.0),)),
            "fail",
            "column 'c0' has 20% of its values outside [0, 1.000] (at most 5% allowed)",
        ),
        (
            QualityFacts(10, 0.5, (col(),)),
            "fail",
            "50% of the rows repeat an earlier row (at most 20% allowed)",
        ),
    ],
    ids=["clean", "missing-column", "wrong-type", "all-empty", "too-empty", "out-of-range", "duplicates"],
)
def test_quality_checks_each_threshold(quality: QualityFacts, status: str, says: str) -> None:
    verdict = judge_quality(quality, SPEC.quality)
    assert verdict.status == status
    assert says in " ".join(verdict.problems)


def test_quality_thresholds_are_off_until_set() -> None:
    lenient = DriftSpec(current="p.csv", reference="t.csv")
    messy = QualityFacts(10, 0.9, (col(missing_share=0.9, out_of_range_share=None),))
    assert judge_quality(messy, lenient.quality).status == "pass"  # only the schema is checked by default
    off = lenient.model_copy(update={"quality": lenient.quality.model_copy(update={"check_schema": False})})
    assert judge_quality(QualityFacts(10, 0.0, (col(found="absent"),)), off.quality).status == "off"


def test_a_schema_break_is_reported_at_once_and_drift_is_not_judged() -> None:
    (decision,) = run([facts(drifted=4, quality=BROKEN_TYPE)])
    assert decision.quality.status == "schema-break" and decision.quality.fired  # no hysteresis
    assert decision.drift.status == "skipped" and decision.drift_decision is None
    assert decision.fired == ("quality",) and not decision.retrain  # broken data is fixed, not retrained on
    assert decision.conclusion == "failure" and decision.worth_an_issue
    assert monitoring.issue_title(decision) == "churn: data quality"
    assert "data-quality" in monitoring.issue_labels(decision) and "drift" not in monitoring.issue_labels(
        decision
    )


def test_broken_data_neither_extends_nor_clears_a_drift_streak() -> None:
    decisions = run([facts(0, drifted=4), facts(1, quality=BROKEN_TYPE), facts(2, drifted=4)])
    assert [d.drift.streak for d in decisions] == [1, 1, 2]
    assert decisions[2].drift.fired and decisions[2].retrain


def test_non_schema_quality_failures_wait_for_their_streak() -> None:
    spec = SPEC.model_copy(update={"quality": SPEC.quality.model_copy(update={"consecutive": 2})})
    messy = QualityFacts(500, 0.0, (col(missing_share=0.5),))
    first = decide(facts(0, quality=messy), spec, {}, now=SOON)
    second = decide(facts(1, quality=messy), spec, first.metadata(), now=SOON)
    assert (first.quality.fired, second.quality.fired) == (False, True)
    assert first.drift_decision is not None  # only a schema break stops drift


# -- performance -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("perf", "champion", "status", "says"),
    [
        (
            scored(0.91),
            CHAMPION,
            "pass",
            "accuracy 0.910 vs champion 0.920: dropped 0.010, within the allowed 0.050",
        ),
        (
            scored(0.70),
            CHAMPION,
            "drop",
            "accuracy 0.700 vs champion 0.920: dropped 0.220, more than the allowed 0.050",
        ),
        (scored(0.95, f1=0.6), CHAMPION, "drop", "f1 0.600 is below the floor 0.700"),
        (scored(0.95), replace(CHAMPION, metrics={}), "pass", "the champion has no accuracy, not compared"),
        (NO_LABELS, CHAMPION, "no-labels", ""),
        (PerformanceFacts("unavailable", "churned", note="no champion"), None, "unavailable", ""),
        (
            PerformanceFacts(
                "scored", "churned", 9, 9, (MetricScore("accuracy", None), MetricScore("f1", None))
            ),
            CHAMPION,
            "unavailable",
            "",
        ),
    ],
    ids=[
        "within-tolerance",
        "beyond-tolerance",
        "below-floor",
        "no-baseline",
        "no-labels",
        "no-champion",
        "nan",
    ],
)
def test_performance_is_judged_like_a_promotion_gate(
    perf: PerformanceFacts, champion: ChampionFacts | None, status: str, says: str
) -> None:
    verdict = judge_performance(perf, SPEC.performance, champion)
    assert verdict.status == status
    assert says in " ".join(line.text for line in verdict.lines)


def test_performance_drop_retrains_after_n_checks_and_no_labels_is_not_a_pass() -> None:
    decisions = run(
        [facts(0, performance=BAD_PERF), facts(1, performance=NO_LABELS), facts(2, performance=BAD_PERF)]
    )
    assert [d.performance.status for d in decisions] == ["drop", "no-labels", "drop"]
    assert [d.performance.streak for d in decisions] == [
        1,
        1,
        2,
    ]  # held, not cleared, by the unlabelled check
    assert [d.retrain for d in decisions] == [False, False, True]
    assert decisions[1].conclusion == "neutral"  # an unlabelled check is not a success either
    assert decisions[2].fired == ("performance",)
    assert "accuracy 0.700 vs champion 0.920" in decisions[2].retrain_reasons()[0]


def test_performance_stays_quiet_on_good_labels_and_clears_after_a_drop() -> None:
    decisions = run([facts(0), facts(1, performance=BAD_PERF), facts(2)])
    assert [d.performance.action for d in decisions] == ["none", "record", "clear"]
    assert not any(d.retrain for d in decisions)
    assert not decisions[0].worth_an_issue  # quiet data, no issue


def test_no_labels_alone_opens_no_issue() -> None:
    (decision,) = run([facts(performance=NO_LABELS)])
    assert not decision.worth_an_issue and decision.performance.text.startswith("the production data has no")


# -- schedule -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("champion", "now", "status"),
    [
        (CHAMPION, SOON, "not-due"),
        (CHAMPION, dt.datetime(2025, 1, 31, tzinfo=dt.UTC), "due"),  # exactly 30 days
        (CHAMPION, LATE, "due"),
        (None, LATE, "no-champion"),
        (replace(CHAMPION, promoted_at=""), LATE, "no-champion"),
    ],
    ids=["not-due", "due-on-the-day", "overdue", "no-champion", "no-time"],
)
def test_schedule_with_a_fixed_clock(champion: ChampionFacts | None, now: dt.datetime, status: str) -> None:
    assert judge_schedule(SPEC.retrain.schedule, champion, now).status == status


def test_schedule_opens_one_retrain_pr_per_champion_even_without_drift() -> None:
    decisions = run([facts(0), facts(1)], now=LATE)
    assert [d.schedule.status for d in decisions] == ["due", "due"]
    assert [d.retrain for d in decisions] == [True, False]  # the second check finds the PR already opened
    assert decisions[0].schedule.fired and decisions[0].conclusion == "neutral"  # due is no fault
    assert "retrain was due on 2025-01-31" in decisions[0].retrain_reasons()[0]
    new_champion = replace(CHAMPION, version="5", promoted_at="2025-02-04T00:00:00+00:00")
    after = decide(facts(2, champion=new_champion), SPEC, decisions[1].metadata(retrain_pr=11), now=LATE)
    assert (
        after.schedule.status == "not-due"
        and not after.retrain
        and after.metadata()["schedule"] == {"fired_for": None}
    )


def test_a_new_champion_starts_clean_the_old_ones_streaks_and_retrain_pr_are_not_its_own() -> None:
    """The retrain PR merged and its model is champion: the drift and the drop were the old champion's. The
    new champion's first check, with no labels yet, claims neither and names no retrain PR (that one merged)."""
    decisions = run([facts(0, drifted=3, performance=BAD_PERF), facts(1, drifted=3, performance=BAD_PERF)])
    assert decisions[1].retrain and set(decisions[1].fired) == {"drift", "performance"}
    meta = decisions[1].metadata(retrain_pr=11)
    new_champion = replace(CHAMPION, version="5", promoted_at="2025-01-04T00:00:00+00:00")

    after = decide(facts(2, performance=NO_LABELS, champion=new_champion), SPEC, meta, now=SOON)
    same = decide(facts(2, performance=NO_LABELS), SPEC, meta, now=SOON)

    assert (after.performance.streak, after.drift.streak) == (0, 0)
    assert not after.retrain_active and after.retrain_pr is None and after.retrain_reasons() == []
    assert monitoring.issue_title(after) == "churn: all monitoring checks pass"
    assert after.metadata()["champion"] == "5" and len(after.log) == 3  # the history stays readable
    # the same champion: its drop is held through an unlabelled check, as before
    assert same.performance.streak == 2 and same.retrain_pr == 11


def test_schedule_off_without_config() -> None:
    assert judge_schedule(None, CHAMPION, LATE).status == "off"


# -- one issue, reruns -----------------------------------------------------------------------------------------


def test_one_issue_carries_every_trigger_and_keeps_the_drift_marker() -> None:
    decisions = run(
        [
            facts(0, drifted=4),
            facts(1, drifted=4, performance=BAD_PERF),
            facts(2, quality=BROKEN_TYPE),
            facts(3, drifted=4, performance=BAD_PERF),
        ],
        now=LATE,
    )
    last = decisions[-1]
    title, body = monitoring.render_issue(last, report_url="https://ci.example/run/1", retrain_pr=11)
    assert find_markers(body)[0] == drift_marker("churn")
    assert title == "churn: data drift, performance drop, scheduled retrain"
    meta = decode_metadata(body)
    assert [e["statuses"]["quality"] for e in meta["log"]] == ["pass", "pass", "schema-break", "pass"]
    assert [e["statuses"]["drift"] for e in meta["log"]] == ["drift", "drift", "skipped", "drift"]
    assert meta["retrain_pr"] == 11 and meta["performance"] == {"streak": 2, "state": "drop"}
    assert (
        "Checks so far (4, newest first)" in body
        and "[Evidently HTML report](https://ci.example/run/1)" in body
    )
    assert set(monitoring.issue_labels(last)) >= {"drift", "performance", "scheduled-retrain", "monitoring"}


def test_a_drift_issue_of_version_1_carries_over() -> None:
    old_body = encode_metadata(
        {
            "v": 1,
            "model": "churn",
            "streak": 1,
            "state": "drift",
            "retrain_pr": None,
            "history": [{"at": "old", "breach": True, "share": 1.0, "drifted": ["c0"]}],
        }
    )
    decision = decide(facts(0, drifted=4), SPEC, decode_metadata(old_body), now=SOON)
    assert decision.drift.streak == 2 and decision.retrain
    assert [h["at"] for h in decision.metadata()["history"]] == ["old", "2025-01-02T06:00:00+00:00"]


@pytest.mark.parametrize("n_before", [0, 1, 2])
def test_judging_the_same_check_again_changes_nothing(n_before: int) -> None:
    history = [facts(i, drifted=4, performance=BAD_PERF) for i in range(n_before)]
    decisions = run(history)
    previous = (
        decisions[-1].metadata(retrain_pr=11 if decisions[-1].retrain_active else None) if decisions else {}
    )
    check = facts(n_before, drifted=4, performance=BAD_PERF)
    first = decide(check, SPEC, previous, now=SOON)
    body = monitoring.render_issue(first, report_url="", retrain_pr=11 if first.retrain_active else None)[1]
    again = decide(check, SPEC, decode_metadata(body), now=SOON)
    assert again == first
    assert (
        monitoring.render_issue(again, report_url="", retrain_pr=11 if again.retrain_active else None)[1]
        == body
    )


def test_texts_escape_what_the_data_names() -> None:
    hostile = QualityFacts(5, 0.0, (col("@team <!-- x -->", found="absent"),))
    decision = decide(facts(quality=hostile), SPEC, {}, now=SOON)
    _, body = monitoring.render_issue(decision, report_url="", retrain_pr=None)
    visible = body.split("-->\n", 2)[2]  # after the marker and the metadata block
    assert "column '@\u200bteam" in visible and "@team" not in visible and "<!--" not in visible


def test_the_reply_to_drift_gives_all_verdicts() -> None:
    (decision,) = run([facts(drifted=4, performance=NO_LABELS)], now=LATE)
    reply = monitoring.render_reply(decision, marker="<!-- m -->", issue=3, retrain_pr=11, report_url="")
    for words in (
        "Data quality",
        "Data drift",
        "Performance",
        "no labels (not a pass)",
        "Schedule",
        "due",
        "#3",
        "#11",
    ):
        assert words in reply


def test_the_summary_json_round_trips() -> None:
    check = facts(1, performance=BAD_PERF)
    data = {"model": "churn", **facts_to_dict(check)}
    assert facts_from_dict(data, check.drift) == check
    legacy = facts_from_dict({"model": "churn"}, check.drift)  # a summary written before these keys
    assert legacy.quality is None and legacy.performance is None and legacy.drift == check.drift
    assert judge_quality(legacy.quality, SPEC.quality).status == "off"
