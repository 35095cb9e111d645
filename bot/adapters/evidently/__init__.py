"""Drift checks with Evidently 0.7 (new API), the data-quality and performance facts, and the tables they read.

`run_drift` (`report`) compares two DataFrames column by column (`columns` chooses them) and flattens
Evidently's snapshot into a `DriftSummary`; `load_table` / `reference_at` (`tables`) read CSV or Parquet
from the workspace or through DVC; `quality` and `performance` measure the facts bot.core.monitoring judges.
`EvidentlyChecks` (`checks`) is all of it behind the drift check's port, `bot.ports.DriftChecks`.
Every problem a user can cause with their data surfaces as a `DriftDataError` naming the file,
the column and what was wrong; a bad drift section of the config surfaces as a `DriftConfigError`.
pandas, evidently and dvc are imported inside the functions: importing this package is cheap.
"""

from __future__ import annotations

from bot.adapters.evidently.checks import EvidentlyChecks
from bot.adapters.evidently.errors import DriftConfigError, DriftDataError, DriftError
from bot.adapters.evidently.performance import Predict, measure_performance, score
from bot.adapters.evidently.quality import measure_quality
from bot.adapters.evidently.report import run_drift, summary_from_dict
from bot.adapters.evidently.tables import load_table, reference_at
from bot.core.drift_values import json_safe, summary_to_dict

__all__ = [
    "DriftConfigError",
    "DriftDataError",
    "DriftError",
    "EvidentlyChecks",
    "Predict",
    "json_safe",
    "load_table",
    "measure_performance",
    "measure_quality",
    "reference_at",
    "run_drift",
    "score",
    "summary_from_dict",
    "summary_to_dict",
]
