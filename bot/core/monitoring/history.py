"""One scheduled check as the monitoring history keeps it: what the dashboard charts and `/metrics` read.

Built from the check's facts and its decision, stored as JSON in the bot's store (`monitoring_checks`).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from bot.core.monitoring.facts import CheckFacts
from bot.core.monitoring.state import MonitorDecision


@dataclass(frozen=True)
class CheckRecord:
    model: str
    check_id: str
    checked_at: str  # ISO 8601, UTC
    drift_share: float | None = None  # share of drifted columns; None: drift not judged
    dataset_drift: bool = False
    drifted_columns: tuple[str, ...] = ()
    performance: dict[str, float] = field(default_factory=dict)  # metric -> value on the labelled rows
    performance_status: str = "off"
    quality_status: str = "off"
    quality_problems: tuple[str, ...] = ()
    champion_version: str = ""
    promoted_at: str = ""
    fired: tuple[str, ...] = ()
    issue: int | None = None
    retrain_pr: int | None = None
    report_url: str = ""  # the link posted for this check's report; "" when none
    schedule: str = ""  # the retrain schedule's verdict, one sentence ("" when off)

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)


def check_record(
    facts: CheckFacts,
    decision: MonitorDecision,
    *,
    issue: int | None,
    retrain_pr: int | None,
    report_url: str,
) -> CheckRecord:
    summary = facts.drift
    scores = facts.performance.scores if facts.performance else ()
    return CheckRecord(
        model=facts.model,
        check_id=facts.check_id,
        checked_at=facts.checked_at,
        drift_share=summary.share_drifted if summary is not None else None,
        dataset_drift=bool(summary and summary.dataset_drift),
        drifted_columns=tuple(summary.drifted_columns) if summary else (),
        performance={s.name: s.value for s in scores if s.value is not None},
        performance_status=decision.performance.status,
        quality_status=decision.quality.status,
        quality_problems=tuple(decision.quality_verdict.problems),
        champion_version=facts.champion.version if facts.champion else "",
        promoted_at=facts.champion.promoted_at if facts.champion else "",
        fired=tuple(decision.fired),
        issue=issue,
        retrain_pr=retrain_pr,
        report_url=report_url,
        schedule=decision.schedule.text if decision.schedule.status != "off" else "",
    )


def record_from_json(text: str) -> CheckRecord:
    data: Mapping[str, Any] = json.loads(text)
    known = {k: v for k, v in data.items() if k in CheckRecord.__dataclass_fields__}
    for key in ("drifted_columns", "quality_problems", "fired"):
        known[key] = tuple(known.get(key) or ())
    return CheckRecord(**known)
