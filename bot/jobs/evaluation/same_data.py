"""The champion re-scored on the candidate's evaluation data, and the candidate on the same rows.

`same_data_comparison` reads `models[].evaluation.data` from the checkout, loads both models through MLflow
(any flavor pyfunc loads), checks that the rows hold what each model takes as input, predicts, and hands the
predictions to the paired bootstrap. Anything that stops a fair comparison (no such file, no label column,
a column the champion's signature needs) comes back as the comparison's `error`, a line for the card that
says what is missing and where, never as an exception.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from bot.adapters.mlflow.scoring import ModelLoadError, ScoringModel, load_for_scoring
from bot.core.config import ModelSpec
from bot.core.config.evaluation import PROBABILITY, REGRESSION, EvaluationMetric, EvaluationSpec
from bot.core.evaluation import (
    MetricComparison,
    SameDataComparison,
    SliceComparison,
    SliceMetric,
    failed_comparison,
    metric_direction,
)
from bot.jobs.evaluation.bootstrap import MetricRequest, Pair, paired_bootstrap, point_value
from bot.jobs.evaluation.scores import Labels, ScoreError

Loader = Callable[[str], ScoringModel]


class _Unfair(Exception):
    """The comparison cannot be made; the message is the card's line."""


def same_data_comparison(
    root: Path,
    spec: ModelSpec,
    *,
    candidate_uri: str,
    champion_uri: str,
    champion_version: str,
    tracking_uri: str = "",
    load: Loader | None = None,
) -> SameDataComparison:
    """Both models on `spec.evaluation.data` (a path in the checkout at `root`)."""
    evaluation = spec.evaluation
    assert evaluation is not None, "only models with `evaluation:` are compared on the same data"
    loader = load or (lambda uri: load_for_scoring(uri, tracking_uri=tracking_uri))
    try:
        return _compare(root, spec, evaluation, loader, candidate_uri, champion_uri, champion_version)
    except _Unfair as exc:
        return failed_comparison(evaluation.data, str(exc), champion_version)


def _compare(
    root: Path,
    spec: ModelSpec,
    evaluation: EvaluationSpec,
    load: Loader,
    candidate_uri: str,
    champion_uri: str,
    champion_version: str,
) -> SameDataComparison:
    data = evaluation.data
    frame = _read(root, data)
    if evaluation.label not in frame.columns:
        raise _Unfair(
            f"the evaluation data {data} has no label column {evaluation.label!r} (evaluation.label); "
            f"its columns: {_names(frame.columns)}"
        )
    frame = frame[frame[evaluation.label].notna()].reset_index(drop=True)
    if frame.empty:
        raise _Unfair(f"the evaluation data {data} has no row with a label in {evaluation.label!r}")
    sampled: list[str] = []
    if len(frame) > evaluation.max_rows:
        sampled.append(
            f"a seeded sample of {evaluation.max_rows:,} of the {len(frame):,} labelled rows was scored "
            "(evaluation.max_rows)"
        )
        frame = frame.sample(n=evaluation.max_rows, random_state=evaluation.seed).reset_index(drop=True)
    metrics = _metrics(spec, evaluation)
    needs_proba = any(m.scorer in PROBABILITY or m.threshold for m in metrics)
    who = {"candidate": "the candidate", "champion": f"the champion (version {champion_version})"}
    outputs = {
        role: _predict(_load(load, uri, who[role]), frame, evaluation, who[role], needs_proba)
        for role, uri in (("candidate", candidate_uri), ("champion", champion_uri))
    }
    truth = frame[evaluation.label].to_numpy()
    regression = metrics[0].scorer in REGRESSION
    pairs, notes = _pairs(metrics, truth, outputs, regression)
    if not pairs:
        raise _Unfair("no metric could be computed for both models: " + "; ".join(notes))
    results = paired_bootstrap(
        pairs, resamples=evaluation.resamples, seed=evaluation.seed, confidence=evaluation.confidence
    )
    directions = {m.name: metric_direction(spec, m.name, m.scorer) for m in metrics}
    compared = tuple(
        MetricComparison(r.name, directions[r.name], r.candidate, r.champion, r.low, r.high) for r in results
    )
    slices, slice_notes = _slices(frame, evaluation, pairs, directions)
    return SameDataComparison(
        data=data,
        rows=len(frame),
        champion_version=champion_version,
        resamples=evaluation.resamples,
        seed=evaluation.seed,
        confidence=evaluation.confidence,
        metrics=compared,
        slices=slices,
        notes=tuple(sampled + notes + slice_notes),
    )


