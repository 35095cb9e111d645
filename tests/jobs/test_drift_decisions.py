"""What the scheduled drift check decides before and after asking Evidently, tested through a small fake of
its port (`bot.ports.DriftChecks`): which measures it asks for, in which order, and what it never asks for on
broken data. The real Evidently runs in test_monitoring.py and tests/adapters/test_evidently.py.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from bot.core.config import DriftSpec, PerformanceSpec, load_config
from bot.core.models import DriftSummary
from bot.core.monitoring import ColumnQuality, MetricScore, PerformanceFacts, QualityFacts
from bot.core.monitoring.served import ServedFacts
from bot.jobs.drift import check_json, monitor

CONFIG = """\
models:
  - name: churn
    stage: train
    output: model.pkl
    metrics:
      - name: accuracy
    drift:
      current: {current}
      reference: data/train.csv
      performance:
        label: target
        metrics:
          - name: accuracy
"""

NOW = dt.datetime(2026, 12, 3, 12, 0, tzinfo=dt.UTC)


@dataclasses.dataclass
class FakeChecks:
    """The data and measures of one check; `calls` says what the job asked for, in order."""

    schema_broken: bool = False
    served: bool = False
    calls: list[str] = dataclasses.field(default_factory=list)
    left_out: Sequence[str] = ()

    def reference(self, root: Path, path: str, rev: str) -> str:
        self.calls.append(f"reference {path}@{rev}")
        return "reference-table"

    def current(
        self, drift: DriftSpec, *, root: Path, model: str, now: dt.datetime, label: str | None
    ) -> tuple[str, ServedFacts | None]:
        self.calls.append(f"current label={label}")
        served = (
            ServedFacts("2026-12-02T12:00:00+00:00", "2026-12-03T12:00:00+00:00", "last 1d", 40)
            if self.served
            else None
        )
        return "current-table", served

    def rows(self, table: str) -> int:
        return 40

    def quality(self, reference: str, current: str, drift: DriftSpec, *, label: str | None) -> QualityFacts:
        self.calls.append("quality")
        found = "absent" if self.schema_broken else "number"
        return QualityFacts(
            rows=40, duplicate_share=None, columns=(ColumnQuality("tenure", "number", found),)
        )

    def drift(
        self,
        reference: str,
        current: str,
        drift: DriftSpec,
        *,
        model: str,
        out_dir: Path,
        leave_out: Sequence[str] = (),
    ) -> DriftSummary:
        self.calls.append("drift")
        self.left_out = leave_out
        return DriftSummary(model, False, 0.0, drift.drift_share, (), 100, 40, 100, 40)

    def performance(
        self, current: str, spec: PerformanceSpec, predict: Any, *, unavailable: str
    ) -> PerformanceFacts:
        self.calls.append("performance")
        return PerformanceFacts("scored", spec.label, 40, 40, (MetricScore("accuracy", predict(current)),))

    def record_check(self, drift: DriftSpec, served: ServedFacts, *, root: Path, model: str) -> None:
        self.calls.append("record_check")


def _monitor(tmp_path: Path, checks: FakeChecks, predicted: list[str]) -> Any:
    current = "served" if checks.served else "data/current.csv"
    config = load_config(CONFIG.format(current=current))

    def predict(table: Any) -> float:
        predicted.append(table)
        return 0.8

    return monitor(
        tmp_path,
        config,
        model="churn",
        reference_rev="c0ffee",
        out_dir=tmp_path / "out",
        predict=predict,
        now=NOW,
        check_id="check-1",
        checks=checks,
    )


def test_a_healthy_check_compares_the_inputs_only_then_scores_the_champion(tmp_path: Path) -> None:
    checks, predicted = FakeChecks(), []
    facts = _monitor(tmp_path, checks, predicted)
    assert checks.calls == [
        "reference data/train.csv@c0ffee",
        "current label=target",
        "quality",
        "drift",
        "performance",
    ]
    assert list(checks.left_out) == ["target"]  # the label is what the model predicts, not an input
    assert predicted == ["current-table"]
    assert facts.drift is not None and facts.performance.status == "scored"


@pytest.mark.parametrize("served", [False, True])
def test_a_broken_schema_is_never_judged_for_drift_nor_the_champion_scored_on_it(
    tmp_path: Path, served: bool
) -> None:
    checks, predicted = FakeChecks(schema_broken=True, served=served), []
    facts = _monitor(tmp_path, checks, predicted)
    assert "drift" not in checks.calls and "performance" not in checks.calls and predicted == []
    assert facts.drift is None
    assert (
        facts.drift_skipped == "the data's schema is broken: column 'tenure' of the training data is missing"
    )
    assert facts.performance.status == "unavailable"
    assert facts.performance.note.startswith("the data's schema is broken")
    # The window of served traffic was read and reported: the next `since-last-check` starts after it.
    assert checks.calls[-1:] == (["record_check"] if served else ["quality"])
    assert '"dataset_drift": false' in check_json(facts)  # the summary keeps its keys for the workflow
