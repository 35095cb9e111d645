"""The model card on a pull request: "Model Cards for Model Reporting" (Mitchell et al., 2019), for a PR.

`render_card` turns facts into markdown; it does no I/O. The facts are shaped into a view (`card_context`)
of already-escaped strings, so the template — shipped, or a repository's own (`card_template` in the
config) — only lays them out and cannot forget to escape user text. The hidden marker is put on top by the
code, not the template, so a custom template cannot lose it; the whole body is fitted under GitHub's limit.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from bot.core.config import ModelSpec
from bot.core.gates import Decision, Verdict, fmt, fmt_group
from bot.core.markdown import (
    CHECK_RUN_LIMIT,
    COMMENT_LIMIT,
    code,
    code_block,
    escape_md,
    escape_md_keeping_code,
    fit,
    render_template,
    render_text,
    squeeze_blank_lines,
)
from bot.core.markers import card_marker, find_markers
from bot.core.models import ModelVersion, Plot, PlotSeries, TrainResult

CARD_TEMPLATE = "card/model_card.md.j2"
# A repository's own template: what it may write (a card is fitted under 65,536 characters anyway) and
# how many items all its range() calls may ask for, so a template cannot spin the job on waste.
TEMPLATE_OUTPUT_LIMIT = 4 * COMMENT_LIMIT
TEMPLATE_RANGE_BUDGET = 10_000
Status = Literal["trained", "reused", "failed", "waiting"]

LOG_TAIL_LINES = 200
LOG_TAIL_CHARS = 20_000
MAX_PLOT_POINTS = 50
MAX_TABLE_ROWS = 200  # params/metrics beyond this are left to the CI artifact
MAX_CELL = 80
FOLD_ROWS = 12  # tables longer than this are folded


@dataclass(frozen=True)
class CardFacts:
    repo: str
    pr_number: int | None
    model: ModelSpec
    result: TrainResult
    champion: ModelVersion | None  # its .metrics are the champion's metrics
    decision: Decision
    head_sha: str
    base_ref: str
    run_url: str = ""  # the MLflow run; defaults to result.run.url
    ci_url: str = ""  # the Actions run (or local job) that trained
    artifact_url: str = ""  # where the full logs and plots are kept
    reproduce: str = ""  # commands to reproduce; the default names the sha and the DVC stage
    status: Status | None = None  # None: derived from the result (failed / reused / trained)
    pr_title: str = ""
    waiting_reason: str = ""
    on_merge: bool = True  # whether merging the PR promotes (config promotion.on_merge)
    champion_alias: str = "champion"
    updated_at: str = ""  # a timestamp supplied by the caller (the core reads no clock)

    @property
    def effective_status(self) -> Status:
        if self.status is not None:
            return self.status
        if not self.result.ok:
            return "failed"
        return "reused" if self.result.reused else "trained"


def render_card(facts: CardFacts, template_text: str | None = None, *, limit: int = COMMENT_LIMIT) -> str:
    """The card comment: marker first, then the (shipped or repository) template, fitted under `limit`."""
    context = card_context(facts)
    if template_text is None:
        body = render_template(CARD_TEMPLATE, context)
    else:  # raises TemplateBoundError past the bounds, as any template error raises
        body = render_text(
            template_text, context, max_chars=TEMPLATE_OUTPUT_LIMIT, max_range_items=TEMPLATE_RANGE_BUDGET
        )
    marker = card_marker(facts.model.name)
    # A template that printed its own marker must not make two; any other marker-looking text is not ours.
    lines = [line for line in body.split("\n") if line.strip() != marker]
    body = squeeze_blank_lines("\n".join(lines))
    return fit(f"{marker}\n{body}", limit)


def check_run_output(facts: CardFacts) -> tuple[str, str, str]:
    """(title, summary, text) of the model's Check Run: a one-line title, the card as summary, and the
    gate reasons (plus the log tail of a failed run) as text. Each fits the Check Run limit (65,535)."""
    context = card_context(facts)
    title = context["headline_plain"]
    summary = render_card(facts, limit=CHECK_RUN_LIMIT)
    for marker in find_markers(summary):  # a check run is not searched by marker; keep it clean
        summary = summary.replace(marker + "\n", "", 1)
    details = render_template("card/check_run_text.md.j2", context)
    return title[:255], summary, fit(squeeze_blank_lines(details), CHECK_RUN_LIMIT)


def check_conclusion(facts: CardFacts) -> str | None:
    """The Check Run conclusion: None while waiting (the run stays queued)."""
    status = facts.effective_status
    if status == "waiting":
        return None
    if status == "failed":
        return "failure"
    return facts.decision.conclusion


# ---------------------------------------------------------------------------------------------------------
# The view: everything the template prints, already escaped


def card_context(facts: CardFacts) -> dict[str, Any]:
    result, spec = facts.result, facts.model
    status = facts.effective_status
    candidate = dict(result.metrics or (result.run.metrics if result.run else {}))
    champion_metrics = dict(facts.champion.metrics) if facts.champion else None
    run_url = facts.run_url or (result.run.url if result.run else "")
    sha = facts.head_sha
    context: dict[str, Any] = {
        "name": escape_md(spec.name),
        "name_code": code(spec.name),
        "model_name": spec.name,  # for commands: the config's name pattern keeps it inert
        "status": status,
        "repo": escape_md(facts.repo),
        "pr_number": facts.pr_number,
        "pr_title": escape_md(facts.pr_title, max_len=200),
        "sha": code(sha[:12]),
        "sha_full": sha,
        "base_ref": code(facts.base_ref),
        "stage": code(spec.stage),
        "flavor": escape_md(spec.flavor),
        "output": code(spec.output),
        "run_id": code(result.run.run_id) if result.run else "",
        "run_url": _url(run_url),
        "ci_url": _url(facts.ci_url),
        "artifact_url": _url(facts.artifact_url),
        "intended_use": _trusted(spec.intended_use),
        "caveats": [_trusted(c) for c in spec.caveats],
        "champion": _champion_view(facts),
        "champion_alias": escape_md(facts.champion_alias),
        "first_model": facts.champion is None,
        "metrics": _metric_rows(spec, candidate, champion_metrics, facts.decision),
        "base_metrics": _base_rows(candidate, result.base_metrics),
        "params_diff": _params_rows(result.params_diff),
        # a first card has no champion and often no base: every parameter, so the reader knows what was run
        "params": _all_params_rows(result.params) if facts.champion is None else [],
        "lineage": _lineage_rows(result.lineage, spec.training_data),
        "plots": _plots(
            result.plots,
            run_id=result.run.run_id if result.run else "",
            run_url=_url(run_url),
            artifact_url=_url(facts.artifact_url),
        ),
        "gate": _gate_view(facts.decision),
        "reproduce": code_block(facts.reproduce or _default_reproduce(facts), "sh"),
        # a reused run took seconds to find: the card tells how long its training took
        "duration": _duration(
            result.trained_duration_s
            if status == "reused" and result.trained_duration_s
            else result.duration_s
        )
        if status != "reused" or result.trained_duration_s
        else "",
        "output_hash": code(result.output_hash[:12]) if result.output_hash else "",
        "error": escape_md_keeping_code(result.error, max_len=500),
        "warnings": [escape_md_keeping_code(w, max_len=500) for w in result.warnings[:10]],
        "log": _log_view(result.log_tail),
        "waiting_reason": escape_md_keeping_code(facts.waiting_reason, max_len=300),
        "failed_before_stage": result.failed_before_stage,
        "nothing_reproduced": status == "trained" and result.reproduced is False,
        "on_merge": facts.on_merge,
        "updated_at": escape_md(facts.updated_at),
        "fold_rows": FOLD_ROWS,
    }
    context["headline"], context["headline_plain"] = _headline(facts, context)
    return context


def _url(url: str) -> str:
    """A link target we print as `[text](url)`: only http(s), and nothing that ends the link early."""
    if not url.startswith(("https://", "http://")):
        return ""
    return url.replace(" ", "%20").replace(")", "%29").replace("<", "%3C").replace(">", "%3E")


def _trusted(text: str) -> str:
    """Text from the repository's config (default branch, maintainers): markdown allowed, markers not."""
    return text.replace("<!--", "&lt;!--").strip()