def _read(root: Path, data: str) -> pd.DataFrame:
    path = root / data
    if not path.resolve().is_relative_to(root.resolve()):
        raise _Unfair(f"the evaluation data {data} leads outside the repository")
    if not path.is_file():
        raise _Unfair(
            f"the evaluation data {data} is not in the checkout after training (evaluation.data: a file the "
            "pipeline writes or DVC tracks)"
        )
    try:
        return pd.read_parquet(path) if path.suffix == ".parquet" else pd.read_csv(path)
    except Exception as exc:
        raise _Unfair(f"the evaluation data {data} could not be read: {exc}") from exc


def _metrics(spec: ModelSpec, evaluation: EvaluationSpec) -> list[EvaluationMetric]:
    if evaluation.metrics:
        return list(evaluation.metrics)
    from bot.core.config.evaluation import SCORE_DIRECTIONS

    return [EvaluationMetric(name=m.name) for m in spec.metrics if m.name in SCORE_DIRECTIONS]


def _load(load: Loader, uri: str, who: str) -> ScoringModel:
    try:
        return load(uri)
    except ModelLoadError as exc:
        raise _Unfair(f"{who} could not be scored: {exc}") from exc


def _predict(
    model: ScoringModel, frame: pd.DataFrame, evaluation: EvaluationSpec, who: str, needs_proba: bool
) -> dict[str, Any]:
    """{"predicted": values, "proba": probabilities or None, "classes": class order or None}."""
    features = _features(model, frame, evaluation, who)
    rows = frame[features]
    try:
        predicted = np.asarray(model.predict(rows))
        proba = (
            np.asarray(model.predict_proba(rows), dtype=float)
            if needs_proba and model.predict_proba
            else None
        )
    except Exception as exc:
        raise _Unfair(f"{who} could not score {evaluation.data}: {str(exc).splitlines()[0][:300]}") from exc
    classes = model.classes
    if predicted.ndim == 2 and predicted.shape[1] > 1:  # a pyfunc that answers with class probabilities
        proba, predicted = predicted.astype(float), np.empty(0)
    elif predicted.ndim == 2:
        predicted = predicted[:, 0]
    return {"predicted": predicted, "proba": proba, "classes": classes}


def _features(model: ScoringModel, frame: pd.DataFrame, evaluation: EvaluationSpec, who: str) -> list[str]:
    """The columns the model is given: `evaluation.features`, else its signature's inputs, else every
    column but the label. A column either list names and the data lacks is the card's error line."""
    data = evaluation.data
    if evaluation.features is not None:
        wanted, source = list(evaluation.features), "evaluation.features"
        if model.inputs is not None and set(model.inputs) - set(wanted):
            missing = [c for c in model.inputs if c not in wanted]
            raise _Unfair(
                f"{who} takes column(s) {_names(missing)} as input (its MLflow signature), which "
                f"evaluation.features does not list"
            )
    elif model.inputs is not None:
        wanted, source = list(model.inputs), "its MLflow signature"
    else:
        return [c for c in frame.columns if c != evaluation.label]
    missing = [c for c in wanted if c not in frame.columns]
    if missing:
        raise _Unfair(
            f"the evaluation data {data} lacks column(s) {_names(missing)} that {who} takes as input ({source})"
        )
    return wanted


def _pairs(
    metrics: Sequence[EvaluationMetric], truth: Any, outputs: dict[str, dict[str, Any]], regression: bool
) -> tuple[list[Pair], list[str]]:
    pairs, notes = [], []
    classes = () if regression else _classes(truth, outputs)
    for metric in metrics:
        try:
            candidate, champion = (
                _labels(metric, truth, outputs[role], classes, regression)
                for role in ("candidate", "champion")
            )
        except ScoreError as exc:
            notes.append(f"{metric.name} not compared: {exc}")
            continue
        average = metric.average or (None if len(classes) <= 2 else "macro")
        pairs.append(Pair(MetricRequest(metric.name, metric.scorer, average), candidate, champion))
    return pairs, notes


