"""Continuous-training triggers beyond drift, and the one monitoring issue per model that holds them all.

A scheduled check of production data (`mlops-bot drift`) measures facts; this module judges them:

- **quality**: the data's schema against the champion's training data, missing values, out-of-range values,
  duplicated rows. A schema break is reported at once and stops the drift check (drift on broken data is not
  drift); other failures count after `quality.consecutive` checks. Quality never retrains: it asks a human
  to fix the data.
- **drift**: `bot.core.drift.decide`, unchanged (N consecutive breaching checks).
- **performance**: the champion scored on labelled production rows, each metric judged against the value
  its run recorded at promotion, with the promotion gates' direction/tolerance vocabulary
  (`bot.core.gates`). N consecutive drops open a retrain PR. A check without labels is "no labels": not a
  pass, so it neither clears nor extends a streak.
- **schedule**: a retrain PR once the champion has served `retrain.schedule.every`, once per champion.

The state of every trigger lives in the hidden metadata block of the model's issue (the drift issue's marker
and its version-1 keys are kept, so an existing drift history carries over). A check is identified by its
`check_id`: judging the same check again yields the same decision and the same texts, so a re-run of
`drift-report` changes nothing.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, replace
from typing import Any, Literal

from bot.core import drift
from bot.core.config import DriftSpec, ModelSpec, PerformanceSpec, Promotion, QualitySpec, RetrainSchedule
from bot.core.drift import DriftDecision
from bot.core.gates import evaluate, fmt
from bot.core.markdown import COMMENT_LIMIT, code, escape_md, fit, render_template, squeeze_blank_lines
from bot.core.markers import drift_marker, reply_marker, retrain_marker
from bot.core.models import DriftSummary

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
_TITLES: dict[Trigger, str] = {
    "quality": "data quality",
    "drift": "data drift",
    "performance": "performance drop",
    "schedule": "scheduled retrain",
}


# ---------------------------------------------------------------------------------------------------------
# Facts: what `mlops-bot drift` measured, as written in its JSON summary.


@dataclass(frozen=True)
class ColumnQuality:
    """One column of the champion's training data, as found in production."""

    column: str
    expected: str  # kind in the training data: number | text | bool | datetime
    found: str  # kind in production, or "absent"
    missing_share: float = 0.0
    out_of_range_share: float | None = None  # None: no range applies to this column
    low: float | None = None
    high: float | None = None
    example: str = ""  # a value that breaks the type, for the message


@dataclass(frozen=True)
class QualityFacts:
    rows: int
    duplicate_share: float | None  # None: not measured (no threshold configured)
    columns: tuple[ColumnQuality, ...]


@dataclass(frozen=True)
class MetricScore:
    name: str
    value: float | None  # None: not computable on these rows (one class only, say)


@dataclass(frozen=True)
class PerformanceFacts:
    status: Literal["scored", "no-labels", "unavailable"]
    label: str
    rows: int = 0
    labelled_rows: int = 0
    scores: tuple[MetricScore, ...] = ()
    note: str = ""  # why there are no labels, or why the champion could not be scored


@dataclass(frozen=True)
class ChampionFacts:
    version: str
    promoted_at: str = ""  # ISO 8601; "" when the registry does not say
    promoted_at_source: str = ""  # where promoted_at came from (a tag, or the version's creation)
    metrics: dict[str, float] = field(default_factory=dict)  # recorded by its run at promotion


@dataclass(frozen=True)
class CheckFacts:
    model: str
    check_id: str
    checked_at: str
    drift: DriftSummary | None  # None: not judged (the data's schema is broken)
    quality: QualityFacts | None = None  # None: not measured (a summary written before quality checks)
    performance: PerformanceFacts | None = None  # None: not configured
    champion: ChampionFacts | None = None
    drift_skipped: str = ""  # why drift was not judged


def facts_to_dict(facts: CheckFacts) -> dict[str, Any]:
    """The new keys of the JSON summary (next to the drift summary's own keys, which stay as they were)."""
    return {
        "check_id": facts.check_id,
        "checked_at": facts.checked_at,
        "drift_skipped": facts.drift_skipped,
        "quality": asdict(facts.quality) if facts.quality else None,
        "performance": asdict(facts.performance) if facts.performance else None,
        "champion": asdict(facts.champion) if facts.champion else None,
    }


