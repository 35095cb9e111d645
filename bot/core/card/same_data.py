"""The card's same-data table: the champion re-scored on this PR's evaluation rows, next to the candidate on
the same rows, each difference with its bootstrap interval and what it says (better, worse, not
distinguishable); the slices; and, when the comparison could not be made, the one line that says why."""

from __future__ import annotations

import math
from typing import Any

from bot.core.card.facts import CardFacts
from bot.core.evaluation import SameDataComparison, SliceRegression, slice_tolerances
from bot.core.gates import fmt_group, fmt_signed
from bot.core.markdown import code, escape_md, escape_md_keeping_code

MAX_SLICE_ROWS = 100
_VERDICT_MARK = {"better": "🟢 better", "worse": "🔴 worse", "not distinguishable": "⚪ not distinguishable"}


def production_view(facts: CardFacts) -> dict[str, Any] | None:
    """Both models on the labelled production rows (a retrain PR's reason to be); None when not scored."""
    return comparison_view(facts.production)


def comparison_view(comparison: SameDataComparison | None) -> dict[str, Any] | None:
    """The table rows of a comparison on rows outside the PR (labelled production rows, a canary's live
    requests); None when none was made."""
    if comparison is None:
        return None
    if not comparison.ok:
        return {"data": code(comparison.data, max_len=120), "error": escape_md_keeping_code(comparison.error)}
    return {
        "data": code(comparison.data, max_len=120),
        "error": "",
        "rows": f"{comparison.rows:,}",
        "champion_version": escape_md(comparison.champion_version),
        "confidence": f"{comparison.confidence * 100:.0f} %",
        "metrics": [_metric_row(m) for m in comparison.metrics],
        "notes": [escape_md(n, max_len=300) for n in comparison.notes[:10]],
    }


def same_data_view(facts: CardFacts) -> dict[str, Any] | None:
    """What the template prints about the same-data comparison; None when none was made."""
    comparison = facts.same_data
    if comparison is None:
        return None
    common = {
        "data": code(comparison.data, max_len=120),
        "champion_version": escape_md(comparison.champion_version),
    }
    if not comparison.ok:
        return {**common, "error": escape_md_keeping_code(comparison.error, max_len=600)}
    worst = comparison.worst_slice_regression(slice_tolerances(facts.model))
    return {
        **common,
        "error": "",
        "rows": f"{comparison.rows:,}",
        "confidence": f"{comparison.confidence * 100:.0f} %",
        "resamples": f"{comparison.resamples:,}",
        "seed": comparison.seed,
        "metrics": [_metric_row(m) for m in comparison.metrics],
        "slices": _slice_rows(comparison),
        "slices_title": _slices_title(facts, comparison),
        "worst_slice": escape_md(worst.describe()) if worst else "",
        "notes": [escape_md(n, max_len=300) for n in comparison.notes[:10]],
    }


def worst_slice_headline(facts: CardFacts) -> tuple[str, str]:
    """(markdown, plain) of the worst slice regression beyond its tolerance, for the headline; empty when
    no slice regressed beyond it."""
    comparison = facts.same_data
    if comparison is None or not comparison.ok:
        return "", ""
    worst: SliceRegression | None = comparison.worst_slice_regression(slice_tolerances(facts.model))
    if worst is None:
        return "", ""
    m = worst.metric
    text = f"worst slice {worst.column}={worst.value}: {m.name} {fmt_signed(m.candidate - m.champion)}"
    return escape_md(text, max_len=200), text[:200]


def _metric_row(m: Any) -> dict[str, str]:
    candidate, champion = (
        fmt_group(m.candidate, m.champion) if _finite(m.candidate, m.champion) else ("–", "–")
    )
    interval = f"[{fmt_signed(m.low)}, {fmt_signed(m.high)}]" if _finite(m.low, m.high) else "–"
    return {
        "name": code(m.name, max_len=80),
        "champion": champion,
        "candidate": candidate,
        "delta": fmt_signed(m.delta),
        "interval": interval,
        "verdict": _VERDICT_MARK[m.verdict],
        "direction": "↑" if m.direction == "higher" else "↓",
    }


def _slice_rows(comparison: SameDataComparison) -> list[dict[str, str]]:
    rows = []
    for piece in comparison.slices:
        for m in piece.metrics:
            candidate, champion = fmt_group(m.candidate, m.champion)
            rows.append(
                {
                    "slice": code(f"{piece.column}={piece.value}", max_len=80),
                    "rows": f"{piece.rows:,}",
                    "name": code(m.name, max_len=80),
                    "champion": champion,
                    "candidate": candidate,
                    "delta": fmt_signed(m.candidate - m.champion),
                }
            )
    return rows[:MAX_SLICE_ROWS]


def _slices_title(facts: CardFacts, comparison: SameDataComparison) -> str:
    columns = ", ".join(dict.fromkeys(s.column for s in comparison.slices))
    title = f"Per slice of {columns}: {len(comparison.slices)} value(s)"
    evaluation = facts.model.evaluation
    return title + (f" with at least {evaluation.min_slice_rows} rows" if evaluation else "")


def _finite(*values: float) -> bool:
    return all(math.isfinite(v) for v in values)
