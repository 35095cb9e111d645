"""The Evidently adapter behind `bot.ports.DriftChecks`: the tables are pandas DataFrames, read from the
workspace, through DVC at a revision, or from the service's traffic log; quality, drift and performance are
measured by this package's functions."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from bot.adapters.evidently.performance import Predict, measure_performance
from bot.adapters.evidently.quality import measure_quality
from bot.adapters.evidently.report import run_drift
from bot.adapters.evidently.served import current_table, record_check
from bot.adapters.evidently.tables import reference_at
from bot.core.config import DriftSpec, PerformanceSpec
from bot.core.models import DriftSummary
from bot.core.monitoring import PerformanceFacts, QualityFacts
from bot.core.monitoring.served import ServedFacts

if TYPE_CHECKING:
    import pandas as pd


class EvidentlyChecks:
    """What the scheduled drift check measures, with pandas and Evidently."""

    def reference(self, root: Path, path: str, rev: str) -> pd.DataFrame:
        return reference_at(root, path, rev)

    def current(
        self, drift: DriftSpec, *, root: Path, model: str, now: dt.datetime, label: str | None
    ) -> tuple[pd.DataFrame, ServedFacts | None]:
        return current_table(drift, root=root, model=model, now=now, label=label)

    def rows(self, table: pd.DataFrame) -> int:
        return len(table)

    def quality(
        self, reference: pd.DataFrame, current: pd.DataFrame, drift: DriftSpec, *, label: str | None
    ) -> QualityFacts:
        return measure_quality(reference, current, drift, label=label)

    def drift(
        self,
        reference: pd.DataFrame,
        current: pd.DataFrame,
        drift: DriftSpec,
        *,
        model: str,
        out_dir: Path,
        leave_out: Sequence[str] = (),
    ) -> DriftSummary:
        def kept(frame: pd.DataFrame) -> pd.DataFrame:
            return frame.drop(columns=[c for c in leave_out if c in frame.columns])

        return run_drift(kept(reference), kept(current), drift, model=model, out_dir=out_dir)

    def performance(
        self, current: pd.DataFrame, spec: PerformanceSpec, predict: Predict | None, *, unavailable: str
    ) -> PerformanceFacts:
        return measure_performance(current, spec, predict, unavailable=unavailable)

    def record_check(self, drift: DriftSpec, served: ServedFacts, *, root: Path, model: str) -> None:
        record_check(drift, served, root=root, model=model)