def facts_from_dict(data: Mapping[str, Any], drift_summary: DriftSummary | None) -> CheckFacts:
    """The inverse of `facts_to_dict`; a summary from before these keys existed reads as a drift-only check."""
    quality = data.get("quality")
    performance = data.get("performance")
    champion = data.get("champion")
    return CheckFacts(
        model=str(data.get("model", "")),
        check_id=str(data.get("check_id") or ""),
        checked_at=str(data.get("checked_at") or ""),
        drift=None if data.get("drift_skipped") else drift_summary,
        drift_skipped=str(data.get("drift_skipped") or ""),
        quality=QualityFacts(
            rows=int(quality.get("rows", 0)),
            duplicate_share=_float(quality.get("duplicate_share")),
            columns=tuple(
                ColumnQuality(**{k: v for k, v in c.items() if k in ColumnQuality.__dataclass_fields__})
                for c in quality.get("columns", [])
            ),
        )
        if isinstance(quality, dict)
        else None,
        performance=PerformanceFacts(
            **{
                **{k: v for k, v in performance.items() if k in PerformanceFacts.__dataclass_fields__},
                "scores": tuple(
                    MetricScore(str(s.get("name")), _float(s.get("value")))
                    for s in performance.get("scores", [])
                ),
            }
        )
        if isinstance(performance, dict)
        else None,
        champion=ChampionFacts(
            **{k: v for k, v in champion.items() if k in ChampionFacts.__dataclass_fields__}
        )
        if isinstance(champion, dict)
        else None,
    )


# ---------------------------------------------------------------------------------------------------------
# Verdicts of one check, before hysteresis. Each `problems`/`lines` entry is a plain sentence.


@dataclass(frozen=True)
class QualityVerdict:
    status: Literal["pass", "fail", "schema-break", "off"]
    problems: tuple[str, ...] = ()


def judge_quality(facts: QualityFacts | None, spec: QualitySpec) -> QualityVerdict:
    if facts is None:
        return QualityVerdict("off")
    schema = [_schema_problem(c) for c in facts.columns] if spec.check_schema else []
    schema_problems = [p for p in schema if p]
    if schema_problems:
        return QualityVerdict("schema-break", tuple(schema_problems[:MAX_PROBLEMS]))
    problems: list[str] = []
    present = [c for c in facts.columns if c.found != "absent"]
    for c in present:
        limit = spec.per_column_max_missing.get(c.column, spec.max_missing_share)
        if limit is not None and c.missing_share > limit:
            problems.append(
                f"column {c.column!r} is {_pct(c.missing_share)} empty (at most {_pct(limit)} allowed)"
            )
    for c in present:
        if c.out_of_range_share is not None and c.out_of_range_share > spec.max_out_of_range_share:
            problems.append(
                f"column {c.column!r} has {_pct(c.out_of_range_share)} of its values outside "
                f"{_range(c.low, c.high)} (at most {_pct(spec.max_out_of_range_share)} allowed)"
            )
    duplicates = facts.duplicate_share
    if (
        spec.max_duplicate_share is not None
        and duplicates is not None
        and duplicates > spec.max_duplicate_share
    ):
        problems.append(
            f"{_pct(duplicates)} of the rows repeat an earlier row "
            f"(at most {_pct(spec.max_duplicate_share)} allowed)"
        )
    checks_configured = (
        spec.check_schema
        or spec.max_missing_share is not None
        or bool(spec.per_column_max_missing)
        or any(c.out_of_range_share is not None for c in facts.columns)
        or spec.max_duplicate_share is not None
    )
    if problems:
        return QualityVerdict("fail", tuple(problems[:MAX_PROBLEMS]))
    return QualityVerdict("pass" if checks_configured else "off")


def _schema_problem(c: ColumnQuality) -> str:
    if c.found == "absent":
        return f"column {c.column!r} of the training data is missing"
    if c.found == "empty":
        return f"column {c.column!r} has no values at all"
    if c.found != c.expected:
        example = f", e.g. {c.example!r}," if c.example else ""
        return f"column {c.column!r} holds {c.found} values{example} where the training data has {c.expected}"
    return ""


@dataclass(frozen=True)
class MetricLine:
    name: str
    value: float | None
    reference: float | None
    passed: bool
    text: str


