"""`drift.current: served`: which of the service's logged rows a check reads, and how the labels that came
back were joined to them (the counts a reader needs to trust a performance score)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass

from bot.core.config.traffic import LastWindow
from bot.core.monitoring.values import as_utc

# The first check with `window: since-last-check` has no earlier check to start from: it reads this far back.
FIRST_WINDOW = LastWindow()


@dataclass(frozen=True)
class ServedFacts:
    """What a check read from the traffic log. Label counts are per distinct request id."""

    since: str  # ISO 8601, inclusive
    until: str  # ISO 8601, exclusive
    window: str  # how the window was chosen, for a reader ("last 7d", "since the check at ...")
    rows: int  # logged rows in the window
    versions: tuple[tuple[str, int], ...] = ()  # (model version, rows) that answered in the window
    labels: int = 0  # label rows read (feedback and dropped files)
    joined: int = 0  # labelled rows in the window
    duplicate: int = 0  # label rows for an id that already had one (the latest received counts)
    late: int = 0  # labels for rows served before the window: an earlier check already read those rows
    unknown: int = 0  # labels for an id the log has never seen


def served_window(
    window: LastWindow | str, now: dt.datetime, earlier_checks: Iterable[dt.datetime] = ()
) -> tuple[dt.datetime, dt.datetime, str]:
    """(since, until, how) for a check at `now`. `since-last-check` starts at the latest check before `now`
    (so running the same check again reads the same rows); the first check reads `FIRST_WINDOW`."""
    until = as_utc(now)
    if isinstance(window, LastWindow):
        return until - window.interval, until, f"last {window.last}"
    before = [as_utc(t) for t in earlier_checks if as_utc(t) < until]
    if not before:
        return until - FIRST_WINDOW.interval, until, f"last {FIRST_WINDOW.last} (no earlier check)"
    last = max(before)
    return last, until, f"since the check at {last.isoformat(timespec='seconds')}"


def label_note(facts: ServedFacts) -> str:
    """One sentence on the labels behind a performance score."""
    parts = [f"{facts.joined} of {facts.rows} served row(s) labelled ({facts.window})"]
    for count, what in (
        (facts.duplicate, "duplicate label(s) (the latest counts)"),
        (facts.late, "late label(s) for rows an earlier check read"),
        (facts.unknown, "label(s) for unknown request ids"),
    ):
        if count:
            parts.append(f"{count} {what}")
    return "; ".join(parts)