def _headline(facts: CardFacts, context: Mapping[str, Any]) -> tuple[str, str]:
    status = facts.effective_status
    name = facts.model.name
    if status == "waiting":
        why = f": {facts.waiting_reason}" if facts.waiting_reason else ""
        return f"⏳ Waiting to train{escape_md_keeping_code(why, max_len=300)}", f"{name}: waiting to train"
    if status == "failed" and facts.result.failed_before_stage:
        return "❌ Training could not start: the DVC data could not be fetched", f"{name}: training failed"
    if status == "failed":
        return f"❌ Training failed at stage {context['stage']}", f"{name}: training failed"
    decision = facts.decision
    verb = "Reused an existing run" if status == "reused" else "Trained"
    gate = decision.summary()
    mark = {"success": "✅", "failure": "❌", "neutral": "➖"}[decision.conclusion]
    return f"{mark} {verb} · {gate}", f"{name}: {gate}"


def _champion_view(facts: CardFacts) -> dict[str, str] | None:
    champ = facts.champion
    if champ is None:
        return None
    return {"version": escape_md(champ.version), "run_id": code(champ.run_id)}


def _metric_rows(
    spec: ModelSpec, candidate: Mapping[str, float], champion: Mapping[str, float] | None, decision: Decision
) -> list[dict[str, str]]:
    by_metric: dict[str, list[Verdict]] = {}
    for verdict in decision.verdicts:
        if verdict.metric:
            by_metric.setdefault(verdict.metric, []).append(verdict)
    names = [m.name for m in spec.metrics]
    names += sorted(k for k in candidate if k not in names)
    rows = []
    for name in names[:MAX_TABLE_ROWS]:
        metric = spec.metric(name)
        value = _number(candidate.get(name))
        reference = _number(champion.get(name)) if champion else None
        verdicts = by_metric.get(name, [])
        if metric is None:
            mark = "not gated"
        elif not verdicts:
            mark = "–"
        elif all(v.passed for v in verdicts):
            mark = "✅" if any(v.judged for v in verdicts) else "➖"
        else:
            mark = "❌"
        delta, rel = _deltas(value, reference)
        arrow = (
            ""
            if metric is None
            else ("↑ higher is better" if metric.direction == "higher" else "↓ lower is better")
        )
        shown, shown_reference = _side_by_side(value, reference)
        rows.append(
            {
                "name": code(name, max_len=MAX_CELL),
                "candidate": shown if value is not None else "missing",
                "champion": shown_reference if reference is not None else "–",
                "delta": delta,
                "relative": rel,
                "direction": arrow,
                "verdict": mark,
            }
        )
    return rows


