"""Verdicts of one check, before hysteresis. Each `problems`/`lines` entry is a plain sentence."""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass
from typing import Literal

from bot.core.config import ModelSpec, PerformanceSpec, Promotion, QualitySpec, RetrainSchedule
from bot.core.gates import evaluate
from bot.core.monitoring.facts import ChampionFacts, ColumnQuality, PerformanceFacts, QualityFacts
from bot.core.monitoring.state import MAX_PROBLEMS
from bot.core.monitoring.values import as_day, as_float, as_pct, as_range, as_utc, parse_time


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
                f"column {c.column!r} is {as_pct(c.missing_share)} empty (at most {as_pct(limit)} allowed)"
            )
    for c in present:
        if c.out_of_range_share is not None and c.out_of_range_share > spec.max_out_of_range_share:
            problems.append(
                f"column {c.column!r} has {as_pct(c.out_of_range_share)} of its values outside "
                f"{as_range(c.low, c.high)} (at most {as_pct(spec.max_out_of_range_share)} allowed)"
            )
    duplicates = facts.duplicate_share
    if (
        spec.max_duplicate_share is not None
        and duplicates is not None
        and duplicates > spec.max_duplicate_share
    ):
        problems.append(
            f"{as_pct(duplicates)} of the rows repeat an earlier row "
            f"(at most {as_pct(spec.max_duplicate_share)} allowed)"
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
        reference = as_float(recorded.get(metric.name))
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
    return PerformanceVerdict(status, tuple(lines), note=facts.note)  # e.g. how many labels came back


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
    since = (
        f"version {champion.version} is champion since {as_day(promoted)}; schedule every {schedule.every}"
    )
    if as_utc(now) >= due_at:
        return ScheduleVerdict("due", due_at.isoformat(), f"retrain was due on {as_day(due_at)} ({since})")
    return ScheduleVerdict("not-due", due_at.isoformat(), f"next retrain due on {as_day(due_at)} ({since})")
