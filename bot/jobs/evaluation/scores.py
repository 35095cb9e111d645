"""The gate's scores as weighted sums, so that a thousand bootstrap resamples are one matrix product.

A resample of n rows is a vector of counts (how often each row was drawn). Every score here but roc_auc is a
function of a few per-row columns summed with those counts: accuracy is sum(correct) / n, f1 is
2·tp / (predicted positives + true positives), r2 needs sum(e²), sum(y) and sum(y²). `Score.columns` gives the
per-row columns (n x k), `Score.combine` turns their weighted sums (resamples x k) into the score. roc_auc
(Mann-Whitney: the weight of positive-negative pairs ranked right) is computed from the counts directly.
The definitions are sklearn.metrics' (zero_division=0), checked against it in the tests.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

Floats = NDArray[np.float64]


class ScoreError(ValueError):
    """A score cannot be computed from what the model gives (e.g. roc_auc without probabilities)."""


@dataclass(frozen=True)
class Labels:
    """The true values and one model's predictions, encoded for the scores.

    Classification: `truth`/`predicted` are class codes (indices into `classes`), `positive` the code of the
    positive class, `proba` the probability of each class (columns in `classes` order) or None.
    Regression: `truth`/`predicted` are the values, `classes` is empty."""

    truth: NDArray[Any]
    predicted: NDArray[Any]
    classes: tuple[Any, ...] = ()
    positive: int = 1
    proba: Floats | None = None

    @property
    def rows(self) -> int:
        return int(self.truth.shape[0])


@dataclass(frozen=True)
class Score:
    columns: Callable[[Labels], Floats]  # per-row columns, n x k
    combine: Callable[[Floats, Floats], Floats]  # (sums: B x k, total weight: B) -> B scores
    needs_proba: bool = False


def _ratio(numerator: Floats, denominator: Floats) -> Floats:
    """numerator / denominator, 0 where the denominator is 0 (sklearn's zero_division=0)."""
    out = np.zeros(np.broadcast_shapes(numerator.shape, denominator.shape))
    np.divide(numerator, denominator, out=out, where=denominator != 0)
    return out


def _one_hot(codes: NDArray[Any], classes: int) -> Floats:
    hot: Floats = (codes[:, None] == np.arange(classes)[None, :]).astype(np.float64)
    return hot


def _confusion_columns(labels: Labels) -> Floats:
    """Per class k: [tp_k, predicted_k, true_k] as 3·K columns."""
    k = len(labels.classes)
    truth, predicted = _one_hot(labels.truth, k), _one_hot(labels.predicted, k)
    return np.hstack([truth * predicted, predicted, truth])


def _class_scores(kind: str, sums: Floats, k: int) -> tuple[Floats, Floats]:
    """(per-class score B x K, support B x K) from the confusion sums."""
    tp, predicted, true = sums[:, :k], sums[:, k : 2 * k], sums[:, 2 * k :]
    if kind == "precision":
        return _ratio(tp, predicted), true
    if kind == "recall":
        return _ratio(tp, true), true
    return _ratio(2 * tp, predicted + true), true


def confusion_score(kind: str, average: str, positive: int | None) -> Score:
    """precision, recall or f1 with sklearn's `average` (binary: the positive class only)."""

    def combine(sums: Floats, _total: Floats) -> Floats:
        k = sums.shape[1] // 3
        if average == "micro":
            tp, predicted, true = (sums[:, i * k : (i + 1) * k].sum(axis=1, keepdims=True) for i in range(3))
            return _class_scores(kind, np.hstack([tp, predicted, true]), 1)[0][:, 0]
        per_class, support = _class_scores(kind, sums, k)
        if average == "binary":
            return per_class[:, positive if positive is not None else 1]
        if average == "weighted":
            return _ratio((per_class * support).sum(axis=1), support.sum(axis=1))
        present = (sums[:, k : 2 * k] + sums[:, 2 * k :]) > 0  # sklearn's macro: labels seen in y or pred
        return _ratio((per_class * present).sum(axis=1), present.sum(axis=1).astype(np.float64))

    return Score(_confusion_columns, combine)


def _accuracy_columns(labels: Labels) -> Floats:
    correct: Floats = (labels.truth == labels.predicted).astype(np.float64)
    return correct[:, None]


def _balanced_accuracy(sums: Floats, _total: Floats) -> Floats:
    k = sums.shape[1] // 3
    tp, true = sums[:, :k], sums[:, 2 * k :]
    seen = true > 0
    return _ratio((_ratio(tp, true) * seen).sum(axis=1), seen.sum(axis=1).astype(np.float64))


def _log_loss_columns(labels: Labels) -> Floats:
    if labels.proba is None:
        raise ScoreError("log_loss needs class probabilities")
    proba = labels.proba / labels.proba.sum(axis=1, keepdims=True)
    true_proba: Floats = np.clip(proba[np.arange(labels.rows), labels.truth], 1e-15, 1.0)
    return -np.log(true_proba)[:, None]


def _errors(labels: Labels) -> Floats:
    return labels.predicted.astype(np.float64) - labels.truth.astype(np.float64)


def _relative_errors(labels: Labels) -> Floats:
    """|e| / max(|y|, eps), as sklearn's mean_absolute_percentage_error (a fraction, not a percentage)."""
    truth = np.abs(labels.truth.astype(np.float64))
    relative: Floats = np.abs(_errors(labels)) / np.maximum(truth, np.finfo(np.float64).eps)
    return relative[:, None]


def _r2_columns(labels: Labels) -> Floats:
    y = labels.truth.astype(np.float64)
    return np.column_stack([_errors(labels) ** 2, y, y**2])


def _r2(sums: Floats, total: Floats) -> Floats:
    residual, y, y2 = sums[:, 0], sums[:, 1], sums[:, 2]
    spread = y2 - _ratio(y**2, total)
    return 1.0 - _ratio(residual, spread)


def _mean(sums: Floats, total: Floats) -> Floats:
    return _ratio(sums[:, 0], total)


def score(name: str, *, average: str | None = None, positive: int | None = None) -> Score:
    """The score `name` (a key of bot.core.config.evaluation.SCORE_DIRECTIONS); roc_auc is `roc_auc`."""
    if name in ("precision", "recall", "f1"):
        return confusion_score(name, average or "binary", positive)
    simple: dict[str, Score] = {
        "accuracy": Score(_accuracy_columns, _mean),
        "balanced_accuracy": Score(_confusion_columns, _balanced_accuracy),
        "log_loss": Score(_log_loss_columns, _mean, needs_proba=True),
        "mae": Score(lambda labels: np.abs(_errors(labels))[:, None], _mean),
        "mape": Score(_relative_errors, _mean),
        "mse": Score(lambda labels: (_errors(labels) ** 2)[:, None], _mean),
        "rmse": Score(lambda labels: (_errors(labels) ** 2)[:, None], lambda s, t: np.sqrt(_mean(s, t))),
        "r2": Score(_r2_columns, _r2),
    }
    if name not in simple:
        raise ScoreError(f"{name} is not a score computed by weighted sums")
    return simple[name]


class RocAuc:
    """Binary roc_auc of resamples, ties counted half, as sklearn.metrics.roc_auc_score (Mann-Whitney U).

    Whether a row is positive does not depend on the model; only the order of the scores does. So, per
    positive row, the number of negative rows scored below it (`below`) and at most as high (`upto`) is found
    once by binary search among the sorted negative scores. A resample's U is then the sum over positive
    rows of their count times the resample's negative weight below them (half the ties included): one
    cumulative sum over the negatives' counts in score order, one gather at those positions, one product."""

    def __init__(self, labels: Labels) -> None:
        if labels.proba is None:
            raise ScoreError("roc_auc needs class probabilities")
        if len(labels.classes) != 2:
            raise ScoreError(f"roc_auc is computed for two classes; the label has {len(labels.classes)}")
        scores = labels.proba[:, labels.positive]
        positive = labels.truth == labels.positive
        self.positives = np.flatnonzero(positive)
        negatives = np.flatnonzero(~positive)
        order = np.argsort(scores[negatives], kind="mergesort")
        self.negatives = negatives[order]  # negative rows by rising score
        sorted_negative = scores[self.negatives]
        below = np.searchsorted(sorted_negative, scores[self.positives], side="left")
        upto = np.searchsorted(sorted_negative, scores[self.positives], side="right")
        # positions in the negatives' cumulative counts (k negatives below: column k - 1; none: weight 0)
        self.below_at, self.below_any = np.maximum(below - 1, 0), (below > 0).astype(np.float64)
        self.upto_at, self.upto_any = np.maximum(upto - 1, 0), (upto > 0).astype(np.float64)
        self.ties = bool(np.any(upto != below))  # without a positive tied with a negative, one gather does

    def __call__(self, counts: Floats) -> Floats:
        out = np.full(counts.shape[0], np.nan)
        if self.positives.size == 0 or self.negatives.size == 0:
            return out
        negative = np.cumsum(counts[:, self.negatives], axis=1)
        if self.ties:
            ranked_below = (
                negative[:, self.below_at] * self.below_any + negative[:, self.upto_at] * self.upto_any
            )
        else:
            ranked_below = 2.0 * negative[:, self.below_at] * self.below_any
        positive = counts[:, self.positives]
        right = 0.5 * (positive * ranked_below).sum(axis=1)
        pairs = positive.sum(axis=1) * negative[:, -1]
        np.divide(right, pairs, out=out, where=pairs > 0)
        return out
