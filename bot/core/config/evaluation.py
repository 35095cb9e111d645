"""`models[].evaluation`: the data on which the candidate and the champion are both scored on every PR
training, and how (the metrics of the gate vocabulary, slices, the bootstrap)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

# As in bot/core/config/models.py, which builds on this module (and so cannot be imported by it).
Direction = Literal["higher", "lower"]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


# The scores the same-data comparison computes (by sklearn.metrics' names and definitions), each with the
# direction in which it is better. roc_auc and log_loss need a model that gives class probabilities.
SCORE_DIRECTIONS: dict[str, Direction] = {
    "accuracy": "higher",
    "balanced_accuracy": "higher",
    "f1": "higher",
    "precision": "higher",
    "recall": "higher",
    "roc_auc": "higher",
    "log_loss": "lower",
    "mae": "lower",
    "mape": "lower",
    "rmse": "lower",
    "mse": "lower",
    "r2": "higher",
}
REGRESSION = frozenset({"mae", "mape", "rmse", "mse", "r2"})
PROBABILITY = frozenset({"roc_auc", "log_loss"})
Average = Literal["binary", "macro", "micro", "weighted"]


class EvaluationMetric(Strict):
    """A metric of the same-data comparison. `name` is how the card and the gate call it (a gate metric of
    the same name is judged by it); `score` is what to compute (default: the name)."""

    name: str
    score: str | None = None
    pos_label: str | int | float | bool | None = Field(
        None, description="The positive class of a binary label (default: 1, or the larger of two values)."
    )
    average: Average | None = Field(
        None, description="f1/precision/recall over classes: binary (two classes) or macro/micro/weighted."
    )
    threshold: float | None = Field(
        None,
        gt=0,
        lt=1,
        description="Predict the positive class when its probability reaches this (needs predict_proba).",
    )

    @property
    def scorer(self) -> str:
        return self.score or self.name

    @model_validator(mode="after")
    def _known(self) -> EvaluationMetric:
        if self.scorer not in SCORE_DIRECTIONS:
            field = "score" if self.score else "name"
            raise ValueError(
                f"{field} {self.scorer!r} is not a score mlops-bot computes; known: {', '.join(SCORE_DIRECTIONS)}"
                " (set `score:` when the gate calls it by another name)"
            )
        if self.scorer in REGRESSION and (
            self.pos_label is not None or self.average is not None or self.threshold
        ):
            raise ValueError(
                f"{self.scorer} is a regression score: pos_label, average and threshold do not apply"
            )
        return self


class EvaluationSpec(Strict):
    """Score the candidate and the champion (`models:/NAME@champion`) on the same rows on every PR training."""

    data: str = Field(
        ..., description="The evaluation rows: a CSV or Parquet file the pipeline produces (a DVC output)."
    )
    label: str = Field(..., description="The column holding the true label or value.")
    features: list[str] | None = Field(
        None, description="The model's input columns; default: the ones its MLflow signature names."
    )
    metrics: list[EvaluationMetric] = Field(
        default_factory=list, description="Default: the gate's metrics (`metrics:`) that are known scores."
    )
    slices: list[str] = Field(
        default_factory=list, description="Columns whose values are compared one by one."
    )
    min_slice_rows: int = Field(30, ge=1, description="Slice values with fewer rows are not compared.")
    max_slice_values: int = Field(20, ge=1, description="The most frequent values of a slice column shown.")
    resamples: int = Field(1000, ge=100, le=100_000, description="Paired bootstrap resamples.")
    max_rows: int = Field(
        200_000, ge=100, description="More labelled rows than this are sampled (seeded) down to it."
    )
    confidence: float = Field(0.95, gt=0.5, lt=1)
    seed: int = Field(0, ge=0)

    @field_validator("data")
    @classmethod
    def _inside(cls, value: str) -> str:
        from bot.core.config.models import _repo_relative  # the same rule as every path of the config

        return _repo_relative(value)

    @field_validator("metrics", mode="before")
    @classmethod
    def _names(cls, value: Any) -> Any:
        """`metrics: [accuracy, f1]` is short for `[{name: accuracy}, {name: f1}]`."""
        if isinstance(value, list):
            return [{"name": item} if isinstance(item, str) else item for item in value]
        return value

    @field_validator("metrics")
    @classmethod
    def _one_task(cls, metrics: list[EvaluationMetric]) -> list[EvaluationMetric]:
        check_one_task([(m.name, m.scorer in REGRESSION) for m in metrics])
        return metrics

    @model_validator(mode="after")
    def _label_apart(self) -> EvaluationSpec:
        if self.features is not None and self.label in self.features:
            raise ValueError(f"the label {self.label!r} is also listed in `features`")
        return self


def check_one_task(metrics: list[tuple[str, bool]]) -> None:
    """A list of (metric name, is a regression score) scores one kind of model, each name once; else
    ValueError says which rule broke (pydantic reports it at the list's line)."""
    if len({regression for _, regression in metrics}) > 1:
        raise ValueError("mixes classification and regression scores; a model is one or the other")
    names = [name for name, _ in metrics]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise ValueError(f"metric names must be unique; repeated: {', '.join(dupes)}")
