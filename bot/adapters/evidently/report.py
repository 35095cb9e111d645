"""The drift check itself: an Evidently 0.7 report (new API) of two tables, its HTML and JSON written
next to each other, and the snapshot flattened into a `DriftSummary` (and back, from its JSON form)."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bot.adapters.evidently.columns import check_methods, sample_rows, select_columns
from bot.core.config import DriftSpec
from bot.core.drift_values import json_safe, summary_to_dict
from bot.core.models import ColumnDrift, DriftSummary

if TYPE_CHECKING:
    import pandas as pd


def run_drift(
    reference: pd.DataFrame,
    current: pd.DataFrame,
    spec: DriftSpec,
    *,
    model: str,
    out_dir: Path,
    seed: int = 0,
) -> DriftSummary:
    """Compare `current` with `reference`; write out_dir/drift-<model>.html and .json; return the summary."""
    numerical, categorical = select_columns(reference, current, spec)
    check_methods(spec, numerical, categorical)
    columns = [*numerical, *categorical]
    ref_sample = sample_rows(reference[columns], spec.sample_cap, seed)
    cur_sample = sample_rows(current[columns], spec.sample_cap, seed + 1)

    from evidently import DataDefinition, Dataset, Report
    from evidently.presets import DataDriftPreset

    definition = DataDefinition(numerical_columns=numerical, categorical_columns=categorical)
    preset = DataDriftPreset(
        columns=columns,
        drift_share=spec.drift_share,
        method=spec.method,
        threshold=spec.threshold,
        per_column_method=dict(spec.per_column_method) or None,
        per_column_threshold=dict(spec.per_column_threshold) or None,
    )
    # include_tests=True on the Report is what yields the per-column pass/fail verdicts.
    snapshot = Report([preset], include_tests=True).run(
        current_data=Dataset.from_pandas(cur_sample, data_definition=definition),
        reference_data=Dataset.from_pandas(ref_sample, data_definition=definition),
    )
    out_dir.mkdir(parents=True, exist_ok=True)
    html_path = out_dir / f"drift-{model}.html"
    snapshot.save_html(str(html_path))
    summary = summarize(
        json.loads(snapshot.json()),  # .dict() keeps enums; the JSON form has plain strings
        model=model,
        drift_share=spec.drift_share,
        sizes=(len(reference), len(current), len(ref_sample), len(cur_sample)),
        report_path=str(html_path),
    )
    write_summary(summary, out_dir / f"drift-{model}.json")
    return summary


def summarize(
    snapshot: dict[str, Any],
    *,
    model: str,
    drift_share: float,
    sizes: tuple[int, int, int, int],
    report_path: str = "",
) -> DriftSummary:
    """Flatten `json.loads(snapshot.json())` into a DriftSummary.

    The new API has no dataset-drift boolean: dataset drift is the share of drifted columns
    reaching `drift_share`, as the "Share of Drifted Columns: Less" test checks.
    """
    values: dict[str, dict[str, Any]] = {}
    for metric in snapshot.get("metrics", []):
        config = metric.get("config", {})
        if config.get("type") == "evidently:metric_v2:ValueDrift":
            values[config["column"]] = {
                "score": _number(metric.get("value")),
                "method": str(config.get("method", "")),
                "threshold": _number(config.get("threshold")),
            }
    verdicts: dict[str, bool] = {}
    for test in snapshot.get("tests", []):
        params = test.get("metric_config", {}).get("params", {})
        if params.get("type") == "evidently:metric_v2:ValueDrift":
            verdicts[params["column"]] = test.get("status") == "FAIL"
    missing = sorted(set(values) - set(verdicts))
    if missing:
        raise RuntimeError(f"Evidently returned no drift test for column(s) {', '.join(missing)}")
    columns = tuple(
        ColumnDrift(column=col, drifted=verdicts[col], **values[col])  # order: as Evidently reported them
        for col in values
    )
    drifted = sum(c.drifted for c in columns)
    share = drifted / len(columns) if columns else 0.0
    reference_rows, current_rows, reference_sampled, current_sampled = sizes
    return DriftSummary(
        model=model,
        dataset_drift=bool(columns) and share >= drift_share,
        share_drifted=share,
        drift_share=drift_share,
        columns=columns,
        reference_rows=reference_rows,
        current_rows=current_rows,
        reference_sampled=reference_sampled,
        current_sampled=current_sampled,
        report_path=report_path,
    )


def _number(value: Any) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return math.nan
    return number


def summary_from_dict(data: dict[str, Any]) -> DriftSummary:
    fields = {k: v for k, v in data.items() if k != "drifted_columns"}
    fields["columns"] = tuple(
        ColumnDrift(**{**c, "score": _number(c.get("score")), "threshold": _number(c.get("threshold"))})
        for c in data.get("columns", [])
    )
    return DriftSummary(**fields)


def write_summary(summary: DriftSummary, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(json_safe(summary_to_dict(summary)), indent=2, sort_keys=True) + "\n")
