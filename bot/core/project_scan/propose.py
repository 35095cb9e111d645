"""Proposing a config for a project (`mlops-bot init`): its models, their metrics files, the metrics to gate
on and a first absolute limit from today's values, the training data shown as lineage."""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Any

from bot.core.project_scan.pipeline import Pipeline, in_lock, metric_names, norm, read_pipeline, value_of

# Files that hold a model, by suffix; `*.json` only when named like one (most JSON in a pipeline is metrics).
MODEL_SUFFIXES = frozenset(
    {".pkl", ".pickle", ".joblib", ".pt", ".pth", ".onnx", ".h5", ".keras", ".bin", ".cbm"}
)
_SKLEARN_SUFFIXES = frozenset({".pkl", ".pickle", ".joblib"})
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
LOWER_IS_BETTER = re.compile(r"(loss|error|err|mae|mse|rmse|mape|brier|perplexity)", re.IGNORECASE)
_CODE_SUFFIXES = frozenset({".py", ".sh", ".ipynb", ".r", ".R", ".jl", ".toml", ".cfg", ".txt", ".md"})
MAX_GATED = 4  # more than this many proposed gates are written commented out


@dataclass(frozen=True)
class ProposedMetric:
    name: str
    direction: str  # higher | lower, guessed from the name
    now: float | None = None  # its value in the committed metrics files: the absolute limit starts from it

    def limit(self) -> tuple[str, float] | None:
        """An absolute limit a first model is judged by (`min:` 5 % below today's value, `max:` 5 % above),
        so the first PR gets a verdict rather than "nothing to compare with"; None without a usable value."""
        if self.now is None or not math.isfinite(self.now) or self.now <= 0:
            return None
        if self.direction == "lower":
            return "max", _round_away(self.now * (1 + LIMIT_MARGIN), up=True)
        return "min", _round_away(self.now * (1 - LIMIT_MARGIN), up=False)


LIMIT_MARGIN = 0.05


def _round_away(value: float, *, up: bool) -> float:
    """`value` at three significant digits, rounded away from today's value (a limit never tighter)."""
    digits = 2 - math.floor(math.log10(abs(value)))
    scale = 10.0**digits
    rounded = (math.ceil if up else math.floor)(value * scale) / scale
    return round(rounded, max(digits, 0))


@dataclass(frozen=True)
class ProposedModel:
    name: str
    stage: str
    output: str
    metric_files: tuple[str, ...]
    metrics: tuple[ProposedMetric, ...]  # gated (the first MAX_GATED are written live)
    training_data: tuple[str, ...]
    source: str  # how it was found, for the report
    examples: tuple[str, ...] = ()  # names in the workspace's files that dvc.lock does not pin: a hint only
    evaluation_data: str = ""  # a held-out split the model's stages read: `evaluation.data`, proposed


@dataclass(frozen=True)
class Proposal:
    models: tuple[ProposedModel, ...]
    params_files: tuple[str, ...]
    plots: tuple[str, ...]
    inferred: tuple[str, ...] = ()  # what was found, one line each
    missing: tuple[str, ...] = ()  # what could not be, with what to do
    experiment: str = "mlops-bot"
    requirements: str = ""  # the project's requirements file: the stages run in a venv built from it


def propose(
    dvc_yaml: Mapping[str, Any],
    *,
    project_name: str,
    lock: Mapping[str, Any] | None = None,
    metrics: Mapping[str, Any] | None = None,
    requirements: str = "",
) -> Proposal:
    """A config for the project: models from `artifacts:` of `type: model`, else from model-looking stage
    outs; gated metrics from `metrics` (parsed files present in the workspace) that the committed `lock`
    records as outputs. ScanError when dvc.yaml cannot be read."""
    pipeline = read_pipeline(dvc_yaml)
    inferred: list[str] = []
    missing: list[str] = []
    if pipeline.skipped:
        missing.append(
            f"stage(s) {', '.join(pipeline.skipped)} use foreach/matrix and were not read; "
            "add their models to models[] by hand (stage: name@item)"
        )
    found = _models_from_artifacts(pipeline, inferred, missing) or _models_from_outs(
        pipeline, project_name, inferred, missing
    )
    if not found:
        missing.append(
            "no model found: no `artifacts:` of type model and no stage output that looks like a model "
            f"({', '.join(sorted(MODEL_SUFFIXES))}, model*/ folders); fill in models[] by hand"
        )
    present = {
        norm(path): data for path, data in (metrics or {}).items() if data is not None and in_lock(lock, path)
    }
    models = []
    for name, stage, output, source in found:
        files = tuple(pipeline.metric_files(stage))
        chosen: list[ProposedMetric] = []
        examples: tuple[str, ...] = ()
        if not files:
            missing.append(
                f"{name}: no metric to gate on: stage '{stage}', the stages after it and dvc.yaml's "
                "top-level `metrics:` declare no metrics file; add one under models[].metrics and "
                "models[].metrics_from"
            )
        else:
            readable = {f: present[f] for f in files if f in present}
            unpinned = {norm(f): d for f, d in (metrics or {}).items() if d is not None and norm(f) in files}
            examples = tuple(_prefer_held_out(list(metric_names(unpinned))))
            if not readable:
                why = "no committed dvc.lock" if lock is None else "not in the workspace or not in dvc.lock"
                missing.append(
                    f"{name}: metrics files {', '.join(files)} could not be read ({why}); the config "
                    "has a commented example: run `dvc repro`, commit dvc.lock and run init again, "
                    "or add the metric under models[].metrics"
                )
            else:
                sources = metric_names(readable)
                names = _prefer_held_out(list(sources))
                chosen = [
                    ProposedMetric(
                        n,
                        "lower" if LOWER_IS_BETTER.search(n) else "higher",
                        now=value_of(n, readable[sources[n]]),
                    )
                    for n in names
                ]
                if not chosen:
                    missing.append(f"{name}: {', '.join(readable)} hold no numeric values to gate on")
                else:
                    inferred.append(
                        f"{name}: gates on {', '.join(m.name for m in chosen[:MAX_GATED])} from "
                        f"{', '.join(readable)} (direction guessed from the name; check it)"
                    )
        stage_info = pipeline.stages[stage]
        held_out = evaluation_data(pipeline, stage, output)
        if held_out:
            inferred.append(
                f"{name}: {held_out} looks like the held-out split: the config proposes it as `evaluation.data` "
                "(commented: set its label column, and the champion is scored on it with every PR's candidate)"
            )
        models.append(
            ProposedModel(
                name=name,
                stage=stage,
                output=output,
                metric_files=files,
                metrics=tuple(chosen),
                training_data=tuple(d for d in stage_info.deps if _is_data(d, pipeline, output)),
                source=source,
                examples=() if chosen else examples,
                evaluation_data=held_out,
            )
        )
    params = tuple(dict.fromkeys(f for m in models for f in pipeline.upstream_params_files(m.stage)))
    if params:
        inferred.append(f"params files: {', '.join(params)}")
    if pipeline.plots or any(s.plots for s in pipeline.stages.values()):
        count = len(pipeline.plots) + sum(len(s.plots) for s in pipeline.stages.values())
        inferred.append(f"{count} plot file(s) from dvc.yaml, shown on the card")
    if requirements:
        inferred.append(f"the stages run in a virtual environment built from {requirements}")
    missing.append("drift watch: not configured; see the commented `drift:` example in the config")
    return Proposal(
        requirements=requirements,
        models=tuple(models),
        params_files=params,
        plots=tuple(pipeline.plots),
        inferred=tuple(inferred),
        missing=tuple(missing),
        experiment=registered_name(project_name) or "mlops-bot",
    )


def _models_from_artifacts(
    pipeline: Pipeline, inferred: list[str], missing: list[str]
) -> list[tuple[str, str, str, str]]:
    found = []
    for name, artifact in pipeline.artifacts.items():
        if artifact.get("type") != "model":
            continue
        path = artifact.get("path")
        if not isinstance(path, str):
            missing.append(f"artifact {name}: no `path`; skipped")
            continue
        stage = pipeline.producer(path)
        if stage is None:
            missing.append(
                f"artifact {name}: no stage in dvc.yaml outputs {path}; mlops-bot trains models a stage "
                "writes, so it was skipped"
            )
            continue
        found.append((registered_name(name) or name, stage, norm(path), "artifacts"))
        inferred.append(f"model {name}: artifact of type model, {norm(path)} written by stage '{stage}'")
    return found


def _models_from_outs(
    pipeline: Pipeline, project_name: str, inferred: list[str], missing: list[str]
) -> list[tuple[str, str, str, str]]:
    candidates = [
        (stage.name, out)
        for stage in pipeline.stages.values()
        for out in stage.outs
        if out not in stage.metrics and out not in stage.plots and looks_like_model(out)
    ]
    found = []
    stems = [PurePosixPath(out).stem for _, out in candidates]
    for stage, out in candidates:
        stem = PurePosixPath(out).stem
        generic = stem.lower().startswith("model") and len(stem) <= len("models")
        if len(candidates) == 1 and generic:
            name = registered_name(project_name) or stage
        elif generic or stems.count(stem) > 1:
            name = registered_name(f"{stage}-{stem}") or stage
        else:
            name = registered_name(stem) or stage
        found.append((name, stage, out, "outs"))
        inferred.append(f"model {name}: {out}, an output of stage '{stage}' that looks like a model")
        suffix = PurePosixPath(out).suffix.lower()
        if suffix and suffix not in _SKLEARN_SUFFIXES:
            missing.append(
                f"model {name}: {out} does not look like a scikit-learn pickle; mlops-bot logs "
                "`flavor: sklearn` models only for now"
            )
    return found


def looks_like_model(path: str) -> bool:
    pure = PurePosixPath(norm(path))
    suffix = pure.suffix.lower()
    if suffix in MODEL_SUFFIXES:
        return True
    if suffix == ".json":
        return "model" in pure.stem.lower()
    return not suffix and pure.name.lower().startswith("model")


def _prefer_held_out(names: list[str]) -> list[str]:
    """dvclive writes `roc_auc.train` and `roc_auc.test`: gate on the held-out split only."""
    held_out = ("test", "val", "valid", "validation", "eval")
    keep = []
    for name in names:
        parts = re.split(r"[.:/_]", name)
        if "train" in parts:
            siblings = [name.replace("train", h) for h in held_out]
            if any(s in names for s in siblings):
                continue
        keep.append(name)
    return keep


_HELD_OUT = re.compile(r"(^|[^a-z])(test|val|valid|validation|eval|evaluation|holdout|hold_out)([^a-z]|$)")


def evaluation_data(pipeline: Pipeline, stage: str, output: str) -> str:
    """A CSV/Parquet file named like a held-out split (test, val, eval, holdout) that the model's stage or
    a stage after it reads: where the candidate and the champion can both be scored. "" when none is."""
    stages = [stage, *pipeline.downstream(stage)]
    for name in stages:
        for dep in pipeline.stages[name].deps:
            pure = PurePosixPath(norm(dep))
            tabular = pure.suffix.lower() in (".csv", ".parquet")
            if tabular and _HELD_OUT.search(pure.stem.lower()) and _is_data(dep, pipeline, output):
                return norm(dep)
    return ""


def _is_data(dep: str, pipeline: Pipeline, output: str) -> bool:
    pure = PurePosixPath(dep)
    if pure.suffix in _CODE_SUFFIXES or pure.parts[:1] in (("src",), ("scripts",)) or dep == output:
        return False
    return not looks_like_model(dep)


def registered_name(text: str) -> str:
    """A registered-model name from free text: letters, digits, `.`, `_`, `-`."""
    name = re.sub(r"[^A-Za-z0-9_.-]+", "-", text).strip("-._")
    return name if _NAME.match(name) else ""
