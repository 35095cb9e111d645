"""Checking a config against the project (`mlops-bot config check`): each model's stage, output, gated
metrics, evaluation data and drift paths, as problems keyed by the config key they are about."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from bot.core.config import ModelSpec, RepoConfig
from bot.core.project_scan.pipeline import Pipeline, metric_names, norm, read_pipeline, within

_GLOB = re.compile(r"[*?\[]")


@dataclass(frozen=True)
class Problem:
    """A mismatch between the config and the project; `loc` is the config key, as pydantic names it."""

    loc: tuple[str | int, ...]
    message: str
    error: bool = True  # False: a warning (something that cannot be checked yet)

    @property
    def key(self) -> str:
        return ".".join(str(p) for p in self.loc)


@dataclass(frozen=True)
class ProjectFacts:
    """What `config check` compares with: the parsed dvc.yaml, the metrics files present (parsed), and which
    repository paths exist (a predicate, so the check needs no listing of the repository)."""

    dvc_yaml: Mapping[str, Any]
    metrics: Mapping[str, Any] = field(default_factory=dict)
    exists: Callable[[str], bool] = lambda _path: False


def metric_files_to_read(dvc_yaml: Mapping[str, Any], config: RepoConfig) -> list[str]:
    """Every metrics file the check may need: all declared in dvc.yaml and the config's `metrics_from` files."""
    pipeline = read_pipeline(dvc_yaml)
    extra = [norm(e) for m in config.models for e in (m.metrics_from or []) if e not in pipeline.stages]
    return list(dict.fromkeys([*pipeline.all_metric_files(), *extra]))


def check_against_project(config: RepoConfig, facts: ProjectFacts) -> list[Problem]:
    """Each model's stage, output, gated metrics and drift paths against the project. ScanError when
    dvc.yaml cannot be read."""
    pipeline = read_pipeline(facts.dvc_yaml)
    problems: list[Problem] = []
    for index, model in enumerate(config.models):
        problems += _check_model(index, model, pipeline, facts)
    return problems


def _check_model(index: int, model: ModelSpec, pipeline: Pipeline, facts: ProjectFacts) -> list[Problem]:
    at: tuple[str | int, ...] = ("models", index)
    stage = pipeline.stages.get(model.stage)
    if stage is None:
        known = ", ".join(pipeline.stages) or "none"
        return [Problem((*at, "stage"), f"no stage '{model.stage}' in dvc.yaml (stages: {known})")]
    problems: list[Problem] = []
    output = norm(model.output)
    if not any(within(output, out) for out in stage.outs):
        producer = pipeline.producer(output)
        where = f"it is an output of stage '{producer}'" if producer else "no stage in dvc.yaml outputs it"
        outs = ", ".join(stage.outs) or "none"
        problems.append(
            Problem(
                (*at, "output"),
                f"{model.output} is not an output of stage '{model.stage}' ({where}; its outs: {outs})",
            )
        )
    for i, entry in enumerate(model.metrics_from or []):
        if entry in pipeline.stages:
            if not pipeline.stages[entry].metrics:
                problems.append(
                    Problem((*at, "metrics_from", i), f"stage '{entry}' declares no `metrics:` files")
                )
        elif not facts.exists(norm(entry)) and pipeline.producer(entry) is None:
            problems.append(
                Problem(
                    (*at, "metrics_from", i),
                    f"{entry!r} is neither a stage in dvc.yaml nor a file that exists or that a stage writes",
                )
            )
    problems += _check_metrics(at, model, pipeline, facts)
    if model.evaluation is not None:
        path = model.evaluation.data
        tracked = facts.exists(norm(path)) or facts.exists(norm(path) + ".dvc")
        if not tracked and pipeline.producer(path) is None:
            problems.append(
                Problem(
                    (*at, "evaluation", "data"),
                    f"{path} does not exist in the repository, and neither a .dvc file nor a stage in "
                    "dvc.yaml writes it: the champion could not be scored on it",
                )
            )
    if model.drift is not None:
        for key in ("current", "reference"):
            path = getattr(model.drift, key)
            if _GLOB.search(path) or facts.exists(norm(path)) or facts.exists(norm(path) + ".dvc"):
                continue
            if pipeline.producer(path) is not None:
                continue
            problems.append(
                Problem(
                    (*at, "drift", key),
                    f"{path} does not exist in the repository, is not a glob, and neither a .dvc file "
                    "nor a stage in dvc.yaml tracks it",
                )
            )
    return problems


def _check_metrics(
    at: tuple[str | int, ...], model: ModelSpec, pipeline: Pipeline, facts: ProjectFacts
) -> list[Problem]:
    if not model.metrics:
        return []
    files = pipeline.metric_files(model.stage, model.metrics_from)
    if not files:
        return [
            Problem(
                (*at, "metrics"),
                f"no metrics file for model {model.name}: stage '{model.stage}', the stages after it and "
                "dvc.yaml's top-level `metrics:` declare none; set `metrics_from:` to the stage or file "
                "that writes them",
            )
        ]
    present = {f: facts.metrics[f] for f in files if facts.metrics.get(f) is not None}
    absent = [f for f in files if f not in present]
    names = metric_names(present)
    problems: list[Problem] = []
    for i, metric in enumerate(model.metrics):
        if metric.name in names:
            continue
        loc = (*at, "metrics", i, "name")
        if absent:
            problems.append(
                Problem(
                    loc,
                    f"metric {metric.name!r} cannot be checked: {', '.join(absent)} not in the workspace "
                    "(run `dvc repro` or `dvc pull`)",
                    error=False,
                )
            )
            continue
        held = ", ".join(names) or "no numeric values"
        problems.append(
            Problem(
                loc,
                f"metric {metric.name!r} is in none of the metrics files ({', '.join(files)}); they hold: {held}",
            )
        )
    return problems
