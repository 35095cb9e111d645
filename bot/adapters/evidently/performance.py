"""Performance on labelled production data. Scores are scikit-learn's, the functions a training pipeline
uses to record the metrics the champion is compared with, so like is compared with like."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from bot.core.config import PerformanceSpec
from bot.core.monitoring import MetricScore, PerformanceFacts

if TYPE_CHECKING:
    import pandas as pd

Predict = Callable[["pd.DataFrame"], Any]


def measure_performance(
    current: pd.DataFrame, spec: PerformanceSpec, predict: Predict | None, *, unavailable: str = ""
) -> PerformanceFacts:
    """Score `predict` (the champion) on the rows of `current` that carry a label."""
    rows = len(current)
    if spec.label not in current.columns:
        return PerformanceFacts(
            "no-labels", spec.label, rows, note=f"the production data has no {spec.label!r} column yet"
        )
    labelled = current[current[spec.label].notna()]
    if len(labelled) < spec.min_rows:
        return PerformanceFacts(
            "no-labels",
            spec.label,
            rows,
            len(labelled),
            note=f"{len(labelled)} labelled row(s); scoring needs at least {spec.min_rows} (performance.min_rows)",
        )
    if predict is None:
        return PerformanceFacts(
            "unavailable", spec.label, rows, len(labelled), note=unavailable or "no champion to score"
        )
    features = labelled.drop(columns=[spec.label])
    try:
        predicted = predict(features)
    except Exception as exc:  # a model that cannot read the data is a finding, not a crash of the check
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        return PerformanceFacts(
            "unavailable",
            spec.label,
            rows,
            len(labelled),
            note=f"the champion could not predict: {reason[:300]}",
        )
    truth = labelled[spec.label].to_numpy()
    scores = tuple(MetricScore(m.name, score(m.scorer, truth, _as_array(predicted))) for m in spec.metrics)
    return PerformanceFacts("scored", spec.label, rows, len(labelled), scores)


def _as_array(predicted: Any) -> Any:
    import numpy as np

    values = (
        predicted.iloc[:, 0]
        if hasattr(predicted, "iloc") and getattr(predicted, "ndim", 1) == 2
        else predicted
    )
    return np.asarray(values).ravel()


def score(name: str, truth: Any, predicted: Any) -> float | None:
    """One score; None when it is undefined on these rows (r2 of a single row, say)."""
    import numpy as np
    from sklearn import metrics

    try:
        if name in ("accuracy", "balanced_accuracy"):
            fn = metrics.accuracy_score if name == "accuracy" else metrics.balanced_accuracy_score
            return float(fn(truth, predicted))
        if name in ("f1", "precision", "recall"):
            labels = set(np.unique(truth)) | set(np.unique(predicted))
            # Binary 0/1 labels are scored for the positive class, as sklearn's defaults (and the sample
            # pipeline) do; anything else is averaged over the classes.
            average = "binary" if labels <= {0, 1} else "macro"  # True == 1, False == 0
            fn = {
                "f1": metrics.f1_score,
                "precision": metrics.precision_score,
                "recall": metrics.recall_score,
            }
            return float(fn[name](truth, predicted, average=average, zero_division=0))
        truth_f, predicted_f = np.asarray(truth, dtype=float), np.asarray(predicted, dtype=float)
        if name == "mae":
            return float(metrics.mean_absolute_error(truth_f, predicted_f))
        if name == "rmse":
            return float(np.sqrt(metrics.mean_squared_error(truth_f, predicted_f)))
        if name == "mape":
            return float(metrics.mean_absolute_percentage_error(truth_f, predicted_f))
        if name == "r2":
            if len(truth_f) < 2:
                return None  # undefined: sklearn warns and answers nan
            value = float(metrics.r2_score(truth_f, predicted_f))
            return value if math.isfinite(value) else None
    except (ValueError, TypeError):
        return None
    raise ValueError(f"unknown score {name!r}")
