"""The paired bootstrap's scores are sklearn.metrics' own, on all rows and on every resample."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from sklearn import metrics

from bot.core.evaluation import verdict_from_interval
from bot.jobs.evaluation.bootstrap import MetricRequest, Pair, paired_bootstrap, point_value
from bot.jobs.evaluation.scores import Labels

RNG = np.random.default_rng(1)
N = 400
TRUTH3 = RNG.integers(0, 3, N)
PRED3 = np.where(RNG.random(N) < 0.7, TRUTH3, RNG.integers(0, 3, N))
TRUTH2 = RNG.integers(0, 2, N)
SCORE2 = np.round(np.clip(TRUTH2 * 0.3 + RNG.random(N) * 0.7, 0, 1), 2)  # rounded: tied scores
PROBA2 = np.column_stack([1 - SCORE2, SCORE2])
PRED2 = (SCORE2 >= 0.5).astype(int)
VALUES = RNG.normal(size=N)
ESTIMATES = VALUES + RNG.normal(size=N) * 0.5


def _rmse(y: Any, p: Any) -> float:
    return float(np.sqrt(metrics.mean_squared_error(y, p)))


CASES: list[tuple[str, str | None, Labels, Callable[[], float]]] = [
    ("accuracy", None, Labels(TRUTH3, PRED3, (0, 1, 2)), lambda: metrics.accuracy_score(TRUTH3, PRED3)),
    (
        "balanced_accuracy",
        None,
        Labels(TRUTH3, PRED3, (0, 1, 2)),
        lambda: metrics.balanced_accuracy_score(TRUTH3, PRED3),
    ),
    *[
        (
            name,
            average,
            Labels(TRUTH3, PRED3, (0, 1, 2)),
            lambda f=f, average=average: f(TRUTH3, PRED3, average=average, zero_division=0),
        )
        for name, f in (
            ("f1", metrics.f1_score),
            ("precision", metrics.precision_score),
            ("recall", metrics.recall_score),
        )
        for average in ("macro", "micro", "weighted")
    ],
    ("f1", "binary", Labels(TRUTH2, PRED2, (0, 1), 1, PROBA2), lambda: metrics.f1_score(TRUTH2, PRED2)),
    (
        "roc_auc",
        None,
        Labels(TRUTH2, PRED2, (0, 1), 1, PROBA2),
        lambda: metrics.roc_auc_score(TRUTH2, SCORE2),
    ),
    ("log_loss", None, Labels(TRUTH2, PRED2, (0, 1), 1, PROBA2), lambda: metrics.log_loss(TRUTH2, PROBA2)),
    ("mae", None, Labels(VALUES, ESTIMATES), lambda: metrics.mean_absolute_error(VALUES, ESTIMATES)),
    (
        "mape",
        None,
        Labels(VALUES, ESTIMATES),
        lambda: metrics.mean_absolute_percentage_error(VALUES, ESTIMATES),
    ),
    ("rmse", None, Labels(VALUES, ESTIMATES), lambda: _rmse(VALUES, ESTIMATES)),
    ("r2", None, Labels(VALUES, ESTIMATES), lambda: metrics.r2_score(VALUES, ESTIMATES)),
]


@pytest.mark.parametrize(("score", "average", "labels", "expected"), CASES)
def test_each_score_is_sklearns(
    score: str, average: str | None, labels: Labels, expected: Callable[[], float]
) -> None:
    assert point_value(MetricRequest(score, score, average), labels) == pytest.approx(expected(), abs=1e-9)


def test_every_resample_is_scored_as_sklearn_scores_those_rows() -> None:
    """The same draws for both models: the deltas are sklearn's on each resample's rows."""
    candidate = Labels(TRUTH2, PRED2, (0, 1), 1, PROBA2)
    champion = Labels(TRUTH2, 1 - PRED2, (0, 1), 1, PROBA2[:, ::-1].copy())
    pairs = [Pair(MetricRequest(m, m), candidate, champion) for m in ("roc_auc", "f1")]

    auc, f1 = paired_bootstrap(pairs, resamples=50, seed=3)

    draws = np.random.default_rng(3).integers(0, N, size=(50, N))
    assert np.allclose(
        auc.deltas,
        [
            metrics.roc_auc_score(TRUTH2[d], SCORE2[d]) - metrics.roc_auc_score(TRUTH2[d], 1 - SCORE2[d])
            for d in draws
        ],
    )
    assert np.allclose(
        f1.deltas,
        [metrics.f1_score(TRUTH2[d], PRED2[d]) - metrics.f1_score(TRUTH2[d], 1 - PRED2[d]) for d in draws],
    )
    assert auc.low <= auc.candidate - auc.champion <= auc.high


def test_the_seed_makes_the_interval_reproducible() -> None:
    labels = Labels(TRUTH3, PRED3, (0, 1, 2))
    other = Labels(TRUTH3, np.roll(PRED3, 1), (0, 1, 2))
    pair = [Pair(MetricRequest("accuracy", "accuracy"), labels, other)]

    first, again, other_seed = (paired_bootstrap(pair, resamples=200, seed=s)[0] for s in (0, 0, 1))

    assert (first.low, first.high) == (again.low, again.high)
    assert (first.low, first.high) != (other_seed.low, other_seed.high)


@pytest.mark.parametrize(
    ("low", "high", "direction", "verdict"),
    [
        (0.01, 0.03, "higher", "better"),
        (-0.03, -0.01, "higher", "worse"),
        (-0.01, 0.02, "higher", "not distinguishable"),
        (-0.3, -0.1, "lower", "better"),  # rmse fell
        (0.1, 0.3, "lower", "worse"),
        (0.0, 0.0, "higher", "not distinguishable"),  # two models that agree on every row
    ],
)
def test_the_verdict_respects_the_direction(low: float, high: float, direction: Any, verdict: str) -> None:
    assert verdict_from_interval(low, high, direction) == verdict
