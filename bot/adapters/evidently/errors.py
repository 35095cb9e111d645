"""What a user can get wrong with drift data or the drift config: the exceptions are values of
bot/core/drift_values.py (the Evidently port raises them), re-exported for the adapter's modules."""

from __future__ import annotations

from bot.core.drift_values import DriftConfigError, DriftDataError, DriftError

__all__ = ["DriftConfigError", "DriftDataError", "DriftError"]
