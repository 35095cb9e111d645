"""What a run produced, as the bot shows it: DVC's `params show`/`params diff`, `metrics show` and
`plots show` results turned into dotted keys, numbers and `Plot` values. Pure: the calls to DVC are
`DvcProject`'s."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from bot.adapters.dvc.errors import DvcMetricsError
from bot.adapters.dvc.values import PARAMS_FILE
from bot.core.models import Plot, PlotSeries, PlotValue

_IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".gif", ".svg")


def params_from_show(shown: Mapping[str, Any], rev: str | None) -> dict[str, Any]:
    """The params of `rev` (the workspace when None) in a `params show` result, flattened to dotted keys."""
    files = _rev_entry(shown, rev).get("data", {})
    flat: dict[str, Any] = {}
    for path, entry in files.items():
        flat.update(_flatten(entry.get("data", {}), prefix=_params_prefix(path)))
    return flat


def params_from_diff(diff: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """A `params diff` result as dotted key -> {"old": .., "new": ..}."""
    changed: dict[str, dict[str, Any]] = {}
    for path, keys in diff.items():
        prefix = _params_prefix(path)
        for key, change in keys.items():
            changed[prefix + key] = {"old": change.get("old"), "new": change.get("new")}
    return changed


def metrics_from_show(shown: Mapping[str, Any], targets: list[str], rev: str | None) -> dict[str, float]:
    """The numeric metrics of `targets` in a `metrics show` result (see `DvcProject.metrics`)."""
    entry = _rev_entry(shown, rev)
    if rev and "error" in entry:
        return {}
    if "error" in entry:
        raise DvcMetricsError(", ".join(targets), _reason(entry["error"]))
    files = entry.get("data", {})
    found: dict[str, dict[str, float]] = {}
    for path in targets:
        item = files.get(path)
        if item is None or "error" in item:
            if rev:
                continue
            reason = _reason(item["error"]) if item else "DVC did not report it"
            raise DvcMetricsError(path, reason)
        values = {k: float(v) for k, v in _flatten(item.get("data", {})).items() if _is_number(v)}
        if not values and not rev:
            raise DvcMetricsError(path, "it holds no numeric values")
        found[path] = values
    return _merge_namespaced(found)


def plots_from_show(
    shown: Mapping[str, Any], stage_outs: set[str], *, top_level: bool, named: Iterable[str]
) -> list[Plot]:
    """The plots of a `plots show` result that `DvcProject.plots` picks, in dvc.yaml's order."""
    from dvc.render.converter.vega import VegaConverter, _file_field
    from dvc.repo.plots import infer_data_sources
    from dvc.utils.plots import group_definitions_by_id

    wanted = [n.rstrip("/") for n in named]
    workspace = _rev_entry(shown, None)
    definitions = workspace.get("definitions", {}).get("data", {})
    sources = workspace.get("sources", {}).get("data", {})
    plots: list[Plot] = []
    for inner_id, props in group_definitions_by_id(definitions).values():
        files = [str(f) for f in infer_data_sources(inner_id, props)]
        top = _is_top_level(definitions, inner_id)
        picked = (
            _in_outs(files, stage_outs)
            or (top_level and top)
            or any(_within(name, [inner_id, *files]) for name in wanted)
        )
        if not picked:
            continue
        title = str(props.get("title") or inner_id)
        errors = [
            _reason(sources[f]["error"]) for f in files if "error" in sources.get(f, {"error": "missing"})
        ]
        if _is_image(inner_id):
            plots.append(
                Plot(id=inner_id, title=title, template="image", image=inner_id, error="; ".join(errors))
            )
            continue
        if errors:
            plots.append(
                Plot(
                    id=inner_id,
                    title=title,
                    template=str(props.get("template", "linear")),
                    error=f"{', '.join(files)}: {errors[0]}",
                )
            )
            continue
        data = {f: sources[f]["data"] for f in files}
        try:
            converter = VegaConverter(inner_id, data, dict(props))
            datapoints, properties = converter.convert()
            plots.append(_chart(inner_id, title, properties, datapoints, _file_field))
        except Exception as exc:  # a definition DVC itself cannot draw: say so on the card
            plots.append(Plot(id=inner_id, title=title, error=f"DVC cannot draw it: {exc}"))
    return plots


