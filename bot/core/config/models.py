"""The configuration's pydantic models: what `.github/mlops-bot.yml` may say, each field validated with a
message that names the fix. `RepoConfig` is the whole file."""

from __future__ import annotations

import datetime as dt
import re
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    field_validator,
    model_validator,
)

from bot.core.config.environments import Stage, check_environments, one_production, stages
from bot.core.config.evaluation import SCORE_DIRECTIONS, EvaluationSpec, check_one_task
from bot.core.config.traffic import LastWindow, TrafficLog
from bot.core.permissions import Permission


def _repo_relative(value: str) -> str:
    """A path inside the repository: relative, no `..`. Symlinks are resolved where the path is used."""
    text = value.replace("\\", "/")
    if not text.strip():
        raise ValueError("is empty; give a path relative to the repository root")
    if "\x00" in text:
        raise ValueError("holds a NUL character")
    if text.startswith("/") or re.match(r"^[A-Za-z]:", text) or text.startswith("~"):
        raise ValueError(f"{value!r} is absolute; give a path relative to the repository root")
    if ".." in text.split("/"):
        raise ValueError(f"{value!r} leaves the repository (`..`); give a path inside it")
    return value


# Every path the config names: confined to the repository at load time (and at use, for symlinks).
RepoPath = Annotated[str, AfterValidator(_repo_relative)]

