"""Plots as Mermaid charts, which GitHub renders in comments, in dvc.yaml's order: line charts
(xychart-beta), confusion matrices as tables, images as links to the run's artifacts."""

from __future__ import annotations

import bisect
import math
from collections.abc import Sequence

from bot.core.markdown import code, escape_md
from bot.core.models import Plot, PlotSeries

MAX_PLOT_POINTS = 50
MAX_PLOTS = 12
MAX_LABELS = 20
# Line colours, named in the caption because xychart-beta draws no legend.
_PALETTE = (
    ("blue", "#1f77b4"),
    ("orange", "#ff7f0e"),
    ("green", "#2ca02c"),
    ("red", "#d62728"),
    ("purple", "#9467bd"),
    ("brown", "#8c564b"),
)


def plot_views(
    plots: Sequence[Plot], *, run_id: str, run_url: str, artifact_url: str
) -> list[dict[str, str]]:
    out = []
    for plot in list(plots)[:MAX_PLOTS]:
        title = escape_md(plot.title or plot.id, max_len=120)
        if plot.error:
            out.append(
                {
                    "title": title,
                    "kind": "missing",
                    "body": f"_Not shown: {escape_md(plot.error, max_len=300)}_",
                }
            )
        elif plot.image:
            out.append(
                {
                    "title": title,
                    "kind": "image",
                    "body": _image_link(plot.image, run_id, run_url, artifact_url),
                }
            )
        elif plot.template == "confusion":
            body = _confusion_tables(plot)
            out.append({"title": title, "kind": "table", "body": body or "_No rows in the plot files._"})
        else:
            chart = _xychart(plot)
            out.append(
                {
                    "title": title,
                    "kind": "mermaid",
                    "body": chart or "_Nothing to draw: fewer than two points._",
                }
            )
    return out


def _image_link(path: str, run_id: str, run_url: str, artifact_url: str) -> str:
    """Where the image is: an artifact of the MLflow run (linked when the store has a UI), never a third party."""
    if run_url:
        target = f"{run_url}/artifactPath/{_url_path(path)}"
        return f"Image {code(path, max_len=120)}, logged with the run: [open it in MLflow]({target})"
    where = f" of MLflow run {code(run_id)}" if run_id else ""
    link = f" ([CI artifacts]({artifact_url}))" if artifact_url else ""
    return f"Image {code(path, max_len=120)}, logged as an artifact{where}{link}"


def _url_path(path: str) -> str:
    safe = "".join(ch if ch.isalnum() or ch in "/._-" else f"%{ord(ch):02X}" for ch in path if ord(ch) < 128)
    return safe


def _series_names(plot: Plot) -> list[str]:
    """Each series by its source file without the common folder, plus its field when fields differ."""
    sources = [s.source for s in plot.series]
    prefix = _common_folder(sources) if len(set(sources)) > 1 else ""
    fields = {s.y_field for s in plot.series}
    names = []
    for series in plot.series:
        name = series.source[len(prefix) :] if prefix else series.source
        if len(set(sources)) == 1 and len(fields) > 1:
            name = series.y_field
        elif len(fields) > 1:
            name = f"{name}: {series.y_field}"
        names.append(name)
    return names


def _common_folder(paths: Sequence[str]) -> str:
    parts = [p.split("/")[:-1] for p in paths]
    common: list[str] = []
    for group in zip(*parts, strict=False):
        if len(set(group)) != 1:
            break
        common.append(group[0])
    return "/".join(common) + "/" if common else ""


