"""A parsed dvc.yaml as the bot reads it: stages, their files, the pipeline between them, and the metrics
files a model's numbers come from (flattened as training names them). ScanError when dvc.yaml is not the
shape DVC documents."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any


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
        path = norm(path)
        for stage in self.stages.values():
            if any(within(path, out) for out in stage.outs):
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
                if any(overlaps(dep, out) for outs in feeds for out in outs for dep in stage.deps):
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
                files += self.stages[entry].metrics if entry in self.stages else [norm(entry)]
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


def value_of(name: str, data: Any) -> float | None:
    """The value of metric `name` (as `metric_names` gives it, maybe `file:key`) in its parsed file."""
    return flatten(data).get(name.rsplit(":", 1)[-1] if ":" in name else name)


def in_lock(lock: Mapping[str, Any] | None, path: str) -> bool:
    """Whether a dvc.lock (2.x/3.x format) records `path` as an output, or inside a folder output."""
    if not isinstance(lock, Mapping):
        return False
    stages = lock.get("stages")
    if not isinstance(stages, Mapping):
        return False
    path = norm(path)
    for stage in stages.values():
        outs = stage.get("outs") if isinstance(stage, Mapping) else None
        for out in outs if isinstance(outs, list) else []:
            if isinstance(out, Mapping) and isinstance(out.get("path"), str) and within(path, out["path"]):
                return True
    return False


# -- paths -----------------------------------------------------------------------------------------------


def norm(path: str) -> str:
    text = str(path).replace("\\", "/").strip()
    while text.startswith("./"):
        text = text[2:]
    return text.rstrip("/") or text


def within(path: str, out: str) -> bool:
    out = norm(out)
    return path == out or path.startswith(out + "/")


def overlaps(a: str, b: str) -> bool:
    a, b = norm(a), norm(b)
    return within(a, b) or within(b, a)


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
            found.append(norm(entry))
        elif isinstance(entry, Mapping):
            found += [norm(str(k)) for k in entry]
    return tuple(dict.fromkeys(found))


def _params_files(entries: Any) -> tuple[str, ...]:
    """`params:` items: a key of params.yaml, or `{file: [keys]}`."""
    if not isinstance(entries, list):
        return ()
    files = ["params.yaml" if isinstance(e, str) else norm(str(k)) for e in entries for k in _keys(e)]
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
            files += [norm(str(f)) for f in y]
        else:
            files.append(norm(str(key)))
    return tuple(dict.fromkeys(files))
