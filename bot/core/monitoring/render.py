"""Texts: the issue, the comment per check, the `/drift` answer, the retrain PR."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from bot.core import drift
from bot.core.gates import fmt
from bot.core.markdown import COMMENT_LIMIT, code, escape_md, fit, render_template, squeeze_blank_lines
from bot.core.markers import reply_marker, retrain_marker
from bot.core.monitoring.state import (
    BASE_LABELS,
    TITLES,
    TRIGGER_LABELS,
    TRIGGERS,
    MonitorDecision,
    Trigger,
    TriggerState,
    issue_marker,
)

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
    fired = [TITLES[t] for t in decision.fired]
    pending = [TITLES[s.trigger] for s in decision.states if s.breaching and not s.fired]
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
    fired = [TITLES[t] for t in decision.fired]
    pending = [TITLES[s.trigger] for s in decision.states if s.breaching and not s.fired]
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
        # Only a link a reader can open: a path on the disk of the machine that ran the check is never shown.
        "report_url": report_url if report_url.startswith(("https://", "http://")) else "",
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