@dataclass(frozen=True)
class PerformanceVerdict:
    status: Literal["pass", "drop", "no-labels", "unavailable", "off"]
    lines: tuple[MetricLine, ...] = ()
    note: str = ""

    @property
    def drops(self) -> tuple[MetricLine, ...]:
        return tuple(line for line in self.lines if not line.passed)


def judge_performance(
    facts: PerformanceFacts | None, spec: PerformanceSpec | None, champion: ChampionFacts | None
) -> PerformanceVerdict:
    """Each configured metric on production data against the champion's recorded value, judged as the
    promotion gate judges a candidate (so the sentences read the same on a card and on the issue)."""
    if spec is None:
        return PerformanceVerdict("off")
    if facts is None:
        return PerformanceVerdict("unavailable", note="the check did not score the champion")
    if facts.status != "scored":
        return PerformanceVerdict(facts.status, note=facts.note)
    values = {s.name: s.value for s in facts.scores}
    recorded = champion.metrics if champion is not None else {}
    lines: list[MetricLine] = []
    for metric in spec.metrics:
        value = values.get(metric.name)
        reference = _float(recorded.get(metric.name))
        if value is None or not math.isfinite(value):
            lines.append(
                MetricLine(
                    metric.name, None, reference, True, f"{metric.name} could not be computed on these rows"
                )
            )
            continue
        # A throwaway model holding just this metric: the promotion gate's own judgement, reused.
        gate = ModelSpec(name="production", stage="-", output="-", metrics=[metric])
        decision = evaluate(
            gate,
            {metric.name: value},
            dict(recorded) if champion is not None else None,
            promotion=Promotion(),
        )
        failed = decision.failures
        reasons = [v.reason for v in (failed or decision.verdicts[-1:])]
        lines.append(MetricLine(metric.name, value, reference, not failed, "; ".join(reasons)))
    if all(line.value is None for line in lines):
        return PerformanceVerdict("unavailable", tuple(lines), note="no metric could be computed")
    status: Literal["pass", "drop"] = "drop" if any(not line.passed for line in lines) else "pass"
    return PerformanceVerdict(status, tuple(lines))


@dataclass(frozen=True)
class ScheduleVerdict:
    status: Literal["due", "not-due", "no-champion", "off"]
    due_at: str = ""
    text: str = ""


def judge_schedule(
    schedule: RetrainSchedule | None, champion: ChampionFacts | None, now: dt.datetime
) -> ScheduleVerdict:
    """Due once the champion has served `every` since its promotion (read from the registry)."""
    if schedule is None:
        return ScheduleVerdict("off")
    promoted = parse_time(champion.promoted_at) if champion is not None else None
    if champion is None or promoted is None:
        why = "no champion in the registry" if champion is None else "the registry does not say when"
        return ScheduleVerdict("no-champion", text=f"no promotion time to count from: {why}")
    due_at = promoted + schedule.interval
    since = f"version {champion.version} is champion since {_day(promoted)}; schedule every {schedule.every}"
    if _utc(now) >= due_at:
        return ScheduleVerdict("due", due_at.isoformat(), f"retrain was due on {_day(due_at)} ({since})")
    return ScheduleVerdict("not-due", due_at.isoformat(), f"next retrain due on {_day(due_at)} ({since})")


# ---------------------------------------------------------------------------------------------------------
# Hysteresis across checks, and the decision of what to do.

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
                "performance": {"streak": self.performance.streak, "state": _held(self.performance)},
                "schedule": {"fired_for": self.schedule_fired_for},
                "log": [e.to_json() for e in self.log],
                "check": self.check_id,
                "before": self.before,
            }
        )
        return data


