"""Data quality: facts measured with pandas; what they mean is decided in bot.core.monitoring."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from bot.adapters.evidently.columns import TARGET_COLUMN
from bot.core.config import DriftSpec
from bot.core.monitoring import ColumnQuality, QualityFacts

if TYPE_CHECKING:
    import pandas as pd


def quality_columns(reference: pd.DataFrame, spec: DriftSpec, *, label: str | None) -> list[str]:
    """The columns the production data must carry: the compared ones, else the training data's inputs."""
    declared = [*(spec.columns or []), *(spec.numerical_columns or []), *(spec.categorical_columns or [])]
    if declared:
        return list(dict.fromkeys(declared))
    skip = {TARGET_COLUMN, label}
    return [str(c) for c in reference.columns if str(c) not in skip]


def measure_quality(
    reference: pd.DataFrame, current: pd.DataFrame, spec: DriftSpec, *, label: str | None = None
) -> QualityFacts:
    """Schema, empty values, values out of range and repeated rows of `current`, against `reference`."""
    quality = spec.quality
    categorical = set(spec.categorical_columns or [])
    columns: list[ColumnQuality] = []
    for col in quality_columns(reference, spec, label=label):
        expected = _kind(reference[col]) if col in reference.columns else "absent"
        if col not in current.columns:
            columns.append(ColumnQuality(col, expected, "absent", missing_share=1.0))
            continue
        series = current[col]
        missing = float(series.isna().mean()) if len(series) else 0.0
        found = _kind(series) if series.notna().any() else "empty"
        if col in categorical and found in ("number", "text") and expected in ("number", "text"):
            found = expected  # category codes may read as numbers on one side and text on the other
        example = _not_a_number_example(series) if expected == "number" and found == "text" else ""
        share, low, high = None, None, None
        if expected == "number" and found == "number":
            low, high = _allowed_range(reference[col], quality.ranges.get(col), quality.range_margin)
            if low is not None or high is not None:
                share = _outside_share(series, low, high)
        columns.append(ColumnQuality(col, expected, found, missing, share, low, high, example))
    duplicates = None
    if quality.max_duplicate_share is not None:  # hashing every row is the slow part: only when asked for
        duplicates = float(current.duplicated().mean()) if len(current) else 0.0
    return QualityFacts(rows=len(current), duplicate_share=duplicates, columns=tuple(columns))


def _kind(series: pd.Series) -> str:
    import pandas as pd

    if pd.api.types.is_bool_dtype(series):
        return "bool"
    if pd.api.types.is_numeric_dtype(series):
        return "number"
    if pd.api.types.is_datetime64_any_dtype(series):
        return "datetime"
    return "text"


def _not_a_number_example(series: pd.Series) -> str:
    import pandas as pd

    bad = series[pd.to_numeric(series, errors="coerce").isna() & series.notna()]
    return str(bad.iloc[0])[:40] if len(bad) else ""


def _allowed_range(
    reference: pd.Series, explicit: Any, margin: float | None
) -> tuple[float | None, float | None]:
    if explicit is not None:
        return explicit.min, explicit.max
    if margin is None or reference.notna().sum() == 0:
        return None, None
    low, high = float(reference.min()), float(reference.max())
    slack = (high - low) * margin
    return low - slack, high + slack


def _outside_share(series: pd.Series, low: float | None, high: float | None) -> float:
    values = series.dropna()
    if len(values) == 0:
        return 0.0
    below = values < low if low is not None else values < -math.inf
    above = values > high if high is not None else values > math.inf
    return float((below | above).mean())