Direction = Literal["higher", "lower"]
PermissionName = Literal["none", "read", "triage", "write", "maintain", "admin"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class MetricSpec(_Strict):
    """A metric the card shows and the promotion gate judges."""

    name: str
    direction: Direction = "higher"
    tolerance: float = Field(0.0, ge=0, description="How much worse than the champion is still allowed.")
    min: float | None = Field(None, description="Absolute floor (higher is better) the candidate must reach.")
    max: float | None = Field(
        None, description="Absolute ceiling (lower is better) the candidate must stay under."
    )
    significant: bool = Field(
        False,
        description="Judged on the same data (`evaluation`): an improvement must be distinguishable from zero "
        "(its bootstrap interval excludes it); with `tolerance`, a change within noise and the tolerance passes.",
    )
    slice_tolerance: float | None = Field(
        None,
        ge=0,
        description="Fail the gate when a slice (`evaluation.slices`) is worse than the champion by more.",
    )

    def better(self, candidate: float, reference: float) -> bool:
        return candidate > reference if self.direction == "higher" else candidate < reference


_DURATION = re.compile(r"^\s*(?P<count>\d+)\s*(?P<unit>[hdw])\s*$")
_UNIT_HOURS = {"h": 1, "d": 24, "w": 24 * 7}


def parse_duration(text: str) -> dt.timedelta:
    """`12h`, `30d`, `2w` as a timedelta; ValueError with the accepted forms otherwise."""
    match = _DURATION.match(text)
    if not match or int(match.group("count")) == 0:
        raise ValueError(
            f"{text!r} is not a duration; write a positive whole number of hours, days or weeks: 12h, 30d, 2w"
        )
    return dt.timedelta(hours=int(match.group("count")) * _UNIT_HOURS[match.group("unit")])


class RetrainSchedule(_Strict):
    """Retrain on a clock, drift or not: `every` is counted from the champion's promotion."""

    every: str = Field(..., description="How long a champion serves before a retrain PR opens: 12h, 30d, 2w.")

    @field_validator("every")
    @classmethod
    def _duration(cls, value: str) -> str:
        parse_duration(value)
        return value

    @property
    def interval(self) -> dt.timedelta:
        return parse_duration(self.every)


class DriftRetrain(_Strict):
    """How a retrain PR changes the repository: YAML keys set in one file. Every trigger (drift, performance,
    schedule) opens the same PR from `mlops-bot/retrain/<model>`."""

    file: RepoPath = "params.yaml"
    set: dict[str, Any] = Field(default_factory=dict, description="Dotted key -> new value.")
    schedule: RetrainSchedule | None = None


class ValueRange(_Strict):
    min: float | None = None
    max: float | None = None

    @model_validator(mode="after")
    def _ordered(self) -> ValueRange:
        if self.min is None and self.max is None:
            raise ValueError("give `min`, `max` or both")
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError(f"min {self.min} is above max {self.max}")
        return self


class QualitySpec(_Strict):
    """Checks on the production data before drift is judged. A schema break (a column of the champion's
    training data missing, or holding another type) is reported at once and stops the drift check: drift on
    broken data means nothing. The other checks are off until a threshold is set."""

    check_schema: bool = Field(
        True, alias="schema", description="Columns and their types must match the champion's training data."
    )
    max_missing_share: float | None = Field(
        None, ge=0, le=1, description="Largest share of empty values allowed in any compared column."
    )
    per_column_max_missing: dict[str, float] = Field(default_factory=dict)
    ranges: dict[str, ValueRange] = Field(
        default_factory=dict, description="Allowed values of numeric columns: column -> {min, max}."
    )
    range_margin: float | None = Field(
        None,
        ge=0,
        description="Numeric columns without `ranges` may stray this fraction of the training data's span "
        "beyond its min and max (0.1 = 10 %); unset: only `ranges` are checked.",
    )
    max_out_of_range_share: float = Field(
        0.0, ge=0, le=1, description="Share of a column's values allowed outside its range."
    )
    max_duplicate_share: float | None = Field(
        None, ge=0, le=1, description="Largest share of rows that repeat an earlier row."
    )
    consecutive: int = Field(
        1, ge=1, description="Failing checks in a row before a (non-schema) quality failure is reported."
    )

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    @field_validator("per_column_max_missing")
    @classmethod
    def _shares(cls, value: dict[str, float]) -> dict[str, float]:
        bad = sorted(k for k, v in value.items() if not 0 <= v <= 1)
        if bad:
            raise ValueError(f"shares must be between 0 and 1; not so for: {', '.join(bad)}")
        return value


# What production performance can be measured with, from predicted labels or values (sklearn.metrics);
# each with the direction in which it is better.
CLASSIFICATION_SCORES: dict[str, Direction] = {
    "accuracy": "higher",
    "balanced_accuracy": "higher",
    "f1": "higher",
    "precision": "higher",
    "recall": "higher",
}
REGRESSION_SCORES: dict[str, Direction] = {"mae": "lower", "rmse": "lower", "mape": "lower", "r2": "higher"}
SCORES: dict[str, Direction] = {**CLASSIFICATION_SCORES, **REGRESSION_SCORES}


class PerformanceMetric(MetricSpec):
    """A promotion-gate metric judged on labelled production data against the champion's recorded value.

    `name` is the metric as the champion's run logged it; `score` is how to compute it on production data
    (default: the name). The direction defaults to the score's own."""

    score: str | None = None

    @property
    def scorer(self) -> str:
        return self.score or self.name

    @model_validator(mode="before")
    @classmethod
    def _natural_direction(cls, data: Any) -> Any:
        """An unset direction is the score's own (rmse: lower), not MetricSpec's default (higher)."""
        if isinstance(data, dict) and "direction" not in data:
            natural = SCORES.get(str(data.get("score") or data.get("name")))
            if natural is not None:
                return {**data, "direction": natural}
        return data

    @model_validator(mode="after")
    def _known_score(self) -> PerformanceMetric:
        natural = SCORES.get(self.scorer)
        if natural is None:
            field = "score" if self.score else "name"
            raise ValueError(
                f"{field} {self.scorer!r} is not a score mlops-bot computes; known: {', '.join(SCORES)} "
                "(set `score:` when the run logs it under another name)"
            )
        if self.direction != natural:
            raise ValueError(f"{self.scorer} is better when {natural}, but direction says {self.direction}")
        return self


class PerformanceSpec(_Strict):
    """Score the champion on production rows that carry ground truth, and compare with its promotion-time
    metrics. A check without labels says so and is not a pass."""

    label: str = Field(..., description="The column of the current data holding the true label or value.")
    metrics: list[PerformanceMetric] = Field(..., min_length=1)
    consecutive: int = Field(2, ge=1, description="Checks in a row with a drop before a retrain PR opens.")
    min_rows: int = Field(30, ge=1, description="Fewer labelled rows than this count as no labels.")

    @field_validator("metrics")
    @classmethod
    def _one_task(cls, metrics: list[PerformanceMetric]) -> list[PerformanceMetric]:
        check_one_task([(m.name, m.scorer not in CLASSIFICATION_SCORES) for m in metrics])
        return metrics

    @property
    def task(self) -> Literal["classification", "regression"]:
        return "classification" if self.metrics[0].scorer in CLASSIFICATION_SCORES else "regression"


class DriftSpec(_Strict):
    """The scheduled production check of one model: data quality, drift, performance and the retrain clock."""

    current: RepoPath = Field(
        ...,
        description="Production data: a path, a glob or a DVC-tracked file (CSV/Parquet), or `served`: what the "
        "bot's service logged (`traffic`) within `window`, with the labels that came back joined.",
    )
    window: LastWindow | Literal["since-last-check"] = Field(
        default_factory=LastWindow,
        description="With `current: served`: `{last: 7d}`, or `since-last-check` (the first check: 7d).",
    )
    traffic: TrafficLog = Field(default_factory=TrafficLog)
    reference: RepoPath = Field(
        ..., description="Training data path in the repository, resolved at the champion's sha."
    )
    columns: list[str] | None = None
    numerical_columns: list[str] | None = None
    categorical_columns: list[str] | None = None
    method: str | None = None
    threshold: float | None = None
    per_column_method: dict[str, str] = Field(default_factory=dict)
    per_column_threshold: dict[str, float] = Field(default_factory=dict)
    drift_share: float = Field(0.5, gt=0, le=1)
    consecutive: int = Field(2, ge=1, description="Breaching checks in a row before drift counts.")
    sample_cap: int = Field(200_000, ge=100)
    reopen: Literal["reopen", "replace"] = "reopen"
    close_when_clear: bool = False
    retrain: DriftRetrain = Field(default_factory=DriftRetrain)
    quality: QualitySpec = Field(default_factory=QualitySpec)  # type: ignore[arg-type]  # alias-only field
    performance: PerformanceSpec | None = None

    @property
    def served(self) -> bool:
        """The check reads the service's own traffic log (`traffic`), not a file."""
        return self.current == "served"


class ModelSpec(_Strict):
    name: str = Field(..., pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
    stage: str = Field(..., description="The DVC stage that trains this model.")
    output: RepoPath = Field(..., description="The model file the stage writes (a DVC out).")
    flavor: Literal["sklearn"] = "sklearn"
    metrics: list[MetricSpec] = Field(default_factory=list)
    intended_use: str = ""
    caveats: list[str] = Field(default_factory=list)
    training_data: list[RepoPath] = Field(default_factory=list, description="Input paths shown as lineage.")
    metrics_from: list[RepoPath] | None = Field(
        None,
        description="Where the metrics come from: stage names (their `metrics:`) or metrics files. Unset: the "
        "model's stage, dvc.yaml's top-level `metrics:` and the stages downstream of the model's stage. "
        "Training reproduces the stages that produce them.",
    )
    plots_from: list[RepoPath] | None = Field(
        None,
        description="Which plots the card shows: stage names (their `plots:`), plot files or top-level plot "
        "ids. Unset: the model's stage, dvc.yaml's top-level `plots:` and the stages downstream of it.",
    )
    drift: DriftSpec | None = None
    evaluation: EvaluationSpec | None = Field(
        None, description="Score the candidate and the champion on the same rows on every PR training."
    )

    @model_validator(mode="after")
    def _evaluation_metrics(self) -> ModelSpec:
        scorable = any(m.name in SCORE_DIRECTIONS for m in self.metrics)
        if self.evaluation is not None and not self.evaluation.metrics and not scorable:
            raise ValueError(
                "evaluation: no metric to compute; list `evaluation.metrics` (e.g. [accuracy]) or gate on a "
                f"known score under `metrics:` ({', '.join(SCORE_DIRECTIONS)})"
            )
        return self

    def metric(self, name: str) -> MetricSpec | None:
        return next((m for m in self.metrics if m.name == name), None)


class Aliases(_Strict):
    champion: str = "champion"
    previous: str = "previous"
    staging: str = Field(
        "staging", description="Serves the `staging` environment of `promotion.environments`."
    )

    @model_validator(mode="after")
    def _distinct(self) -> Aliases:
        names = [self.champion, self.previous, self.staging]
        if len(set(names)) < len(names):
            raise ValueError(f"champion, previous and staging need three different aliases; got {names}")
        return self


class Promotion(_Strict):
    on_merge: bool = True
    missing_candidate: Literal["refuse", "train"] = "refuse"
    allow_on_open_pr: bool = False
    required_approvals: int = Field(0, ge=0)
    required_checks: list[str] = Field(default_factory=list)
    environment: str = Field(
        "production", description="The champion's GitHub environment (the last of `environments`)."
    )
    environments: list[str] = Field(
        default_factory=lambda: ["production"],
        description="The GitHub environments a model moves through: a merge promotes to the first, "
        "`/promote MODEL --to <next>` or `soak` moves it on. `[staging, production]`: alias `staging`, then "
        "`champion`.",
    )
    soak: str | None = Field(
        None,
        description="Move a version on from staging after this long (12h, 1d) with its monitoring checks "
        "green; unset: only `/promote --to` moves it.",
    )
    same_data: Literal["when_available", "required"] = Field(
        "when_available",
        description="`required`: with a champion, a candidate not compared with it on the same data "
        "(`models[].evaluation`) is not promoted.",
    )

    @model_validator(mode="before")
    @classmethod
    def _one_production(cls, data: Any) -> Any:
        return one_production(data)

    @field_validator("environments")
    @classmethod
    def _environments(cls, names: list[str]) -> list[str]:
        return check_environments(names)

    @model_validator(mode="after")
    def _soak(self) -> Promotion:
        if self.soak is not None:
            parse_duration(self.soak)
            if len(self.environments) < 2:
                raise ValueError(
                    "`soak` moves a version on from staging, but `environments` lists one; "
                    "write `environments: [staging, production]` or drop `soak`"
                )
        return self

    @property
    def soak_time(self) -> dt.timedelta | None:
        return parse_duration(self.soak) if self.soak else None


class Permissions(_Strict):
    """Minimum repository permission for each command."""

    train: PermissionName = "write"
    card: PermissionName = "read"
    promote: PermissionName = "maintain"
    rollback: PermissionName = "maintain"
    drift: PermissionName = "write"
    ok_to_test: PermissionName = Field("write", alias="ok-to-test")
    help: PermissionName = "read"

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    def required(self, verb: str) -> Permission:
        value = getattr(self, verb.replace("-", "_"), "admin")
        return Permission.parse(value)


class Training(_Strict):
    """How the repository's stage commands run (docs/security.md): what they may see, and for how long."""

    env: dict[str, str] = Field(default_factory=dict, description="Literal variables set for the stages.")
    pass_env: list[str] = Field(
        default_factory=list,
        description="Variables passed on from the runner's or bot's environment (e.g. a DVC remote's "
        "credentials). The bot's own secrets and GitHub tokens are never passed, even when named.",
    )
    timeout: str | None = Field(
        None, description="How long `dvc repro` may run (30m, 2h); the bot's own ceiling still applies."
    )
    python: RepoPath | None = Field(
        None,
        description="A requirements file: the stages run in a virtual environment built from it (kept between "
        "jobs while it names only packages). Without it, `python` is whatever the runner's PATH gives (the "
        "local executor: the bot's own Python).",
    )

    @field_validator("env", "pass_env")
    @classmethod
    def _names(cls, value: Any) -> Any:
        names = value if isinstance(value, list) else list(value)
        bad = [n for n in names if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", n)]
        if bad:
            raise ValueError(f"not an environment variable name: {', '.join(bad)}")
        return value

    @field_validator("timeout")
    @classmethod
    def _timeout(cls, value: str | None) -> str | None:
        if value is not None:
            _timeout_seconds(value)
        return value

    def timeout_seconds(self) -> float | None:
        return _timeout_seconds(self.timeout) if self.timeout else None


_TIMEOUT = re.compile(r"^(?P<count>[1-9][0-9]*)(?P<unit>[smh])$")


def _timeout_seconds(text: str) -> float:
    match = _TIMEOUT.match(text)
    if not match:
        raise ValueError(f"{text!r} is not a timeout; write whole seconds, minutes or hours: 90s, 30m, 2h")
    return float(int(match["count"]) * {"s": 1, "m": 60, "h": 3600}[match["unit"]])


class RepoConfig(_Strict):
    version: Literal[1] = 1
    training: Training = Field(default_factory=Training)
    models: list[ModelSpec] = Field(default_factory=list)
    aliases: Aliases = Field(default_factory=Aliases)
    promotion: Promotion = Field(default_factory=Promotion)
    permissions: Permissions = Field(default_factory=Permissions)
    reconcile: Literal["report", "correct"] = "report"
    card_template: RepoPath | None = Field(None, description="Repository path of a Jinja2 card template.")
    mlflow_experiment: str = "mlops-bot"

    @field_validator("models")
    @classmethod
    def _unique_names(cls, models: list[ModelSpec]) -> list[ModelSpec]:
        names = [m.name for m in models]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"model names must be unique; repeated: {', '.join(dupes)}")
        return models

    def stages(self) -> list[Stage]:
        """`promotion.environments` in order, each with the alias that serves it."""
        return stages(
            self.promotion.environments,
            staging_alias=self.aliases.staging,
            champion_alias=self.aliases.champion,
        )

    def stage(self, name: str) -> Stage | None:
        """The environment named `name` (GitHub's names are not case sensitive), if the path has it."""
        return next((s for s in self.stages() if s.name.lower() == name.lower()), None)

    def model(self, name: str | None) -> ModelSpec | None:
        """The named model, or the only one when no name is given."""
        if name is None:
            return self.models[0] if len(self.models) == 1 else None
        return next((m for m in self.models if m.name == name), None)