def _deltas(value: float | None, reference: float | None) -> tuple[str, str]:
    if value is None or reference is None:
        return "–", "–"
    diff = value - reference
    (text,) = fmt_group(diff) if diff else ("0",)
    sign = "+" if diff > 0 else ""
    rel = "–" if reference == 0 else _percent(diff / abs(reference) * 100)
    return f"{sign}{text}", rel


def _side_by_side(value: float | None, reference: float | None) -> tuple[str, str]:
    """Two values with the decimals that tell them apart (0.9712 and 0.9708, not 0.971 twice)."""
    if value is None or reference is None:
        return (fmt(value) if value is not None else "", fmt(reference) if reference is not None else "")
    shown, shown_reference = fmt_group(value, reference)
    return shown, shown_reference


def _percent(relative: float) -> str:
    """A relative change with two significant digits when under 1 % (+0.04 %, not +0.0 %)."""
    if relative == 0 or not math.isfinite(relative):
        return "0 %" if relative == 0 else "–"
    if abs(relative) >= 1:
        return f"{relative:+.1f} %"
    decimals = min(8, 1 - math.floor(math.log10(abs(relative))))
    return f"{relative:+.{decimals}f} %"


def _base_rows(candidate: Mapping[str, float], base: Mapping[str, float]) -> list[dict[str, str]]:
    if not base:
        return []
    rows = []
    for name in sorted(set(candidate) | set(base))[:MAX_TABLE_ROWS]:
        new, old = _number(candidate.get(name)), _number(base.get(name))
        delta, rel = _deltas(new, old)
        shown_new, shown_old = _side_by_side(new, old)
        rows.append(
            {
                "name": code(name, max_len=MAX_CELL),
                "base": shown_old if old is not None else "–",
                "pr": shown_new if new is not None else "–",
                "delta": delta,
                "relative": rel,
            }
        )
    return rows