def _xychart(plot: Plot) -> str:
    lines = []
    for series in plot.series[: len(_PALETTE)]:
        points = [
            (float(x), float(y))
            for x, y in zip(series.x, series.y, strict=False)
            if finite_number(x) is not None and finite_number(y) is not None
        ]
        if len(points) >= 2:
            lines.append(sorted(points))
    if not lines:
        return ""
    x_min = min(p[0][0] for p in lines)
    x_max = max(p[-1][0] for p in lines)
    if x_max <= x_min:
        return ""
    # xychart-beta spaces a line's values evenly along the x range, so resample on an even grid.
    count = MAX_PLOT_POINTS  # an even grid fine enough to show a step curve (ROC) with few points
    grid = [x_min + (x_max - x_min) * i / (count - 1) for i in range(count)]
    resampled = [[_interpolate(points, [p[0] for p in points], x) for x in grid] for points in lines]
    y_min = min(min(values) for values in resampled)
    y_max = max(max(values) for values in resampled)
    if _unit_square(lines):  # rates or probabilities (ROC, precision-recall, calibration): y from 0 to 1,
        y_min, y_max = 0.0, 1.0  # so a curve near the top is not drawn as a cliff; x stays where the data is
    if y_max <= y_min:
        y_max = y_min + 1
    series_names = _series_names(plot)
    palette = ", ".join(colour for _, colour in _PALETTE[: len(resampled)])
    kind = "bar" if plot.template.startswith("bar") else "line"
    chart = [
        "```mermaid",
        f'%%{{init: {{"themeVariables": {{"xyChart": {{"plotColorPalette": "{palette}"}}}}}}}}%%',
        "xychart-beta",
        f'    title "{_mermaid_text(plot.title or plot.id)}"',
        f'    x-axis "{_mermaid_text(plot.x_label)}" {_short(x_min)} --> {_short(x_max)}',
        f'    y-axis "{_mermaid_text(plot.y_label)}" {_short(y_min)} --> {_short(y_max)}',
        *(f"    {kind} [{', '.join(_short(v) for v in values)}]" for values in resampled),
        "```",
    ]
    drawn = [name for name, points in zip(series_names, plot.series, strict=False) if _drawable(points)]
    notes = []
    if len(plot.series) > 1 or drawn != series_names:
        notes.append(
            " · ".join(
                f"{colour}: {code(name, max_len=80)}"
                for (colour, _), name in zip(_PALETTE, drawn, strict=False)
            )
        )
    if any(len(points) != count for points in lines):
        axis = code(plot.x_label) if plot.x_label else "x"
        counts = sorted({len(points) for points in lines})
        sizes = (
            f"{counts[0]} points{' each' if len(lines) > 1 else ''}"
            if len(counts) == 1
            else ("/".join(str(len(points)) for points in lines) + " points")
        )
        notes.append(f"_{sizes}, drawn at {count} even steps of {axis} (Mermaid spaces values evenly)_")
    if notes:
        chart += ["", "\n\n".join(notes)]
    return "\n".join(chart)


def _unit_square(lines: Sequence[Sequence[tuple[float, float]]]) -> bool:
    return all(0.0 <= x <= 1.0 and 0.0 <= y <= 1.0 for points in lines for x, y in points)


def _drawable(series: PlotSeries) -> bool:
    pairs = [
        (x, y)
        for x, y in zip(series.x, series.y, strict=False)
        if finite_number(x) is not None and finite_number(y) is not None
    ]
    return len(pairs) >= 2


def _interpolate(points: Sequence[tuple[float, float]], xs: Sequence[float], x: float) -> float:
    """y at x on the polyline through `points` (sorted by x, then y); at a vertical step, the highest y."""
    i = bisect.bisect_right(xs, x)
    if i == 0:
        return points[0][1]
    x0, y0 = points[i - 1]
    if i == len(points):
        return y0
    x1, y1 = points[i]
    return y0 + (y1 - y0) * (x - x0) / (x1 - x0)


def _confusion_tables(plot: Plot) -> str:
    """One count table per series (actual rows x predicted columns), labels as written in the files."""
    names = _series_names(plot)
    tables = []
    for name, series in zip(names, plot.series, strict=False):
        table = _confusion_table([str(v) for v in series.x], [str(v) for v in series.y], plot)
        if not table:
            continue
        heading = f"**{code(name, max_len=80)}**\n\n" if len(plot.series) > 1 else ""
        tables.append(heading + table)
    return "\n\n".join(tables)


def _confusion_table(actual: Sequence[str], predicted: Sequence[str], plot: Plot) -> str:
    if not actual:
        return ""
    counts: dict[tuple[str, str], int] = {}
    for pair in zip(actual, predicted, strict=False):
        counts[pair] = counts.get(pair, 0) + 1
    labels = sorted({a for a, _ in counts} | {p for _, p in counts}, key=_label_order)[:MAX_LABELS]
    corner = f"{escape_md(plot.x_label or 'actual', max_len=30)} \\ {escape_md(plot.y_label or 'predicted', max_len=30)}"
    header = f"| {corner} | " + " | ".join(escape_md(label, max_len=30) for label in labels) + " |"
    rule = "|---|" + "---:|" * len(labels)
    body = [
        f"| **{escape_md(a, max_len=30)}** | " + " | ".join(str(counts.get((a, p), 0)) for p in labels) + " |"
        for a in labels
    ]
    return "\n".join([header, rule, *body])


def _label_order(label: str) -> tuple[int, float, str]:
    """Numeric labels by value ("2" before "10"), then text labels alphabetically."""
    try:
        return (0, float(label), label)
    except ValueError:
        return (1, 0.0, label)


def _mermaid_text(text: str) -> str:
    """A label inside Mermaid's double quotes: a small alphabet, so it cannot end the label or the block."""
    cleaned = "".join(ch if ch.isalnum() or ch in " ._/-()" else " " for ch in str(text))
    return " ".join(cleaned.split())[:60]


def _short(value: float) -> str:
    """A number in few characters, never in exponent form (Mermaid reads plain decimals)."""
    text = f"{value:.4g}"
    if "e" in text:
        text = f"{value:.4f}"
        text = text.rstrip("0").rstrip(".") if "." in text else text
    return "0" if text in ("-0", "") else text


def finite_number(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) else None