def _is_image(path: str) -> bool:
    return path.lower().endswith(_IMAGE_SUFFIXES)


def _within(name: str, candidates: Iterable[str]) -> bool:
    return any(c == name or c.startswith(name + "/") for c in candidates)


def _in_outs(files: Iterable[str], outs: set[str]) -> bool:
    return any(_within(out.rstrip("/"), [f]) for f in files for out in outs)


def _is_top_level(definitions: Mapping[str, Any], plot_id: str) -> bool:
    """A plot defined in a dvc.yaml's own `plots:` (keyed by that file), not in a stage's outs (keyed "")."""
    return any(key and plot_id in (entry.get("data") or {}) for key, entry in definitions.items())


def _chart(
    plot_id: str,
    title: str,
    properties: Mapping[str, Any],
    datapoints: Mapping[str, list[dict[str, Any]]],
    file_field: Any,
) -> Plot:
    """A chart from DVC's converted data: one series per (file, y field) of the definition, in its order."""
    template = str(properties.get("template") or "linear")
    ys = list(file_field(properties.get("y")))
    xs = list(file_field(properties.get("x"))) if isinstance(properties.get("x"), dict) else []
    as_text = template == "confusion"  # class labels stay as written: "0", not 0.0
    series = []
    for index, (y_file, y_field) in enumerate(ys):
        if len(xs) == len(ys):
            x_file, x_field = xs[index]
        elif xs:
            x_file, x_field = xs[0]
        else:
            x_file, x_field = y_file, "step"
        rows = datapoints.get(y_file, [])
        x_rows = datapoints.get(x_file, [])
        if x_field == "step":
            x_values: list[PlotValue] = [float(i) for i in range(len(rows))]
        else:
            x_values = [_plot_value(r.get(x_field), as_text) for r in x_rows]
        series.append(
            PlotSeries(
                source=y_file,
                x_field=x_field,
                y_field=y_field,
                x=x_values,
                y=[_plot_value(r.get(y_field), as_text) for r in rows],
            )
        )
    return Plot(
        id=plot_id,
        title=title,
        template=template,
        x_label=str(properties.get("x_label") or ""),
        y_label=str(properties.get("y_label") or ""),
        series=series,
    )


def _plot_value(value: Any, as_text: bool) -> PlotValue:
    if as_text or isinstance(value, bool) or value is None:
        return "" if value is None else str(value)
    if isinstance(value, int | float):
        return float(value)
    number = _number_or_text(value)
    return float(number) if isinstance(number, int | float) else str(number)


def _rev_entry(shown: Mapping[str, Any], rev: str | None) -> dict[str, Any]:
    """The entry of `rev` in a params/metrics show result. The workspace is keyed "" by the API
    ("workspace" by some versions); a rev is keyed as given, or by its full sha."""
    if not rev:
        for key in ("", "workspace"):
            if key in shown:
                return dict(shown[key])
        return {}
    if rev in shown:
        return dict(shown[rev])
    others = [v for k, v in shown.items() if k not in ("", "workspace")]
    return dict(others[0]) if len(others) == 1 else {}


def _flatten(data: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(data, Mapping):
        out: dict[str, Any] = {}
        for key, value in data.items():
            out.update(_flatten(value, f"{prefix}{key}."))
        return out
    return {prefix[:-1]: data} if prefix else {}


def _params_prefix(path: str) -> str:
    # MLflow param names allow ':' but the card reads better without a prefix for the usual file.
    return "" if path == PARAMS_FILE else f"{path}:"


def _merge_namespaced(per_file: Mapping[str, dict[str, float]]) -> dict[str, float]:
    """One dict of metrics; a name found in two files keeps its file as a prefix to stay unambiguous."""
    seen: dict[str, int] = {}
    for values in per_file.values():
        for key in values:
            seen[key] = seen.get(key, 0) + 1
    merged: dict[str, float] = {}
    for path, values in per_file.items():
        for key, value in values.items():
            merged[key if seen[key] == 1 else f"{path}:{key}"] = value
    return merged


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _number_or_text(value: Any) -> Any:
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return value
    return value


def _reason(error: Any) -> str:
    if isinstance(error, FileNotFoundError):
        return "the file does not exist (did the stage write it?)"
    if isinstance(error, BaseException):
        return f"{type(error).__name__}: {error}"
    return str(error)
