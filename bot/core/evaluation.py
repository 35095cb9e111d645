"""A fair verdict: the candidate and the champion scored on the same rows, with the uncertainty shown.

The numbers come from the job (a paired bootstrap over the evaluation rows, `bot/jobs/evaluation/`); what
they mean is decided here, without numpy: the verdict a confidence interval of a difference gives, the
worst slice regression, and the comparison as a value that travels in `mlops-bot train --json`.

A difference is `candidate - champion`. Its verdict respects the metric's direction: for accuracy (higher
is better) an interval wholly above zero is "better"; for rmse (lower is better) one wholly below zero is.
An interval that holds zero is "not distinguishable": on these rows the two models cannot be told apart.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any, Literal

from bot.core.config.evaluation import SCORE_DIRECTIONS
from bot.core.config.models import Direction, ModelSpec

Significance = Literal["better", "worse", "not distinguishable"]
# The champion's same-data scores, logged to the candidate's run as `champion.<metric>`.
CHAMPION_METRIC_PREFIX = "champion."


def verdict_from_interval(low: float, high: float, direction: Direction) -> Significance:
    """What an interval of `candidate - champion` says, in the metric's own direction."""
    if low > 0:
        return "better" if direction == "higher" else "worse"
    if high < 0:
        return "worse" if direction == "higher" else "better"
    return "not distinguishable"


def worse_by(candidate: float, champion: float, direction: Direction) -> float:
    """How much worse the candidate is than the champion, in the metric's direction (negative: better)."""
    return champion - candidate if direction == "higher" else candidate - champion


def metric_direction(model: ModelSpec, name: str, score: str) -> Direction:
    """The gate's direction for `name` when the gate lists it, else the score's natural one."""
    gated = model.metric(name)
    return gated.direction if gated is not None else SCORE_DIRECTIONS[score]


@dataclass(frozen=True)
class MetricComparison:
    """One metric, both models on the same rows: the point values, and the bootstrap interval of the
    difference (`low`, `high` at `SameDataComparison.confidence`)."""

    name: str
    direction: Direction
    candidate: float
    champion: float
    low: float
    high: float

    @property
    def delta(self) -> float:
        return self.candidate - self.champion

    @property
    def verdict(self) -> Significance:
        return verdict_from_interval(self.low, self.high, self.direction)

    @property
    def worse_by(self) -> float:
        return worse_by(self.candidate, self.champion, self.direction)


@dataclass(frozen=True)
class SliceMetric:
    name: str
    direction: Direction
    candidate: float
    champion: float

    @property
    def worse_by(self) -> float:
        return worse_by(self.candidate, self.champion, self.direction)


@dataclass(frozen=True)
class SliceComparison:
    """Both models on the rows where `column` holds `value`."""

    column: str
    value: str
    rows: int
    metrics: tuple[SliceMetric, ...]

    def metric(self, name: str) -> SliceMetric | None:
        return next((m for m in self.metrics if m.name == name), None)


@dataclass(frozen=True)
class SliceRegression:
    column: str
    value: str
    rows: int
    metric: SliceMetric

    def describe(self) -> str:
        m = self.metric
        return (
            f"{m.name} on {self.column}={self.value} ({self.rows} rows) {m.candidate:.3f} vs champion "
            f"{m.champion:.3f}: worse by {m.worse_by:.3f}"
        )


@dataclass(frozen=True)
class SameDataComparison:
    """The champion re-scored on the candidate's evaluation data, and the candidate on the same rows.

    `error` set: the comparison could not be made, and says what is missing and where (the card shows it
    as one line; the gates then fall back to the recorded metrics, unless `promotion.same_data` requires
    the comparison)."""

    data: str  # the evaluation data, as the config names it
    rows: int = 0
    champion_version: str = ""
    resamples: int = 0
    seed: int = 0
    confidence: float = 0.95
    metrics: tuple[MetricComparison, ...] = ()
    slices: tuple[SliceComparison, ...] = ()
    error: str = ""
    notes: tuple[
        str, ...
    ] = ()  # what was left out and why (a score the champion cannot give, a slice column)

    @property
    def ok(self) -> bool:
        return not self.error

    def metric(self, name: str) -> MetricComparison | None:
        return next((m for m in self.metrics if m.name == name), None)

    def champion_metrics(self) -> dict[str, float]:
        """`champion.<metric>`, as logged to the candidate's run so the comparison can be reproduced."""
        return {
            f"{CHAMPION_METRIC_PREFIX}{m.name}": m.champion for m in self.metrics if math.isfinite(m.champion)
        }

    def worst_slice_regression(self, tolerances: Mapping[str, float]) -> SliceRegression | None:
        """The slice metric that got worse the most beyond its tolerance (`tolerances`: metric -> allowed
        drop; a metric not in it is not judged); None when no slice regressed beyond it."""
        worst: SliceRegression | None = None
        for piece in self.slices:
            for m in piece.metrics:
                allowed = tolerances.get(m.name)
                if allowed is None or not math.isfinite(m.worse_by) or m.worse_by <= allowed + 1e-9:
                    continue
                if worst is None or m.worse_by > worst.metric.worse_by:
                    worst = SliceRegression(piece.column, piece.value, piece.rows, m)
        return worst


def failed_comparison(data: str, error: str, champion_version: str = "") -> SameDataComparison:
    return SameDataComparison(data=data, champion_version=champion_version, error=error)


def slice_tolerances(model: ModelSpec) -> dict[str, float]:
    """How much worse a slice may get per gated metric before the headline names it: the metric's
    `slice_tolerance` when set, else its `tolerance`. A metric the gate does not list is shown per slice,
    never named in the headline."""
    return {
        spec.name: spec.slice_tolerance if spec.slice_tolerance is not None else spec.tolerance
        for spec in model.metrics
    }


# -- as `mlops-bot train --json` writes it ----------------------------------------------------------


def comparison_to_dict(comparison: SameDataComparison) -> dict[str, Any]:
    return asdict(comparison)


def comparison_from_dict(data: Mapping[str, Any]) -> SameDataComparison:
    """The inverse of `comparison_to_dict` (`dataclasses.asdict`)."""
    metrics = tuple(
        MetricComparison(**{k: v for k, v in m.items() if k in MetricComparison.__dataclass_fields__})
        for m in data.get("metrics", ())
    )
    slices = tuple(
        SliceComparison(
            column=str(s["column"]),
            value=str(s["value"]),
            rows=int(s["rows"]),
            metrics=tuple(
                SliceMetric(**{k: v for k, v in m.items() if k in SliceMetric.__dataclass_fields__})
                for m in s.get("metrics", ())
            ),
        )
        for s in data.get("slices", ())
    )
    plain = {
        k: v
        for k, v in data.items()
        if k in SameDataComparison.__dataclass_fields__ and k not in ("metrics", "slices", "notes")
    }
    notes = tuple(str(n) for n in data.get("notes", ()))
    return SameDataComparison(**plain, metrics=metrics, slices=slices, notes=notes)
