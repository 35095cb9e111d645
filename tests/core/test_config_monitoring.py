"""The monitoring sections of the config (`drift.quality`, `drift.performance`, `drift.retrain.schedule`):
defaults, and errors that name the line and say what to write instead."""

from __future__ import annotations

import datetime as dt

import pytest

from bot.core.config import ConfigError, load_config, parse_duration

BASE = """\
models:
  - name: m
    stage: s
    output: o.pkl
    drift:
      current: prod.csv
      reference: train.csv
{extra}"""


def config(extra: str) -> str:
    return BASE.format(extra=extra)


def test_defaults_check_the_schema_only_and_nothing_else() -> None:
    spec = load_config(config("")).models[0].drift
    assert spec is not None
    assert spec.quality.check_schema and spec.quality.max_missing_share is None
    assert spec.quality.range_margin is None and spec.quality.max_duplicate_share is None
    assert spec.performance is None and spec.retrain.schedule is None


def test_a_full_section_reads_as_written() -> None:
    spec = (
        load_config(
            config(
                "      quality:\n        schema: false\n        ranges: {f0: {min: 0}}\n"
                "      performance:\n        label: y\n        metrics: [{name: rmse, tolerance: 0.5}, {name: r2}]\n"
                "      retrain:\n        schedule: {every: 2w}\n"
            )
        )
        .models[0]
        .drift
    )
    assert spec is not None and spec.performance is not None and spec.retrain.schedule is not None
    assert not spec.quality.check_schema and spec.quality.ranges["f0"].min == 0
    assert [(m.name, m.direction) for m in spec.performance.metrics] == [("rmse", "lower"), ("r2", "higher")]
    assert spec.performance.task == "regression"
    assert spec.retrain.schedule.interval == dt.timedelta(days=14)


@pytest.mark.parametrize(("text", "hours"), [("12h", 12), ("30d", 720), ("2w", 336), (" 1d ", 24)])
def test_durations(text: str, hours: int) -> None:
    assert parse_duration(text) == dt.timedelta(hours=hours)


@pytest.mark.parametrize(
    ("extra", "line", "message"),
    [
        (
            "      retrain:\n        schedule:\n          every: monthly\n",
            10,
            "'monthly' is not a duration; write a positive whole number of hours, days or weeks: 12h, 30d, 2w",
        ),
        ("      retrain:\n        schedule:\n          every: 0d\n", 10, "is not a duration"),
        ("      retrain:\n        schedule: {}\n", 9, "schedule.every: Field required"),
        (
            "      performance:\n        label: y\n        metrics:\n          - name: auc\n",
            11,
            "name 'auc' is not a score mlops-bot computes; known: accuracy, balanced_accuracy, f1",
        ),
        (
            "      performance:\n        label: y\n        metrics:\n          - name: rmse\n            direction: higher\n",
            11,
            "rmse is better when lower, but direction says higher",
        ),
        (
            "      performance:\n        label: y\n        metrics:\n          - name: acc_test\n            score: accuracy\n"
            "          - name: mae\n",
            10,
            "mixes classification and regression scores",
        ),
        ("      performance:\n        label: y\n        metrics: []\n", 10, "at least 1 item"),
        ("      performance:\n        metrics: [{name: f1}]\n", 8, "performance.label: Field required"),
        ("      quality:\n        max_missing_share: 1.5\n", 9, "less than or equal to 1"),
        ("      quality:\n        per_column_max_missing: {a: 2}\n", 9, "not so for: a"),
        ("      quality:\n        ranges:\n          a: {min: 3, max: 1}\n", 10, "min 3.0 is above max 1.0"),
        ("      quality:\n        ranges:\n          a: {}\n", 10, "give `min`, `max` or both"),
        ("      quality:\n        duplicates: 0.1\n", 9, "Extra inputs are not permitted"),
    ],
    ids=[
        "word-duration",
        "zero-duration",
        "no-every",
        "unknown-score",
        "wrong-direction",
        "mixed-task",
        "no-metrics",
        "no-label",
        "share-above-1",
        "per-column-share",
        "range-order",
        "empty-range",
        "unknown-key",
    ],
)
def test_errors_name_the_line(extra: str, line: int, message: str) -> None:
    with pytest.raises(ConfigError) as err:
        load_config(config(extra))
    text = str(err.value)
    assert f"line {line}: " in text, text
    assert message in text, text


def test_the_score_name_can_differ_from_the_logged_metric() -> None:
    spec = (
        load_config(
            config(
                "      performance:\n        label: y\n        metrics: [{name: test_acc, score: accuracy}]\n"
            )
        )
        .models[0]
        .drift
    )
    assert spec is not None and spec.performance is not None
    (metric,) = spec.performance.metrics
    assert (metric.name, metric.scorer, metric.direction) == ("test_acc", "accuracy", "higher")