def decide(
    facts: CheckFacts, spec: DriftSpec, previous: Mapping[str, Any], *, now: dt.datetime
) -> MonitorDecision:
    """Judge one check given the metadata of the model's issue ({} when there is none). `now` is the
    schedule's clock (a check's own time when it has one)."""
    previous = _as_of_before(facts.check_id, previous)
    before = _snapshot(previous)
    prev_pr = _positive_int(previous.get("retrain_pr"))

    quality_verdict = judge_quality(facts.quality, spec.quality)
    quality = _quality_state(quality_verdict, _dict(previous.get("quality")), spec.quality.consecutive)

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
        streak = _non_negative_int(previous.get("streak"))
        why = facts.drift_skipped or "the data's schema is broken"
        drift_state = TriggerState("drift", "skipped", streak, spec.consecutive, text=f"not judged: {why}")
        drift_summary = None

    performance_verdict = judge_performance(facts.performance, spec.performance, facts.champion)
    performance = _performance_state(
        performance_verdict,
        _dict(previous.get("performance")),
        spec.performance.consecutive if spec.performance else 1,
        retrain_pr_known=prev_pr is not None,
    )

    schedule_verdict = judge_schedule(spec.retrain.schedule, facts.champion, now)
    fired_for = _dict(previous.get("schedule")).get("fired_for")
    fired_for = str(fired_for) if fired_for else None
    champion_version = facts.champion.version if facts.champion else None
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
    log = [e for e in (LogEntry.from_json(x) for x in _list(previous.get("log"))) if e is not None]
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
        log=tuple([*log, entry][-MAX_LOG:]),
        before=before,
        carried_drift={}
        if drift_decision is not None
        else {k: previous[k] for k in ("streak", "state", "history") if k in previous},
    )


def _quality_state(verdict: QualityVerdict, previous: Mapping[str, Any], consecutive: int) -> TriggerState:
    prev_streak = _non_negative_int(previous.get("streak"))
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
    prev_streak = _non_negative_int(previous.get("streak"))
    prev_dropped = previous.get("state") == "drop" or prev_streak > 0
    if verdict.status == "drop":
        streak = prev_streak + 1
        persistent = streak >= consecutive
        newly = persistent and prev_streak < consecutive
        action: Action = "retrain" if persistent and (newly or not retrain_pr_known) else "record"
        text = "; ".join(line.text for line in verdict.drops)
        return TriggerState("performance", "drop", streak, consecutive, persistent, action, text)
    if verdict.status == "pass":
        text = "; ".join(line.text for line in verdict.lines)
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


def _held(state: TriggerState) -> str:
    """The performance state the next check starts from: a check that could not judge keeps the last one."""
    if state.status == "drop" or (state.status in ("no-labels", "unavailable") and state.streak > 0):
        return "drop"
    return "clear"


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
    restored = {**_dict(before.get("drift_meta")), **{k: v for k, v in before.items() if k != "drift_meta"}}
    for key in ("log", "history"):
        if key in data:
            restored[key] = _list(data[key])[: _non_negative_int(before.get(f"{key}_len"))]
    return restored


def _snapshot(previous: Mapping[str, Any]) -> dict[str, Any]:
    """The compact state a re-run of this check starts from again (histories by length, not by copy)."""
    return {
        "drift_meta": {k: previous[k] for k in ("streak", "state", "retrain_pr") if k in previous},
        "quality": _dict(previous.get("quality")),
        "performance": _dict(previous.get("performance")),
        "schedule": _dict(previous.get("schedule")),
        "log_len": len(_list(previous.get("log"))),
        "history_len": len(_list(previous.get("history"))),
        "check": previous.get("check"),
    }


# ---------------------------------------------------------------------------------------------------------
# Texts: the issue, the comment per check, the `/drift` answer, the retrain PR.

_MARKS = {
    "pass": "🟢",
    "clear": "🟢",
    "not-due": "🟢",
    "fail": "🔴",
    "schema-break": "🔴",
    "drift": "🔴",
    "drop": "🔴",
    "due": "🔵",
    "skipped": "⏸️",
    "no-labels": "⚪",
    "unavailable": "⚪",
    "no-champion": "⚪",
    "off": "➖",
}
_NAMES: dict[Trigger, str] = {
    "quality": "Data quality",
    "drift": "Data drift",
    "performance": "Performance",
    "schedule": "Schedule",
}


def _pending_mark(state: TriggerState) -> str:
    if state.breaching and not state.fired:
        return "🟠"
    return _MARKS.get(state.status, "⚪")


def _status_words(state: TriggerState) -> str:
    words = {
        "schema-break": "schema break",
        "fail": "failing" if state.fired else f"failing ({state.streak} of {state.consecutive})",
        "drift": "drift" if state.fired else f"possible drift ({state.streak} of {state.consecutive})",
        "drop": "drop" if state.fired else f"possible drop ({state.streak} of {state.consecutive})",
        "clear": "no drift",
        "skipped": "not judged",
        "no-labels": "no labels (not a pass)",
        "unavailable": "not scored (not a pass)",
        "no-champion": "no champion",
        "due": "due",
        "not-due": "not due",
        "pass": "pass",
        "off": "off",
    }
    return words.get(state.status, state.status)


