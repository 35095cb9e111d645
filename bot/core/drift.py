"""Drift decisions with hysteresis, and the texts of the drift issue, its comments and the retrain PR.

One noisy check must not open a retrain PR: drift counts only after `consecutive` breaching checks in a
row (config `drift.consecutive`, default 2). The streak and a short history live in a hidden metadata block
in the drift issue's body (`<!-- mlops-bot:meta {json} -->`), so a scheduled Action can carry the state
from one check to the next with nothing but the GitHub API — no bot, no database.

Actions:
- `none`: no drift now and none before; nothing to write.
- `record`: a breach that is not (yet, or any more newly) persistent: update the issue and its history.
- `retrain`: the breach just became persistent (or is persistent and no retrain PR was recorded):
  update the issue and open (or update) the retrain PR.
- `clear`: no drift now, after drift before: say so on the issue (and close it if configured).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from bot.core.markdown import code, escape_md
from bot.core.models import DriftSummary

Action = Literal["none", "record", "retrain", "clear"]
META_PREFIX = "<!-- mlops-bot:meta "
META_VERSION = 1
MAX_HISTORY = 30
MAX_COLUMNS_IN_HISTORY = 20
_META = re.compile(r"<!-- mlops-bot:meta (?P<json>\{.*?\}) -->", re.S)


# ---------------------------------------------------------------------------------------------------------
# Metadata block


def encode_metadata(data: Mapping[str, Any]) -> str:
    """A hidden block carrying `data` as JSON. `<`, `>` and `&` are written as JSON escapes, so nothing in
    the data (a column named `-->`, say) can end the HTML comment early or open another one."""
    text = json.dumps(dict(data), sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    text = text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    return f"{META_PREFIX}{text} -->"


def decode_metadata(body: str | None) -> dict[str, Any]:
    """The data of the first metadata block in `body`; {} when there is none or it is corrupt (a human
    edited the issue, say): the hysteresis then starts again from zero rather than failing."""
    if not body:
        return {}
    match = _META.search(body)
    if not match:
        return {}
    try:
        data = json.loads(match.group("json"))
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


# ---------------------------------------------------------------------------------------------------------
# The decision


@dataclass(frozen=True)
class DriftCheck:
    """One check in the history."""

    at: str
    breach: bool
    share: float
    drifted: tuple[str, ...]

    def to_json(self) -> dict[str, Any]:
        return {"at": self.at, "breach": self.breach, "share": self.share, "drifted": list(self.drifted)}

    @classmethod
    def from_json(cls, data: Any) -> DriftCheck | None:
        if not isinstance(data, dict):
            return None
        drifted = data.get("drifted")
        share = data.get("share")
        return cls(
            at=str(data.get("at", "")),
            breach=bool(data.get("breach", False)),
            share=float(share) if isinstance(share, int | float) and not isinstance(share, bool) else 0.0,
            drifted=tuple(str(c) for c in drifted) if isinstance(drifted, list) else (),
        )


@dataclass(frozen=True)
class DriftDecision:
    breach: bool  # this check found dataset drift
    persistent: bool  # ... and so did the checks before it, `consecutive` in a row
    streak: int  # breaching checks in a row, this one included
    action: Action
    history: tuple[DriftCheck, ...]  # oldest first, this check last
    consecutive: int = 2
    retrain_pr: int | None = None  # the retrain PR recorded by an earlier check

    def metadata(self, model: str, *, retrain_pr: int | None = None) -> dict[str, Any]:
        """What the next check needs, to be stored with `encode_metadata`."""
        pr = retrain_pr if retrain_pr is not None else self.retrain_pr
        return {
            "v": META_VERSION,
            "model": model,
            "streak": self.streak,
            "state": "drift" if self.breach else "clear",
            "retrain_pr": pr if self.breach else None,
            "history": [c.to_json() for c in self.history],
        }


def decide(
    summary: DriftSummary, previous: Mapping[str, Any], *, consecutive: int, checked_at: str = ""
) -> DriftDecision:
    """What this check means given the previous metadata (`decode_metadata` of the issue; {} if none)."""
    consecutive = max(1, consecutive)
    prev_streak = _non_negative_int(previous.get("streak"))
    prev_state = previous.get("state")
    prev_pr = previous.get("retrain_pr")
    retrain_pr = (
        prev_pr if isinstance(prev_pr, int) and not isinstance(prev_pr, bool) and prev_pr > 0 else None
    )
    history = [c for c in (DriftCheck.from_json(x) for x in _list(previous.get("history"))) if c is not None]

    breach = summary.dataset_drift
    streak = prev_streak + 1 if breach else 0
    persistent = breach and streak >= consecutive
    action: Action
    if breach:
        newly_persistent = persistent and prev_streak < consecutive
        action = "retrain" if persistent and (newly_persistent or retrain_pr is None) else "record"
    else:
        action = "clear" if prev_streak > 0 or prev_state == "drift" else "none"
        retrain_pr = None if action == "none" else retrain_pr

    check = DriftCheck(
        at=checked_at,
        breach=breach,
        share=round(summary.share_drifted, 4),
        drifted=tuple(summary.drifted_columns[:MAX_COLUMNS_IN_HISTORY]),
    )
    history = [*history, check][-MAX_HISTORY:]
    return DriftDecision(breach, persistent, streak, action, tuple(history), consecutive, retrain_pr)


def _non_negative_int(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        return 0
    return max(0, value)


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


# ---------------------------------------------------------------------------------------------------------
# Texts


def verdict_line(model: str, summary: DriftSummary, decision: DriftDecision) -> str:
    """One sentence (markdown) saying what this check found and what it means."""
    name = code(model)
    drifted, total = len(summary.drifted_columns), len(summary.columns)
    share = (
        f"{drifted} of {total} column(s) drifted "
        f"({summary.share_drifted:.0%}; drift counts from {summary.drift_share:.0%})"
    )
    if decision.persistent:
        return f"🔴 Data drift in {name}, for {decision.streak} checks in a row: {share}."
    if decision.breach:
        return (
            f"🟠 Possible data drift in {name} (check {decision.streak} of {decision.consecutive} before it "
            f"counts): {share}."
        )
    if decision.action == "clear":
        return f"🟢 No data drift in {name} any more: {share}."
    return f"🟢 No data drift in {name}: {share}."


def drift_context(
    model: str, summary: DriftSummary, decision: DriftDecision, *, report_url: str, retrain_pr: int | None
) -> dict[str, Any]:
    """What the drift templates show, escaped; the monitoring issue shows the same drift section."""
    columns = sorted(summary.columns, key=lambda c: (not c.drifted, -c.score if c.drifted else 0, c.column))
    return {
        "model": code(model),
        "model_name": model,
        "verdict": verdict_line(model, summary, decision),
        "decision": decision,
        "drifted": [code(c, max_len=80) for c in summary.drifted_columns],
        "columns": [
            {
                "name": code(c.column, max_len=80),
                "mark": "🔴" if c.drifted else "🟢",
                "score": _score(c.score),
                "method": escape_md(c.method, max_len=40),
                "threshold": _score(c.threshold),
            }
            for c in columns
        ],
        "sizes": {
            "reference": _rows(summary.reference_rows, summary.reference_sampled),
            "current": _rows(summary.current_rows, summary.current_sampled),
        },
        "report_url": report_url if report_url.startswith(("https://", "http://")) else "",
        "retrain_pr": retrain_pr if retrain_pr is not None else decision.retrain_pr,
        "history": [
            {
                "at": escape_md(c.at) or "–",
                "mark": "🔴" if c.breach else "🟢",
                "share": f"{c.share:.0%}",
                "drifted": ", ".join(code(x, max_len=40) for x in c.drifted) or "–",
            }
            for c in reversed(decision.history)
        ],
    }


def _score(value: float) -> str:
    if value == 0:
        return "0"
    return f"{value:.3g}" if abs(value) < 1e-3 else f"{value:.3f}"


def _rows(total: int, sampled: int) -> str:
    if sampled and sampled < total:
        return f"{sampled:,} sampled of {total:,} rows"
    return f"{total:,} rows"
