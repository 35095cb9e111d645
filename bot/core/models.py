"""Value types shared by decisions, ports and adapters. Plain frozen dataclasses: no I/O."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from bot.core.evaluation import SameDataComparison, comparison_from_dict


@dataclass(frozen=True)
class PullFacts:
    """What the bot needs to know about a pull request."""

    number: int
    title: str
    author: str
    state: str  # "open" | "closed"
    merged: bool
    head_sha: str
    head_ref: str
    head_repo: str  # full name of the head repository; differs from base_repo for forks
    base_ref: str
    base_sha: str
    base_repo: str
    merge_commit_sha: str | None = None
    html_url: str = ""
    approvals: int = 0

    @property
    def is_fork(self) -> bool:
        return self.head_repo.lower() != self.base_repo.lower()


@dataclass(frozen=True)
class CommitFacts:
    """One commit as GitHub describes it: who made it, on what, and which files it changed."""

    sha: str
    parents: tuple[str, ...]
    author_email: str
    committer_email: str
    message: str
    files: tuple[str, ...]  # paths changed against the first parent


@dataclass(frozen=True)
class CommentRef:
    id: int
    url: str = ""


@dataclass(frozen=True)
class IssueRef:
    number: int
    url: str = ""
    state: str = "open"
    body: str = ""


@dataclass(frozen=True)
class PullRef:
    number: int
    url: str = ""
    head_sha: str = ""


@dataclass(frozen=True)
class RunRecord:
    """One training run as logged in MLflow."""

    run_id: str
    model: str
    metrics: dict[str, float]
    params: dict[str, str]
    tags: dict[str, str]
    url: str = ""
    model_uri: str = ""
    status: str = "FINISHED"


@dataclass(frozen=True)
class ModelVersion:
    """One registered version of a model in the registry."""

    name: str
    version: str
    run_id: str
    aliases: tuple[str, ...] = ()
    tags: dict[str, str] = field(default_factory=dict)
    source: str = ""
    metrics: dict[str, float] = field(default_factory=dict)
    created_at: float = 0.0  # when it was registered (epoch seconds, the registry's clock); 0 when unknown


PlotValue = float | str  # numbers as numbers; labels (confusion-matrix classes, dates) as written


@dataclass(frozen=True)
class PlotSeries:
    """One line of a chart (or one confusion matrix): the `x`/`y` fields of one source file, in file order."""

    source: str  # the file the values come from
    x_field: str  # "step" when the plot has no x: the row index, as DVC does
    y_field: str
    x: list[PlotValue] = field(default_factory=list)
    y: list[PlotValue] = field(default_factory=list)


@dataclass(frozen=True)
class Plot:
    """One DVC plot as dvc.yaml defines it: a chart of one or more series, or an image."""

    id: str  # DVC's plot id: a file path, or the name of a top-level `plots:` entry
    title: str
    template: str = "linear"  # DVC's template name: linear, simple, scatter, confusion, ...; "image"
    x_label: str = ""
    y_label: str = ""
    series: list[PlotSeries] = field(default_factory=list)  # in dvc.yaml's order
    image: str = ""  # an image plot: its path in the repository, logged as a run artifact
    error: str = ""  # why the plot could not be read (the card says so)

    @property
    def sources(self) -> list[str]:
        return [self.image] if self.image else list(dict.fromkeys(s.source for s in self.series))


@dataclass(frozen=True)
class TrainResult:
    """What `mlops-bot train` produced for one model."""

    model: str
    run: RunRecord | None
    reused: bool  # True when DVC had nothing to reproduce and an existing run was found by its tags
    ok: bool
    output_hash: str = ""
    dvc_lock_hash: str = ""
    metrics: dict[str, float] = field(default_factory=dict)
    params: dict[str, Any] = field(default_factory=dict)
    params_diff: dict[str, dict[str, Any]] = field(default_factory=dict)  # key -> {"old":..,"new":..}
    base_metrics: dict[str, float] = field(default_factory=dict)
    plots: list[Plot] = field(default_factory=list)  # in dvc.yaml's order
    lineage: dict[str, str] = field(default_factory=dict)  # input path -> DVC md5
    log_tail: str = ""  # the end of the stage log when it failed
    error: str = ""
    duration_s: float = 0.0
    # what went wrong without failing the training (a DVC push that did not go through), each with what to do
    warnings: list[str] = field(default_factory=list)
    trained_duration_s: float = 0.0  # a reused run: how long its original training took; 0 when unknown
    reproduced: bool | None = None  # whether `dvc repro` ran any stage command; None: not recorded
    stages: list[str] = field(default_factory=list)  # the `dvc repro` targets, the model's stage first
    failed_before_stage: bool = False  # the data could not be fetched: no stage command ran
    # the commit of dvc.lock that `train --commit-lock` pushed on top of the trained one: the PR's new head,
    # where the card and check go (its push is not trained again: bot/core/pushes.py)
    lock_commit: str = ""
    # the champion re-scored on this run's evaluation data, with the candidate (models[].evaluation)
    same_data: SameDataComparison | None = None
    # both models on the labelled production rows the drift check reads (drift.performance.label), if any
    production: SameDataComparison | None = None


@dataclass(frozen=True)
class ColumnDrift:
    column: str
    score: float
    method: str
    threshold: float
    drifted: bool


@dataclass(frozen=True)
class DriftSummary:
    """The JSON summary of one drift check (what Evidently found, flattened)."""

    model: str
    dataset_drift: bool
    share_drifted: float
    drift_share: float
    columns: tuple[ColumnDrift, ...]
    reference_rows: int
    current_rows: int
    reference_sampled: int
    current_sampled: int
    report_path: str = ""

    @property
    def drifted_columns(self) -> list[str]:
        return [c.column for c in self.columns if c.drifted]


def train_result_from_dict(data: dict[str, Any]) -> TrainResult:
    """The inverse of `dataclasses.asdict(TrainResult)`, as `mlops-bot train --json` writes it."""
    run = data.get("run")
    fields = {k: v for k, v in data.items() if k in TrainResult.__dataclass_fields__ and k != "run"}
    record = (
        RunRecord(**{k: v for k, v in run.items() if k in RunRecord.__dataclass_fields__}) if run else None
    )
    plots = data.get("plots")
    # results written before plots were typed held {file: rows}; those are not shown rather than misread
    fields["plots"] = [plot_from_dict(p) for p in plots] if isinstance(plots, list) else []
    same_data = data.get("same_data")
    fields["same_data"] = comparison_from_dict(same_data) if isinstance(same_data, dict) else None
    production = data.get("production")
    fields["production"] = comparison_from_dict(production) if isinstance(production, dict) else None
    return TrainResult(run=record, **fields)


def plot_from_dict(data: dict[str, Any]) -> Plot:
    """The inverse of `dataclasses.asdict(Plot)`."""
    series = [
        PlotSeries(**{k: v for k, v in s.items() if k in PlotSeries.__dataclass_fields__})
        for s in data.get("series", [])
    ]
    fields = {k: v for k, v in data.items() if k in Plot.__dataclass_fields__ and k != "series"}
    return Plot(series=series, **fields)


def drift_summary_from_dict(data: dict[str, Any]) -> DriftSummary:
    """The inverse of `dataclasses.asdict(DriftSummary)`, as `mlops-bot drift --json` writes it."""
    fields = {k: v for k, v in data.items() if k in DriftSummary.__dataclass_fields__ and k != "columns"}
    columns = tuple(
        ColumnDrift(**{k: v for k, v in c.items() if k in ColumnDrift.__dataclass_fields__})
        for c in data.get("columns", [])
    )
    return DriftSummary(columns=columns, **fields)
