"""The drift check's values that cross the Evidently port (`bot.ports.DriftChecks`): what a user can get wrong
with drift data or the drift config, each as an exception naming the fix, and the JSON form of a summary."""

from __future__ import annotations

import math
from dataclasses import asdict
from typing import Any

from bot.core.models import DriftSummary


class DriftError(Exception):
    """A drift check that cannot run because of something the user can fix."""


class DriftDataError(DriftError):
    """The reference or current data cannot be compared: the message says which file/column and why."""


class DriftConfigError(DriftError):
    """The drift section of the config cannot be used (unknown model, unknown method, ...)."""


def summary_to_dict(summary: DriftSummary) -> dict[str, Any]:
    """The JSON form of a summary (what `mlops-bot drift --json` writes and the workflow reads back)."""
    data = asdict(summary)
    data["columns"] = [asdict(c) for c in summary.columns]
    data["drifted_columns"] = summary.drifted_columns
    return data


def json_safe(value: Any) -> Any:
    """NaN is not JSON: a score Evidently could not compute is written as null."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: json_safe(v) for k, v in value.items()}
    if isinstance(value, list):
        return [json_safe(v) for v in value]
    return value