def headline(decision: MonitorDecision) -> str:
    """One markdown sentence: what this check found for the model."""
    name = code(decision.model)
    fired = [_TITLES[t] for t in decision.fired]
    pending = [_TITLES[s.trigger] for s in decision.states if s.breaching and not s.fired]
    if fired:
        return (
            f"🔴 {name}: {', '.join(fired)}" + (f" (pending: {', '.join(pending)})" if pending else "") + "."
        )
    if pending:
        return f"🟠 {name}: possible {', '.join(pending)}; not counted yet."
    waiting = [s for s in decision.states if s.status in ("no-labels", "unavailable", "skipped")]
    if waiting:
        return f"🟢 {name}: nothing fired ({', '.join(_NAMES[s.trigger].lower() + ': ' + _status_words(s) for s in waiting)})."
    return f"🟢 {name}: every check passes."


def issue_title(decision: MonitorDecision) -> str:
    """Plain text (issue titles are not markdown): which triggers fired."""
    fired = [_TITLES[t] for t in decision.fired]
    pending = [_TITLES[s.trigger] for s in decision.states if s.breaching and not s.fired]
    if fired:
        return f"{decision.model}: {', '.join(fired)}"[:250]
    if pending:
        return f"{decision.model}: possible {', '.join(pending)}"[:250]
    return f"{decision.model}: all monitoring checks pass"


def issue_labels(decision: MonitorDecision) -> list[str]:
    return [*BASE_LABELS, *(TRIGGER_LABELS[s.trigger] for s in decision.states if s.fired or s.breaching)]


def _context(decision: MonitorDecision, *, report_url: str, retrain_pr: int | None) -> dict[str, Any]:
    pr = retrain_pr if retrain_pr is not None else (decision.retrain_pr if decision.retrain_active else None)
    rows = [
        {
            "name": _NAMES[s.trigger],
            "mark": _pending_mark(s),
            "status": _status_words(s),
            "text": escape_md(s.text, max_len=600) or "–",
        }
        for s in decision.states
    ]
    drift_context = (
        drift.drift_context(
            decision.model,
            decision.drift_summary,
            decision.drift_decision,
            report_url=report_url,
            retrain_pr=pr,
        )
        if decision.drift_summary is not None and decision.drift_decision is not None
        else None
    )
    performance = [
        {
            "name": code(line.name, max_len=60),
            "value": fmt(line.value) if line.value is not None else "–",
            "reference": fmt(line.reference) if line.reference is not None else "–",
            "mark": "🟢" if line.passed else "🔴",
            "text": escape_md(line.text, max_len=300),
        }
        for line in decision.performance_verdict.lines
    ]
    return {
        "model": code(decision.model),
        "model_name": decision.model,
        "headline": headline(decision),
        "rows": rows,
        "decision": decision,
        "quality_problems": [escape_md(p, max_len=300) for p in decision.quality_verdict.problems],
        "drift": drift_context,
        "performance": performance,
        "retrain_pr": pr,
        "retrain_now": decision.retrain,
        "reasons": [escape_md(r, max_len=600) for r in decision.retrain_reasons()],
        "report_url": report_url if report_url.startswith(("https://", "http://")) else "",
        "report_path": code(report_url)
        if report_url and not report_url.startswith(("https://", "http://"))
        else "",
        "log": [
            {
                "at": escape_md(e.at) or "–",
                "marks": [
                    _MARKS.get(e.statuses.get(t, "off"), "⚪") + " " + escape_md(e.statuses.get(t, "–"))
                    for t in TRIGGERS
                ],
                "note": escape_md(e.note, max_len=200) or "–",
            }
            for e in reversed(decision.log)
        ],
    }