def _params_rows(diff: Mapping[str, Mapping[str, Any]]) -> list[dict[str, str]]:
    rows = []
    for key in sorted(diff)[:MAX_TABLE_ROWS]:
        change = diff[key]
        rows.append(
            {
                "key": code(key, max_len=MAX_CELL),
                "old": _param_value(change.get("old")),
                "new": _param_value(change.get("new")),
            }
        )
    return rows


def _all_params_rows(params: Mapping[str, Any]) -> list[dict[str, str]]:
    return [
        {"key": code(key, max_len=MAX_CELL), "value": _param_value(params[key])}
        for key in sorted(params)[:MAX_TABLE_ROWS]
    ]


def _param_value(value: Any) -> str:
    if value is None:
        return "–"
    return escape_md(value if isinstance(value, str) else repr(value), max_len=MAX_CELL) or '""'


def _lineage_rows(lineage: Mapping[str, str], declared: Sequence[str]) -> list[dict[str, str]]:
    paths = list(lineage) + [p for p in declared if p not in lineage]
    return [
        {"path": code(p, max_len=120), "md5": code(lineage[p]) if lineage.get(p) else "not tracked by DVC"}
        for p in paths[:MAX_TABLE_ROWS]
    ]


def _gate_view(decision: Decision) -> dict[str, Any]:
    return {
        "conclusion": decision.conclusion,
        "allowed": decision.allowed,
        "summary": escape_md(decision.summary()),
        "verdicts": [
            {
                "mark": ("✅" if v.judged else "➖") if v.passed else "❌",
                "reason": escape_md(v.reason, max_len=300),
            }
            for v in decision.verdicts
        ],
    }


def _default_reproduce(facts: CardFacts) -> str:
    name = facts.model.name
    return "\n".join(
        [
            f"git checkout {facts.head_sha or '<commit>'}",
            f"dvc repro {' '.join(facts.result.stages or [facts.model.stage])}",
            "# or, logged to MLflow and judged like this card:",
            f"mlops-bot train --model {name}",
        ]
    )


def _duration(seconds: float) -> str:
    if not seconds:
        return ""
    if seconds < 60:
        return f"{seconds:.0f} s"
    return f"{seconds // 60:.0f} min {seconds % 60:.0f} s"


def _log_view(log: str) -> dict[str, Any] | None:
    if not log:
        return None
    # Only the end of the log matters for a failure; a 5 MB log must not be copied around in full.
    tail = log[-LOG_TAIL_CHARS * 2 :]
    lines = tail.rstrip("\n").split("\n")
    shown = lines[-LOG_TAIL_LINES:]
    text = "\n".join(shown)
    if len(text) > LOG_TAIL_CHARS:
        text = text[-LOG_TAIL_CHARS:]
        text = text[text.find("\n") + 1 :] if "\n" in text else text
    cut = len(text) < len(log.rstrip("\n"))
    return {"block": code_block(text, "text"), "lines": text.count("\n") + 1, "cut": cut}


def _number(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) else None


# ---------------------------------------------------------------------------------------------------------
# Plots as Mermaid charts, which GitHub renders in comments, in dvc.yaml's order

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


def _plots(plots: Sequence[Plot], *, run_id: str, run_url: str, artifact_url: str) -> list[dict[str, str]]:
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
            if _number(x) is not None and _number(y) is not None
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
        if _number(x) is not None and _number(y) is not None
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
