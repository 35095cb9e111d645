"""Charts as inline SVG, drawn on the server: no script, no asset from elsewhere. Each chart carries its
own text alternative (`<title>` and `<desc>`, read by screen readers) saying what the line shows."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

WIDTH, HEIGHT = 640, 200
LEFT, RIGHT, TOP, BOTTOM = 48, 28, 12, 28
MAX_POINTS = 400  # more points than pixels say nothing more: long histories are thinned evenly


@dataclass(frozen=True)
class Point:
    x: float
    y: float
    label: str  # what the point is (a version, a check's date)
    value: float
    marked: bool = False  # the champion


@dataclass(frozen=True)
class Chart:
    id: str
    title: str
    description: str
    points: tuple[Point, ...]
    polyline: str
    y_ticks: tuple[tuple[float, str], ...]
    x_labels: tuple[tuple[float, str], ...]
    width: int = WIDTH
    height: int = HEIGHT


def _fmt(value: float, percent: bool) -> str:
    return f"{value:.0%}" if percent else f"{value:.3g}"


def _thin(items: Sequence[tuple[str, float, bool]]) -> list[tuple[str, float, bool]]:
    if len(items) <= MAX_POINTS:
        return list(items)
    step = len(items) / MAX_POINTS
    kept = [items[int(i * step)] for i in range(MAX_POINTS - 1)] + [items[-1]]
    kept += [item for item in items if item[2] and item not in kept]  # the champion stays visible
    return kept


def line_chart(
    chart_id: str,
    title: str,
    series: Sequence[tuple[str, float, bool]],
    *,
    what: str,
    percent: bool = False,
) -> Chart | None:
    """A line over `series` (label, value, marked), in order; None when there is nothing to draw."""
    items = _thin(series)
    if not items:
        return None
    values = [v for _, v, _ in items]
    low, high = min(values), max(values)
    if percent:
        low, high = min(0.0, low), max(1.0, high)
    if high == low:
        low, high = low - 0.5 if not percent else 0.0, high + 0.5 if not percent else 1.0
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    n = len(items)

    def x_at(i: int) -> float:
        return LEFT + (plot_w * i / (n - 1) if n > 1 else plot_w / 2)

    def y_at(v: float) -> float:
        return TOP + plot_h * (1 - (v - low) / (high - low))

    points = tuple(
        Point(round(x_at(i), 1), round(y_at(v), 1), label, v, marked)
        for i, (label, v, marked) in enumerate(items)
    )
    ticks = tuple(
        (round(y_at(low + (high - low) * k / 4), 1), _fmt(low + (high - low) * k / 4, percent))
        for k in range(5)
    )
    every = max(1, n // 6)
    x_labels = tuple((p.x, p.label) for i, p in enumerate(points) if i % every == 0 or i == n - 1)
    return Chart(
        chart_id,
        title,
        _describe(what, items, percent),
        points,
        " ".join(f"{p.x},{p.y}" for p in points),
        ticks,
        x_labels,
    )


def _describe(what: str, items: Sequence[tuple[str, float, bool]], percent: bool) -> str:
    first, last = items[0], items[-1]
    top = max(items, key=lambda item: item[1])
    text = (
        f"{what} over {len(items)} points, from {_fmt(first[1], percent)} ({first[0]}) to "
        f"{_fmt(last[1], percent)} ({last[0]}); highest {_fmt(top[1], percent)} ({top[0]})."
    )
    marked = [item for item in items if item[2]]
    if marked:
        text += f" Champion: {marked[0][0]} at {_fmt(marked[0][1], percent)}."
    return text