def render_issue(decision: MonitorDecision, *, report_url: str, retrain_pr: int | None) -> tuple[str, str]:
    """(title, body) of the model's one monitoring issue; the body starts with the marker and the metadata."""
    context = _context(decision, report_url=report_url, retrain_pr=retrain_pr)
    meta = drift.encode_metadata(decision.metadata(retrain_pr=retrain_pr))
    body = render_template("comments/monitor_issue.md.j2", context)
    text = f"{issue_marker(decision.model)}\n{meta}\n{squeeze_blank_lines(body)}"
    return issue_title(decision), fit(text, COMMENT_LIMIT)


def check_comment_marker(decision: MonitorDecision) -> str:
    """One comment per check, keyed by the check: re-reporting a check edits its comment."""
    key = f"{decision.model}@{decision.check_id or decision.checked_at}"
    return reply_marker("monitor-check", key)


def render_comment(decision: MonitorDecision, *, report_url: str, retrain_pr: int | None) -> str:
    """The comment on the issue for this check, also the check run's summary."""
    context = _context(decision, report_url=report_url, retrain_pr=retrain_pr)
    body = render_template("comments/monitor_comment.md.j2", context)
    return fit(f"{check_comment_marker(decision)}\n{squeeze_blank_lines(body)}", COMMENT_LIMIT - 1)


def render_reply(
    decision: MonitorDecision, *, marker: str, issue: int | None, retrain_pr: int | None, report_url: str
) -> str:
    """The answer to `/drift`: the verdict of every trigger, and where the issue and the retrain PR are."""
    context = {
        **_context(decision, report_url=report_url, retrain_pr=retrain_pr),
        "issue": issue,
    }
    body = render_template("comments/monitor_verdict.md.j2", context)
    return fit(f"{marker}\n{squeeze_blank_lines(body)}", COMMENT_LIMIT)


def render_retrain_pr(
    decision: MonitorDecision, *, issue: int | None, changes: Mapping[str, Any], file: str
) -> tuple[str, str]:
    """(title, body) of the retrain pull request, saying which triggers asked for it and why."""
    import json

    short = []
    if decision.drift.fired and decision.drift_summary is not None:
        cols = decision.drift_summary.drifted_columns
        short.append("data drift in " + ", ".join(cols[:3]) + (" …" if len(cols) > 3 else ""))
    if decision.performance.fired:
        short.append(", ".join(line.name for line in decision.performance_verdict.drops) + " dropped")
    if decision.schedule.fired:
        short.append("scheduled")
    title = f"Retrain {decision.model}: {'; '.join(short)}" if short else f"Retrain {decision.model}"
    context = {
        "model": code(decision.model),
        "model_name": decision.model,
        "issue": issue,
        "file": code(file),
        "changes": [{"key": code(k), "value": code(json.dumps(v, default=str))} for k, v in changes.items()],
        "reasons": [escape_md(r, max_len=600) for r in decision.retrain_reasons()],
    }
    body = render_template("comments/monitor_retrain_pr.md.j2", context)
    return title[:250], fit(f"{retrain_marker(decision.model)}\n{squeeze_blank_lines(body)}", COMMENT_LIMIT)


def verdicts(decision: MonitorDecision) -> dict[str, dict[str, Any]]:
    """Per trigger, what a script (the demo, an Action output) reads: status, fired, streak and the sentence."""
    return {
        s.trigger: {
            "status": s.status,
            "fired": s.fired,
            "streak": s.streak,
            "action": s.action,
            "text": s.text,
        }
        for s in decision.states
    }


# ---------------------------------------------------------------------------------------------------------
# Small helpers


def parse_time(value: str | None) -> dt.datetime | None:
    """An ISO 8601 time (a naive one is UTC), or None."""
    if not value:
        return None
    try:
        parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return _utc(parsed)


def _utc(value: dt.datetime) -> dt.datetime:
    return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)


def _day(value: dt.datetime) -> str:
    return value.strftime("%Y-%m-%d %H:%M UTC")


def _pct(share: float) -> str:
    return f"{share:.1%}" if 0 < share < 0.01 else f"{share:.0%}"


def _range(low: float | None, high: float | None) -> str:
    if low is not None and high is not None:
        return f"[{fmt(low)}, {fmt(high)}]"
    return f"≥ {fmt(low)}" if low is not None else f"≤ {fmt(high)}" if high is not None else "its range"


def _float(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) else None


def _positive_int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else None


def _non_negative_int(value: Any) -> int:
    return max(0, value) if isinstance(value, int) and not isinstance(value, bool) else 0


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []
