"""What a DVC project holds, read from its `dvc.yaml` (and metrics files) as plain dicts: no I/O here.

Two uses: `mlops-bot init` proposes a config from it (`propose`, `render_config`), and `mlops-bot config
check` compares a config with it (`check_against_project`). Metrics are found as the train job finds them
(bot/jobs/train.py `_sources`): the model's stage, the stages downstream of it and dvc.yaml's top-level
`metrics:`, or the config's `metrics_from`; names are flattened with `.` and a name found in two files keeps
its file as a prefix, as bot/adapters/dvc.py `metrics` does, so a name proposed here is one training reports.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import PurePosixPath
from typing import Any

from bot.core.config import ModelSpec, RepoConfig

# Files that hold a model, by suffix; `*.json` only when named like one (most JSON in a pipeline is metrics).
MODEL_SUFFIXES = frozenset(
    {".pkl", ".pickle", ".joblib", ".pt", ".pth", ".onnx", ".h5", ".keras", ".bin", ".cbm"}
)
_SKLEARN_SUFFIXES = frozenset({".pkl", ".pickle", ".joblib"})
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
_LOWER_IS_BETTER = re.compile(r"(loss|error|err|mae|mse|rmse|mape|brier|perplexity)", re.IGNORECASE)
_GLOB = re.compile(r"[*?\[]")
_CODE_SUFFIXES = frozenset({".py", ".sh", ".ipynb", ".r", ".R", ".jl", ".toml", ".cfg", ".txt", ".md"})
MAX_GATED = 4  # more than this many proposed gates are written commented out


class ScanError(ValueError):
    """A dvc.yaml this module cannot read (not the shape DVC documents)."""


@dataclass(frozen=True)
class Stage:
    name: str
    deps: tuple[str, ...]
    outs: tuple[str, ...]  # every output: `outs`, `metrics` and `plots` files
    metrics: tuple[str, ...]
    plots: tuple[str, ...]
    params_files: tuple[str, ...]


@dataclass(frozen=True)
class Pipeline:
    stages: Mapping[str, Stage]
    metrics: tuple[str, ...]  # top-level `metrics:`
    plots: tuple[str, ...]  # files of the top-level `plots:`
    artifacts: Mapping[str, Mapping[str, Any]]
    skipped: tuple[str, ...] = ()  # stages not read (foreach/matrix)

    def producer(self, path: str) -> str | None:
        """The stage whose outputs hold `path` (the output itself, or a folder output containing it)."""
        path = _norm(path)
        for stage in self.stages.values():
            if any(_within(path, out) for out in stage.outs):
                return stage.name
        return None

    def downstream(self, name: str) -> list[str]:
        """Stages that depend, directly or through others, on the outputs of `name`, in dvc.yaml's order."""
        reached = {name}
        changed = True
        while changed:
            changed = False
            for stage in self.stages.values():
                if stage.name in reached:
                    continue
                feeds = (self.stages[s].outs for s in reached if s in self.stages)
                if any(_overlaps(dep, out) for outs in feeds for out in outs for dep in stage.deps):
                    reached.add(stage.name)
                    changed = True
        return [s for s in self.stages if s in reached and s != name]

    def upstream_params_files(self, name: str) -> list[str]:
        seen = {name}
        queue = [name]
        while queue:
            stage = self.stages[queue.pop()]
            for dep in stage.deps:
                producer = self.producer(dep)
                if producer and producer not in seen:
                    seen.add(producer)
                    queue.append(producer)
        files = [f for s in self.stages if s in seen for f in self.stages[s].params_files]
        return list(dict.fromkeys(files))

    def metric_files(self, stage: str, metrics_from: Sequence[str] | None = None) -> list[str]:
        """The metrics files of a model trained in `stage`, as the train job resolves them."""
        if metrics_from is not None:
            files: list[str] = []
            for entry in metrics_from:
                files += self.stages[entry].metrics if entry in self.stages else [_norm(entry)]
            return list(dict.fromkeys(files))
        own = self.stages[stage].metrics if stage in self.stages else ()
        later = [f for s in self.downstream(stage) for f in self.stages[s].metrics]
        return list(dict.fromkeys([*own, *later, *self.metrics]))

    def all_metric_files(self) -> list[str]:
        return list(dict.fromkeys([*(f for s in self.stages.values() for f in s.metrics), *self.metrics]))


def read_pipeline(dvc_yaml: Mapping[str, Any]) -> Pipeline:
    """The parts of a parsed dvc.yaml the bot uses. ScanError when it is not shaped as DVC documents."""
    if not isinstance(dvc_yaml, Mapping):
        raise ScanError("dvc.yaml: the top level must be a mapping (stages:, metrics:, plots:, ...)")
    raw_stages = dvc_yaml.get("stages")
    raw_stages = {} if raw_stages is None else raw_stages
    if not isinstance(raw_stages, Mapping):
        raise ScanError("dvc.yaml: `stages:` must be a mapping of stage name -> stage")
    stages: dict[str, Stage] = {}
    skipped: list[str] = []
    for name, raw in raw_stages.items():
        if not isinstance(raw, Mapping):
            raise ScanError(f"dvc.yaml: stage '{name}' must be a mapping (cmd:, deps:, outs:, ...)")
        if "foreach" in raw or "matrix" in raw:
            skipped.append(str(name))
            continue
        metrics = _paths(raw.get("metrics"))
        plots = _paths(raw.get("plots"))
        outs = _paths(raw.get("outs"))
        stages[str(name)] = Stage(
            name=str(name),
            deps=_paths(raw.get("deps")),
            outs=tuple(dict.fromkeys([*outs, *metrics, *plots])),
            metrics=metrics,
            plots=plots,
            params_files=_params_files(raw.get("params")),
        )
    artifacts = dvc_yaml.get("artifacts")
    artifacts = {} if artifacts is None else artifacts
    if not isinstance(artifacts, Mapping):
        raise ScanError("dvc.yaml: `artifacts:` must be a mapping of artifact name -> {path, type}")
    return Pipeline(
        stages=stages,
        metrics=_paths(dvc_yaml.get("metrics")),
        plots=_plot_files(dvc_yaml.get("plots")),
        artifacts={str(k): v for k, v in artifacts.items() if isinstance(v, Mapping)},
        skipped=tuple(skipped),
    )


# -- metrics files -------------------------------------------------------------------------------------


def flatten(data: Any, prefix: str = "") -> dict[str, float]:
    """Numeric leaves of a parsed metrics file, nested keys joined with `.`."""
    if isinstance(data, Mapping):
        out: dict[str, float] = {}
        for key, value in data.items():
            out.update(flatten(value, f"{prefix}{key}."))
        return out
    if prefix and isinstance(data, int | float) and not isinstance(data, bool):
        return {prefix[:-1]: float(data)}
    return {}


def metric_names(per_file: Mapping[str, Any]) -> dict[str, str]:
    """Metric name -> the file it comes from; a name in two files is `file:name`, as training names it."""
    flat = {path: flatten(data) for path, data in per_file.items()}
    seen: dict[str, int] = {}
    for values in flat.values():
        for key in values:
            seen[key] = seen.get(key, 0) + 1
    return {
        (key if seen[key] == 1 else f"{path}:{key}"): path for path, values in flat.items() for key in values
    }


def _value_of(name: str, data: Any) -> float | None:
    """The value of metric `name` (as `metric_names` gives it, maybe `file:key`) in its parsed file."""
    return flatten(data).get(name.rsplit(":", 1)[-1] if ":" in name else name)


def in_lock(lock: Mapping[str, Any] | None, path: str) -> bool:
    """Whether a dvc.lock (2.x/3.x format) records `path` as an output, or inside a folder output."""
    if not isinstance(lock, Mapping):
        return False
    stages = lock.get("stages")
    if not isinstance(stages, Mapping):
        return False
    path = _norm(path)
    for stage in stages.values():
        outs = stage.get("outs") if isinstance(stage, Mapping) else None
        for out in outs if isinstance(outs, list) else []:
            if isinstance(out, Mapping) and isinstance(out.get("path"), str) and _within(path, out["path"]):
                return True
    return False


# -- proposing a config ----------------------------------------------------------------------------------


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
        _norm(path): data
        for path, data in (metrics or {}).items()
        if data is not None and in_lock(lock, path)
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
            unpinned = {
                _norm(f): d for f, d in (metrics or {}).items() if d is not None and _norm(f) in files
            }
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
                        "lower" if _LOWER_IS_BETTER.search(n) else "higher",
                        now=_value_of(n, readable[sources[n]]),
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
        experiment=_name(project_name) or "mlops-bot",
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
        found.append((_name(name) or name, stage, _norm(path), "artifacts"))
        inferred.append(f"model {name}: artifact of type model, {_norm(path)} written by stage '{stage}'")
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
            name = _name(project_name) or stage
        elif generic or stems.count(stem) > 1:
            name = _name(f"{stage}-{stem}") or stage
        else:
            name = _name(stem) or stage
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
    pure = PurePosixPath(_norm(path))
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


def _is_data(dep: str, pipeline: Pipeline, output: str) -> bool:
    pure = PurePosixPath(dep)
    if pure.suffix in _CODE_SUFFIXES or pure.parts[:1] in (("src",), ("scripts",)) or dep == output:
        return False
    return not looks_like_model(dep)


def render_config(proposal: Proposal) -> str:
    """The `.github/mlops-bot.yml` text for a proposal: what was inferred written live, the rest commented."""
    lines = [
        "# mlops-bot configuration, written by `mlops-bot init` from dvc.yaml. mlops-bot reads this file from",
        "# the DEFAULT branch only. Check it against the project with `mlops-bot config check`.",
        "# Every key: `mlops-bot config schema`; `mlops-bot init --template` writes them all, commented.",
        "",
        "version: 1",
        f"mlflow_experiment: {_scalar(proposal.experiment)}",
        "",
    ]
    if proposal.requirements:
        lines += [
            "training:",
            f"  python: {_scalar(proposal.requirements)} # stages run in a venv built from it, kept while it is unchanged",
            "",
        ]
    if not proposal.models:
        lines += [
            "# No model was found in dvc.yaml: name the stage that writes it and its output.",
            "models: []",
            "# models:",
            "#   - name: my-model",
            "#     stage: train",
            "#     output: model.pkl",
        ]
    else:
        lines.append("models:")
    for model in proposal.models:
        how = "an artifact of type model" if model.source == "artifacts" else "a stage output"
        lines += [
            f"  - name: {_scalar(model.name)} # the MLflow registered-model name",
            f"    stage: {_scalar(model.stage)} # the DVC stage that writes it ({how} in dvc.yaml)",
            f"    output: {_scalar(model.output)}",
            "    flavor: sklearn",
        ]
        if model.metric_files:
            lines.append(f"    # Metrics are read from: {', '.join(model.metric_files)}")
        live = model.metrics[:MAX_GATED]
        if live:
            lines.append("    metrics: # shown on the card and judged by the promotion gate")
            for metric in live:
                lines += [
                    f"      - name: {_scalar(metric.name)}",
                    f"        direction: {metric.direction} # guessed from the name",
                    "        tolerance: 0.0 # how much worse than the champion still passes",
                ]
                limit = metric.limit()
                if limit is not None:
                    key, value = limit
                    lines.append(
                        f"        {key}: {value:g} # the committed dvc.lock has {metric.now:g}: a first model "
                        "is judged by this (5 % margin; set your own)"
                    )
            for metric in model.metrics[MAX_GATED:]:
                lines.append(f"      # - name: {_scalar(metric.name)}")
        else:
            example = model.examples[0] if model.examples else "accuracy"
            held = f" (they hold now: {', '.join(model.examples)})" if model.examples else ""
            lines += [
                f"    # No metric to gate on yet: name one the metrics files hold{held}, e.g.",
                "    # metrics:",
                f"    #   - name: {_scalar(example)}",
                f"    #     direction: {'lower' if _LOWER_IS_BETTER.search(example) else 'higher'}",
                "    #     min: 0.8",
            ]
            if not model.metric_files:
                lines.append("    # metrics_from: [evaluate] # the stage or file that writes them")
        if model.training_data:
            lines.append("    training_data: # shown as data lineage on the card")
            lines += [f"      - {_scalar(path)}" for path in model.training_data]
        lines += [
            "    # drift: # the scheduled production check (mlops-drift.yml)",
            "    #   current: data/production.csv # production data: a path, glob or DVC-tracked file",
            f"    #   reference: {_scalar(model.training_data[0]) if model.training_data else 'data/train.csv'}",
        ]
    lines += [
        "",
        "promotion:",
        "  on_merge: true # promote when a PR that trained the model merges",
        "",
    ]
    return "\n".join(lines)


