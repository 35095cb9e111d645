"""Where a model's numbers come from: its metrics and plots resolved against dvc.yaml (the stages `dvc repro`
must run to produce them), what the card shows read through DVC, and the files logged with the run."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bot.core.config import ModelSpec
from bot.core.dvc import LOCK_FILE, DvcError, DvcMetricsError, StageFiles
from bot.core.models import Plot
from bot.ports import TrainingProject


@dataclass(frozen=True)
class Sources:
    """Where a model's metrics and plots come from, and the stages `dvc repro` must run to produce them."""

    metrics: tuple[str, ...]  # metrics files
    plot_stages: tuple[str, ...]  # stages whose `plots:` the card shows
    plot_top_level: bool  # and dvc.yaml's top-level `plots:`
    plot_names: tuple[str, ...]  # plot ids or files named in `plots_from`
    stages: tuple[str, ...]  # repro targets, the model's stage first


def resolve_sources(project: TrainingProject, spec: ModelSpec, stage: StageFiles) -> Sources:
    """`metrics_from` / `plots_from` resolved against dvc.yaml; unset, the model's stage, the top-level
    sections and every stage downstream of the model's stage, as `dvc metrics show` would list them."""
    found = _Found(project, stage)
    metrics = _metric_sources(found, spec)
    plot_stages, plot_names, top_level = _plot_sources(found, spec)
    if found.producers_missing or (top_level and spec.plots_from is None):
        # A top-level file written inside no declared output: whatever runs after the model may write it.
        found.stages += [name for name in stage.downstream if name not in found.stages]
    return Sources(
        metrics=tuple(dict.fromkeys(metrics)),
        plot_stages=tuple(plot_stages),
        plot_top_level=top_level,
        plot_names=tuple(plot_names),
        stages=tuple(found.stages),
    )


class _Found:
    """The stages `dvc repro` must run for a model's metrics and plots, gathered while they are resolved."""

    def __init__(self, project: TrainingProject, stage: StageFiles) -> None:
        self.project, self.stage = project, stage
        self.known = {stage.name, *stage.pipeline, *stage.downstream}
        self.stages = [stage.name]
        self.producers_missing = False

    def is_stage(self, entry: str) -> bool:
        return entry in self.known or _is_stage(self.project, entry)

    def files(self, name: str) -> StageFiles:
        return self.stage if name == self.stage.name else self.project.stage(name)

    def add(self, name: str) -> None:
        if name not in self.stages:
            self.stages.append(name)

    def produced_by(self, path: str) -> None:
        producer = self.project.producer(path)
        if producer is None:
            self.producers_missing = True
        else:
            self.add(producer)


def _metric_sources(found: _Found, spec: ModelSpec) -> list[str]:
    stage, project = found.stage, found.project
    metrics: list[str] = []
    if spec.metrics_from is None:
        metrics += stage.metrics
        for name in stage.downstream:
            files = project.stage(name).metrics
            if files:
                metrics += files
                found.stages.append(name)
        for path in project.top_level_metrics():
            metrics.append(path)
            found.produced_by(path)
    else:
        for entry in spec.metrics_from:
            if found.is_stage(entry):
                metrics += found.files(entry).metrics
                found.add(entry)
            else:
                metrics.append(entry)
                found.produced_by(entry)
    if not metrics:
        raise DvcMetricsError(
            "(none)",
            f"no metrics to judge: stage '{stage.name}' declares no `metrics:`, "
            + (
                "nor do the `metrics_from` entries"
                if spec.metrics_from is not None
                else "dvc.yaml has no top-level `metrics:` and no stage after it declares any"
            )
            + f"; set `metrics_from:` of model {spec.name} in the config to the stage or file that writes them",
        )
    return metrics


def _plot_sources(found: _Found, spec: ModelSpec) -> tuple[list[str], list[str], bool]:
    """(stages whose plots are shown, plot files named on their own, whether top-level plots are shown)."""
    stage = found.stage
    plot_names: list[str] = []
    plot_stages = [stage.name, *stage.downstream]
    top_level = True
    if spec.plots_from is not None:
        plot_stages, top_level = [], False
        for entry in spec.plots_from:
            (plot_stages if found.is_stage(entry) else plot_names).append(entry)
    for name in plot_stages:
        if name != stage.name and found.files(name).plots:
            found.add(name)
    for name in plot_names:
        found.produced_by(name)
    return plot_stages, plot_names, top_level


def _is_stage(project: TrainingProject, name: str) -> bool:
    try:
        project.stage(name)
    except DvcError:
        return False
    return True


@dataclass(frozen=True)
class Facts:
    metrics: dict[str, float]
    params: dict[str, Any]
    params_diff: dict[str, dict[str, Any]]
    base_metrics: dict[str, float]
    plots: list[Plot]
    lineage: dict[str, str]


def read_facts(
    project: TrainingProject, spec: ModelSpec, stage: StageFiles, sources: Sources, base_rev: str
) -> Facts:
    """What the card shows, read through DVC: it works for any project, MLflow-aware or not."""
    try:
        plots = project.plots(sources.plot_stages, top_level=sources.plot_top_level, named=sources.plot_names)
    except DvcError as exc:  # a plot is decoration: the card goes without, training stands
        plots = []
        print(f"mlops-bot train: {exc}", file=sys.stderr)
    params_stages = list(dict.fromkeys([*stage.pipeline, *sources.stages]))
    return Facts(
        metrics=project.metrics(sources.metrics),
        params=project.params(params_stages),
        params_diff=project.params_diff(base_rev, params_stages) if base_rev else {},
        base_metrics=project.metrics(sources.metrics, rev=base_rev) if base_rev else {},
        plots=plots,
        lineage=project.input_md5s(sources.stages, extra=spec.training_data),
    )


def run_artifacts(
    root: Path, stage: StageFiles, sources: Sources, plots: Sequence[Plot]
) -> dict[str, list[Path]]:
    """Files logged with the run, under their repository folders: params files, metrics, plots (images
    included, which the card links), dvc.lock."""
    plot_files = [path for plot in plots for path in plot.sources]
    paths = [*stage.params_files, *sources.metrics, *plot_files, LOCK_FILE]
    grouped: dict[str, list[Path]] = {}
    for rel in dict.fromkeys(paths):
        file = root / rel
        if file.is_file():
            parent = str(Path(rel).parent)
            grouped.setdefault("" if parent == "." else parent, []).append(file)
    return grouped
