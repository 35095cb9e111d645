"""The triggers, their state after a check, and the decision with the metadata the next check reads back."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from bot.core import drift
from bot.core.drift import DriftDecision
from bot.core.markers import drift_marker
from bot.core.models import DriftSummary

if TYPE_CHECKING:
    from bot.core.monitoring.judges import PerformanceVerdict, QualityVerdict, ScheduleVerdict

Trigger = Literal["quality", "drift", "performance", "schedule"]
TRIGGERS: tuple[Trigger, ...] = ("quality", "drift", "performance", "schedule")
RETRAIN_TRIGGERS: tuple[Trigger, ...] = ("drift", "performance", "schedule")
META_VERSION = 2
MAX_LOG = drift.MAX_HISTORY
MAX_PROBLEMS = 20

# The issue's marker is the drift issue's: an existing drift issue becomes the monitoring issue.
issue_marker = drift_marker

TRIGGER_LABELS: dict[Trigger, str] = {
    "quality": "data-quality",
    "drift": "drift",
    "performance": "performance",
    "schedule": "scheduled-retrain",
}
BASE_LABELS = ("mlops-bot", "monitoring")
TITLES: dict[Trigger, str] = {
    "quality": "data quality",
    "drift": "data drift",
    "performance": "performance drop",
    "schedule": "scheduled retrain",
}


Action = Literal["none", "record", "retrain", "clear"]


@dataclass(frozen=True)
class TriggerState:
    """One trigger after this check."""

    trigger: Trigger
    status: (
        str  # this check's verdict (pass, fail, schema-break, drift, clear, skipped, drop, no-labels, ...)
    )
    streak: int = 0  # failing checks in a row (held through checks that could not judge)
    consecutive: int = 1
    fired: bool = False  # the finding counts: shown in the title and labels, fails the check run
    action: Action = "none"
    text: str = ""  # one plain sentence

    @property
    def breaching(self) -> bool:
        return self.status in ("fail", "schema-break", "drift", "drop", "due")


@dataclass(frozen=True)
class LogEntry:
    at: str
    check: str
    statuses: dict[str, str]
    note: str = ""

    def to_json(self) -> dict[str, Any]:
        return {"at": self.at, "check": self.check, "statuses": dict(self.statuses), "note": self.note}

    @classmethod
    def from_json(cls, data: Any) -> LogEntry | None:
        if not isinstance(data, dict) or not isinstance(data.get("statuses"), dict):
            return None
        return cls(
            at=str(data.get("at", "")),
            check=str(data.get("check", "")),
            statuses={str(k): str(v) for k, v in data["statuses"].items()},
            note=str(data.get("note", "")),
        )


@dataclass(frozen=True)
class MonitorDecision:
    model: str
    check_id: str
    checked_at: str
    quality: TriggerState
    drift: TriggerState
    performance: TriggerState
    schedule: TriggerState
    quality_verdict: QualityVerdict
    performance_verdict: PerformanceVerdict
    schedule_verdict: ScheduleVerdict
    drift_decision: DriftDecision | None  # None when drift was not judged
    drift_summary: DriftSummary | None
    retrain_pr: int | None  # the open retrain PR recorded by earlier checks
    schedule_fired_for: str | None  # the champion version the schedule already opened a PR for
    log: tuple[LogEntry, ...]  # oldest first, this check last
    before: dict[str, Any]  # the state before this check, so the same check judged again decides the same
    carried_drift: dict[str, Any] = field(
        default_factory=dict
    )  # drift's keys, kept when drift was not judged
    champion_version: str | None = None  # the version this check judged; another one starts clean

    @property
    def states(self) -> tuple[TriggerState, ...]:
        return (self.quality, self.drift, self.performance, self.schedule)

    @property
    def fired(self) -> tuple[Trigger, ...]:
        return tuple(s.trigger for s in self.states if s.fired)

    @property
    def retrain(self) -> bool:
        """Commit a new retrain snapshot and open (or update) the retrain PR."""
        return any(s.action == "retrain" for s in self.states if s.trigger in RETRAIN_TRIGGERS)

    @property
    def retrain_active(self) -> bool:
        """A retrain PR is wanted (just now or since an earlier check)."""
        return any(s.fired for s in self.states if s.trigger in RETRAIN_TRIGGERS)

    @property
    def worth_an_issue(self) -> bool:
        """Open an issue when there is none yet: something breached, or the retrain PR needs a home."""
        return any(s.breaching or s.fired for s in self.states)

    @property
    def conclusion(self) -> Literal["success", "neutral", "failure"]:
        """Of the check run: failure when a finding counts (except the schedule, which is no fault); neutral
        while one is pending, when due, or when the data could not be judged; success otherwise."""
        if any(s.fired for s in self.states if s.trigger != "schedule"):
            return "failure"
        if any(s.breaching for s in self.states) or self.performance.status in ("no-labels", "unavailable"):
            return "neutral"
        return "success"

    def retrain_reasons(self) -> list[str]:
        """Why a retrain PR is open: one plain sentence per trigger that fired."""
        reasons = []
        if self.drift.fired and self.drift_summary is not None:
            cols = self.drift_summary.drifted_columns
            shown = ", ".join(cols[:5]) + (f" and {len(cols) - 5} more" if len(cols) > 5 else "")
            reasons.append(f"data drift for {self.drift.streak} checks in a row, in {shown or 'the data'}")
        elif self.drift.fired:
            reasons.append(f"data drift for {self.drift.streak} checks in a row")
        if self.performance.fired:
            drops = [line.text for line in self.performance_verdict.drops]
            detail = "; ".join(drops) if drops else "see the monitoring issue"
            reasons.append(f"performance dropped for {self.performance.streak} checks in a row: {detail}")
        if self.schedule.fired:
            reasons.append(f"scheduled retrain: {self.schedule_verdict.text or 'due'}")
        return reasons

    def metadata(self, *, retrain_pr: int | None = None) -> dict[str, Any]:
        """What the next check reads back (`decode_metadata`). The drift keys of version 1 stay at the top."""
        pr = retrain_pr if retrain_pr is not None else self.retrain_pr
        data = dict(self.carried_drift)
        if self.drift_decision is not None:
            data = self.drift_decision.metadata(self.model)
        data.update(
            {
                "v": META_VERSION,
                "model": self.model,
                "retrain_pr": pr if self.retrain_active else None,
                "quality": {"streak": self.quality.streak, "state": self.quality.status},
                "performance": {"streak": self.performance.streak, "state": held_status(self.performance)},
                "schedule": {"fired_for": self.schedule_fired_for},
                "log": [e.to_json() for e in self.log],
                "check": self.check_id,
                "champion": self.champion_version,
                "before": self.before,
            }
        )
        return data


def held_status(state: TriggerState) -> str:
    """The performance state the next check starts from: a check that could not judge keeps the last one."""
    if state.status == "drop" or (state.status in ("no-labels", "unavailable") and state.streak > 0):
        return "drop"
    return "clear"