def _scalar(value: str) -> str:
    """A YAML scalar for `value`: plain when it is safe, JSON-quoted (valid YAML) otherwise."""
    if re.fullmatch(r"[A-Za-z0-9_][A-Za-z0-9_./@-]*", value) and value.lower() not in {
        "true",
        "false",
        "yes",
        "no",
        "on",
        "off",
        "null",
        "none",
        "~",
    }:
        return value
    return json.dumps(value)


# -- checking a config against the project --------------------------------------------------------------


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
    extra = [_norm(e) for m in config.models for e in (m.metrics_from or []) if e not in pipeline.stages]
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
    output = _norm(model.output)
    if not any(_within(output, out) for out in stage.outs):
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
        elif not facts.exists(_norm(entry)) and pipeline.producer(entry) is None:
            problems.append(
                Problem(
                    (*at, "metrics_from", i),
                    f"{entry!r} is neither a stage in dvc.yaml nor a file that exists or that a stage writes",
                )
            )
    problems += _check_metrics(at, model, pipeline, facts)
    if model.drift is not None:
        for key in ("current", "reference"):
            path = getattr(model.drift, key)
            if _GLOB.search(path) or facts.exists(_norm(path)) or facts.exists(_norm(path) + ".dvc"):
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


# -- paths -----------------------------------------------------------------------------------------------


def _norm(path: str) -> str:
    text = str(path).replace("\\", "/").strip()
    while text.startswith("./"):
        text = text[2:]
    return text.rstrip("/") or text


def _within(path: str, out: str) -> bool:
    out = _norm(out)
    return path == out or path.startswith(out + "/")


def _overlaps(a: str, b: str) -> bool:
    a, b = _norm(a), _norm(b)
    return _within(a, b) or _within(b, a)


def _paths(entries: Any) -> tuple[str, ...]:
    """Paths of a dvc.yaml list whose items are `path` or `{path: {options}}`."""
    if entries is None:
        return ()
    if isinstance(entries, str):
        entries = [entries]
    if not isinstance(entries, list):
        raise ScanError(f"dvc.yaml: expected a list of paths, got {type(entries).__name__}")
    found: list[str] = []
    for entry in entries:
        if isinstance(entry, str):
            found.append(_norm(entry))
        elif isinstance(entry, Mapping):
            found += [_norm(str(k)) for k in entry]
    return tuple(dict.fromkeys(found))


def _params_files(entries: Any) -> tuple[str, ...]:
    """`params:` items: a key of params.yaml, or `{file: [keys]}`."""
    if not isinstance(entries, list):
        return ()
    files = ["params.yaml" if isinstance(e, str) else _norm(str(k)) for e in entries for k in _keys(e)]
    return tuple(dict.fromkeys(files))


def _keys(entry: Any) -> Iterable[Any]:
    return entry.keys() if isinstance(entry, Mapping) else [entry]


def _plot_files(entries: Any) -> tuple[str, ...]:
    """Files of the top-level `plots:`: `path`, `{path: {x, y}}`, or `{id: {y: {file: column}}}`."""
    if entries is None:
        return ()
    items = list(entries.items()) if isinstance(entries, Mapping) else []
    if isinstance(entries, list):
        for entry in entries:
            if isinstance(entry, str):
                items.append((entry, None))
            elif isinstance(entry, Mapping):
                items += list(entry.items())
    files: list[str] = []
    for key, options in items:
        y = options.get("y") if isinstance(options, Mapping) else None
        if isinstance(y, Mapping):
            files += [_norm(str(f)) for f in y]
        else:
            files.append(_norm(str(key)))
    return tuple(dict.fromkeys(files))


def _name(text: str) -> str:
    """A registered-model name from free text: letters, digits, `.`, `_`, `-`."""
    name = re.sub(r"[^A-Za-z0-9_.-]+", "-", text).strip("-._")
    return name if _NAME.match(name) else ""
