"""Where a model's numbers come from: its metrics and plots resolved against dvc.yaml (the stages `dvc repro`
must run to produce them), what the card shows read through DVC, and the files logged with the run."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bot.adapters.dvc import LOCK_FILE, DvcError, DvcMetricsError, DvcProject, StageFiles
from bot.core.config import ModelSpec
from bot.core.models import Plot


@dataclass(frozen=True)
class Sources:
    """Where a model's metrics and plots come from, and the stages `dvc repro` must run to produce them."""

    metrics: tuple[str, ...]  # metrics files
    plot_stages: tuple[str, ...]  # stages whose `plots:` the card shows
    plot_top_level: bool  # and dvc.yaml's top-level `plots:`
    plot_names: tuple[str, ...]  # plot ids or files named in `plots_from`
    stages: tuple[str, ...]  # repro targets, the model's stage first


def resolve_sources(project: DvcProject, spec: ModelSpec, stage: StageFiles) -> Sources:
    """`metrics_from` / `plots_from` resolved against dvc.yaml; unset, the model's stage, the top-level
    sections and every stage downstream of the model's stage, as `dvc metrics show` would list them."""
    known = {stage.name, *stage.pipeline, *stage.downstream}
    stages = [stage.name]
    producers_missing = False

    def stage_files(name: str) -> StageFiles:
        return stage if name == stage.name else project.stage(name)

    def produced_by(path: str) -> None:
        nonlocal producers_missing
        producer = project.producer(path)
        if producer is None:
            producers_missing = True
        elif producer not in stages:
            stages.append(producer)

    metrics: list[str] = []
    if spec.metrics_from is None:
        metrics += stage.metrics
        for name in stage.downstream:
            found = project.stage(name).metrics
            if found:
                metrics += found
                stages.append(name)
        for path in project.top_level_metrics():
            metrics.append(path)
            produced_by(path)
    else:
        for entry in spec.metrics_from:
            if entry in known or _is_stage(project, entry):
                metrics += stage_files(entry).metrics
                if entry not in stages:
                    stages.append(entry)
            else:
                metrics.append(entry)
                produced_by(entry)
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

    plot_names: list[str] = []
    plot_stages = [stage.name, *stage.downstream]
    top_level = True
    if spec.plots_from is not None:
        plot_stages, top_level = [], False
        for entry in spec.plots_from:
            if entry in known or _is_stage(project, entry):
                plot_stages.append(entry)
            else:
                plot_names.append(entry)
    for name in plot_stages:
        if name != stage.name and stage_files(name).plots and name not in stages:
            stages.append(name)
    for name in plot_names:
        produced_by(name)
    if producers_missing or (top_level and spec.plots_from is None):
        # A top-level file written inside no declared output: whatever runs after the model may write it.
        stages += [name for name in stage.downstream if name not in stages]
    return Sources(
        metrics=tuple(dict.fromkeys(metrics)),
        plot_stages=tuple(plot_stages),
        plot_top_level=top_level,
        plot_names=tuple(plot_names),
        stages=tuple(stages),
    )


def _is_stage(project: DvcProject, name: str) -> bool:
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
    project: DvcProject, spec: ModelSpec, stage: StageFiles, sources: Sources, base_rev: str
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