def _classes(truth: Any, outputs: dict[str, dict[str, Any]]) -> tuple[Any, ...]:
    seen: list[Any] = list(pd.unique(truth))
    for output in outputs.values():
        for value in list(output["classes"] or ()) + list(pd.unique(output["predicted"])):
            if value not in seen:
                seen.append(value)
    try:
        return tuple(sorted(seen))
    except TypeError:  # mixed types: their text sorts
        return tuple(sorted(seen, key=str))


def _labels(
    metric: EvaluationMetric, truth: Any, output: dict[str, Any], classes: tuple[Any, ...], regression: bool
) -> Labels:
    if regression:
        predicted = output["predicted"]
        if predicted.size == 0:
            raise ScoreError("the model answers with several columns, not one value per row")
        return Labels(truth.astype(float), predicted.astype(float))
    code = {value: i for i, value in enumerate(classes)}
    positive = _positive(metric, classes)
    proba = _proba(output, classes)
    if metric.threshold is not None or output["predicted"].size == 0:
        if proba is None:
            raise ScoreError("a threshold needs class probabilities, which this model does not give")
        if metric.threshold is not None and len(classes) == 2:
            predicted_codes = np.where(proba[:, positive] >= metric.threshold, positive, 1 - positive)
        else:
            predicted_codes = proba.argmax(axis=1)
    else:
        predicted_codes = np.array([code[v] for v in output["predicted"]])
    if metric.scorer in PROBABILITY and proba is None:
        raise ScoreError(f"{metric.scorer} needs class probabilities, which this model does not give")
    return Labels(np.array([code[v] for v in truth]), predicted_codes, classes, positive, proba)


def _positive(metric: EvaluationMetric, classes: tuple[Any, ...]) -> int:
    if metric.pos_label is not None:
        for i, value in enumerate(classes):
            if value == metric.pos_label or str(value) == str(metric.pos_label):
                return i
        raise ScoreError(f"pos_label {metric.pos_label!r} is not among the labels {_names(classes)}")
    for i, value in enumerate(classes):
        if value == 1 and len(classes) == 2:
            return i
    return len(classes) - 1


def _proba(output: dict[str, Any], classes: tuple[Any, ...]) -> Any:
    proba = output["proba"]
    if proba is None:
        return None
    own = output["classes"]
    if own is None:  # a pyfunc's columns: the labels in sorted order
        if proba.shape[1] != len(classes):
            raise ScoreError(
                f"the model gives {proba.shape[1]} probability columns for {len(classes)} labels"
            )
        return proba
    aligned = np.zeros((proba.shape[0], len(classes)))
    for j, value in enumerate(own):
        aligned[:, classes.index(value)] = proba[:, j]
    return aligned


def _slices(
    frame: pd.DataFrame, evaluation: EvaluationSpec, pairs: Sequence[Pair], directions: dict[str, Any]
) -> tuple[tuple[SliceComparison, ...], list[str]]:
    out: list[SliceComparison] = []
    notes: list[str] = []
    for column in evaluation.slices:
        if column not in frame.columns:
            notes.append(f"slice column {column!r} is not in {evaluation.data}")
            continue
        counts = frame[column].astype(str).value_counts()
        kept = counts[counts >= evaluation.min_slice_rows].head(evaluation.max_slice_values)
        text = frame[column].astype(str).to_numpy()
        for value, rows in kept.items():
            mask = text == value
            metrics = []
            for pair in pairs:
                candidate = point_value(pair.request, _subset(pair.candidate, mask))
                champion = point_value(pair.request, _subset(pair.champion, mask))
                if np.isfinite(candidate) and np.isfinite(champion):
                    name = pair.request.name
                    metrics.append(SliceMetric(name, directions[name], candidate, champion))
            out.append(SliceComparison(column, str(value), int(rows), tuple(metrics)))
    return tuple(out), notes


def _subset(labels: Labels, mask: Any) -> Labels:
    proba = labels.proba[mask] if labels.proba is not None else None
    return Labels(labels.truth[mask], labels.predicted[mask], labels.classes, labels.positive, proba)


def _names(values: Any) -> str:
    items = [str(v) for v in values]
    shown = ", ".join(items[:12])
    return shown + (f" and {len(items) - 12} more" if len(items) > 12 else "")
