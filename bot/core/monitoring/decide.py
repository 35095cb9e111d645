"""Hysteresis across checks, and the decision of what to do."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from bot.core import drift
from bot.core.config import DriftSpec
from bot.core.drift import DriftDecision
from bot.core.models import DriftSummary
from bot.core.monitoring.facts import CheckFacts
from bot.core.monitoring.judges import (
    PerformanceVerdict,
    QualityVerdict,
    judge_performance,
    judge_quality,
    judge_schedule,
)
from bot.core.monitoring.state import MAX_LOG, Action, LogEntry, MonitorDecision, TriggerState
from bot.core.monitoring.values import as_dict, as_list, as_non_negative_int, as_positive_int


def decide(
    facts: CheckFacts, spec: DriftSpec, previous: Mapping[str, Any], *, now: dt.datetime
) -> MonitorDecision:
    """Judge one check given the metadata of the model's issue ({} when there is none). `now` is the
    schedule's clock (a check's own time when it has one)."""
    previous = _as_of_before(facts.check_id, previous)
    before = _snapshot(previous)
    champion_version = facts.champion.version if facts.champion else None
    previous = _for_champion(previous, champion_version)
    prev_pr = as_positive_int(previous.get("retrain_pr"))

    quality_verdict = judge_quality(facts.quality, spec.quality)
    quality = _quality_state(quality_verdict, as_dict(previous.get("quality")), spec.quality.consecutive)

    drift_decision: DriftDecision | None = None
    if facts.drift is not None and quality_verdict.status != "schema-break":
        drift_decision = drift.decide(
            facts.drift, previous, consecutive=spec.consecutive, checked_at=facts.checked_at
        )
        drift_state = TriggerState(
            "drift",
            "drift" if drift_decision.breach else "clear",
            drift_decision.streak,
            spec.consecutive,
            fired=drift_decision.persistent,
            action=drift_decision.action,
            text=_drift_text(facts.drift, drift_decision),
        )
        drift_summary: DriftSummary | None = facts.drift
    else:
        streak = as_non_negative_int(previous.get("streak"))
        why = facts.drift_skipped or "the data's schema is broken"
        drift_state = TriggerState("drift", "skipped", streak, spec.consecutive, text=f"not judged: {why}")
        drift_summary = None

    performance_verdict = judge_performance(facts.performance, spec.performance, facts.champion)
    performance = _performance_state(
        performance_verdict,
        as_dict(previous.get("performance")),
        spec.performance.consecutive if spec.performance else 1,
        retrain_pr_known=prev_pr is not None,
    )

    schedule_verdict = judge_schedule(spec.retrain.schedule, facts.champion, now)
    fired_for = as_dict(previous.get("schedule")).get("fired_for")
    fired_for = str(fired_for) if fired_for else None
    schedule = TriggerState("schedule", schedule_verdict.status, text=schedule_verdict.text)
    if schedule_verdict.status == "due":
        # Once per champion: a declined (closed) schedule PR is not reopened until a new champion serves.
        first = fired_for != champion_version
        schedule = replace(schedule, fired=True, action="retrain" if first else "record", streak=1)
        fired_for = champion_version
    elif fired_for != champion_version:
        fired_for = None

    states = {"quality": quality, "drift": drift_state, "performance": performance, "schedule": schedule}
    entry = LogEntry(
        at=facts.checked_at,
        check=facts.check_id,
        statuses={name: state.status for name, state in states.items()},
        note=_log_note(quality_verdict, drift_summary, performance_verdict)[:200],
    )
    log = [e for e in (LogEntry.from_json(x) for x in as_list(previous.get("log"))) if e is not None]
    return MonitorDecision(
        model=facts.model,
        check_id=facts.check_id,
        checked_at=facts.checked_at,
        quality=quality,
        drift=drift_state,
        performance=performance,
        schedule=schedule,
        quality_verdict=quality_verdict,
        performance_verdict=performance_verdict,
        schedule_verdict=schedule_verdict,
        drift_decision=drift_decision,
        drift_summary=drift_summary,
        retrain_pr=prev_pr,
        schedule_fired_for=fired_for,
        champion_version=champion_version,
        log=tuple([*log, entry][-MAX_LOG:]),
        before=before,
        carried_drift={}
        if drift_decision is not None
        else {k: previous[k] for k in ("streak", "state", "history") if k in previous},
    )


def _quality_state(verdict: QualityVerdict, previous: Mapping[str, Any], consecutive: int) -> TriggerState:
    prev_streak = as_non_negative_int(previous.get("streak"))
    prev_state = previous.get("state")
    text = "; ".join(verdict.problems) or _QUALITY_TEXT.get(verdict.status, "")
    if verdict.status == "schema-break":
        # Broken data is reported at once: waiting for a second broken batch helps nobody.
        return TriggerState("quality", "schema-break", prev_streak + 1, 1, True, "record", text)
    if verdict.status == "fail":
        streak = prev_streak + 1
        return TriggerState("quality", "fail", streak, consecutive, streak >= consecutive, "record", text)
    was_failing = prev_state in ("fail", "schema-break") or prev_streak > 0
    return TriggerState(
        "quality", verdict.status, 0, consecutive, action="clear" if was_failing else "none", text=text
    )


_QUALITY_TEXT = {"pass": "every configured check passes", "off": "no checks configured"}


def _performance_state(
    verdict: PerformanceVerdict, previous: Mapping[str, Any], consecutive: int, *, retrain_pr_known: bool
) -> TriggerState:
    prev_streak = as_non_negative_int(previous.get("streak"))
    prev_dropped = previous.get("state") == "drop" or prev_streak > 0
    if verdict.status == "drop":
        streak = prev_streak + 1
        persistent = streak >= consecutive
        newly = persistent and prev_streak < consecutive
        action: Action = "retrain" if persistent and (newly or not retrain_pr_known) else "record"
        text = _with_note("; ".join(line.text for line in verdict.drops), verdict.note)
        return TriggerState("performance", "drop", streak, consecutive, persistent, action, text)
    if verdict.status == "pass":
        text = _with_note("; ".join(line.text for line in verdict.lines), verdict.note)
        return TriggerState(
            "performance", "pass", 0, consecutive, action="clear" if prev_dropped else "none", text=text
        )
    if verdict.status == "off":
        return TriggerState("performance", "off", 0, consecutive, text="not configured")
    # No labels (or no champion to score): not a pass. The streak is held, neither cleared nor extended.
    held = prev_streak >= consecutive and previous.get("state") == "drop"
    return TriggerState(
        "performance",
        verdict.status,
        prev_streak,
        consecutive,
        fired=held,
        text=verdict.note or verdict.status,
    )


def _with_note(text: str, note: str) -> str:
    return f"{text} ({note})" if note else text


def _drift_text(summary: DriftSummary, decision: DriftDecision) -> str:
    drifted, total = len(summary.drifted_columns), len(summary.columns)
    share = f"{drifted} of {total} column(s) drifted ({summary.share_drifted:.0%}; counts from {summary.drift_share:.0%})"
    if decision.persistent:
        return f"drift for {decision.streak} checks in a row: {share}"
    if decision.breach:
        return f"possible drift (check {decision.streak} of {decision.consecutive}): {share}"
    return f"no drift: {share}"


def _log_note(quality: QualityVerdict, summary: DriftSummary | None, performance: PerformanceVerdict) -> str:
    parts = []
    if quality.problems:
        parts.append(quality.problems[0])
    if summary is not None and summary.drifted_columns:
        parts.append("drifted: " + ", ".join(summary.drifted_columns[:5]))
    parts.extend(line.text for line in performance.drops[:1])
    return "; ".join(parts)


def _as_of_before(check_id: str, previous: Mapping[str, Any]) -> dict[str, Any]:
    """The metadata as it was before this check, when this very check was already recorded (a re-run)."""
    data = dict(previous)
    before = data.get("before")
    if not check_id or data.get("check") != check_id or not isinstance(before, dict):
        return data
    restored = {**as_dict(before.get("drift_meta")), **{k: v for k, v in before.items() if k != "drift_meta"}}
    for key in ("log", "history"):
        if key in data:
            restored[key] = as_list(data[key])[: as_non_negative_int(before.get(f"{key}_len"))]
    return restored


# What a check keeps of the metadata when the champion it judged is no longer champion: the log and the drift
# history stay readable, and the schedule knows for whom it fired; every streak, state and the retrain PR was
# about the old champion (its retrain merged, or it was rolled back), so the new one starts clean.
_KEPT_FOR_A_NEW_CHAMPION = ("v", "model", "log", "history", "schedule")


def _for_champion(previous: Mapping[str, Any], champion_version: str | None) -> dict[str, Any]:
    judged = previous.get("champion")
    if not judged or not champion_version or str(judged) == champion_version:
        return dict(previous)
    return {k: v for k, v in previous.items() if k in _KEPT_FOR_A_NEW_CHAMPION}


def _snapshot(previous: Mapping[str, Any]) -> dict[str, Any]:
    """The compact state a re-run of this check starts from again (histories by length, not by copy)."""
    return {
        "drift_meta": {k: previous[k] for k in ("streak", "state", "retrain_pr") if k in previous},
        "quality": as_dict(previous.get("quality")),
        "performance": as_dict(previous.get("performance")),
        "schedule": as_dict(previous.get("schedule")),
        "log_len": len(as_list(previous.get("log"))),
        "history_len": len(as_list(previous.get("history"))),
        "check": previous.get("check"),
        "champion": previous.get("champion"),
    }
