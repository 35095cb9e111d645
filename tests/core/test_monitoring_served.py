"""`drift.current: served` in the core: which window a check reads, and the label counts a reader of the
monitoring issue sees beside a performance score."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace

from bot.core import monitoring
from bot.core.config.traffic import LastWindow
from bot.core.drift import decode_metadata
from bot.core.monitoring import decide
from bot.core.monitoring.served import ServedFacts, label_note, served_window
from tests.core.test_monitoring import BAD_PERF, SOON, SPEC, facts

NOW = dt.datetime(2026, 12, 10, 12, 0, tzinfo=dt.UTC)


def test_a_last_window_ends_now() -> None:
    assert served_window(LastWindow(last="12h"), NOW) == (NOW - dt.timedelta(hours=12), NOW, "last 12h")


def test_since_last_check_starts_at_the_latest_earlier_check() -> None:
    earlier = [NOW - dt.timedelta(days=2), NOW - dt.timedelta(hours=6), NOW + dt.timedelta(hours=1)]
    since, until, how = served_window("since-last-check", NOW, earlier)
    assert (since, until) == (NOW - dt.timedelta(hours=6), NOW)  # a later check (a rerun's record) is ignored
    assert how == "since the check at 2026-12-10T06:00:00+00:00"
    first = served_window("since-last-check", NOW, [])
    assert first == (NOW - dt.timedelta(days=7), NOW, "last 7d (no earlier check)")


def test_the_label_counts_reach_the_issue() -> None:
    served = ServedFacts(
        "", "", "last 7d", rows=500, labels=460, joined=400, duplicate=20, late=30, unknown=10
    )
    note = label_note(served)
    assert note == (
        "400 of 500 served row(s) labelled (last 7d); 20 duplicate label(s) (the latest counts); "
        "30 late label(s) for rows an earlier check read; 10 label(s) for unknown request ids"
    )
    check = facts(0, performance=replace(BAD_PERF, note=note))
    decision = decide(check, SPEC, decode_metadata(""), now=SOON)
    assert decision.performance.status == "drop"
    assert decision.performance.text.endswith(f"({note})")
    _title, body = monitoring.render_issue(decision, report_url="", retrain_pr=None)
    assert "400 of 500 served row(s) labelled" in body
    assert "10 label(s) for unknown request ids" in body


def test_the_served_facts_survive_the_json_summary() -> None:
    served = ServedFacts(
        "2026-12-03T12:00:00+00:00",
        "2026-12-10T12:00:00+00:00",
        "last 7d",
        500,
        (("3", 400), ("4", 100)),
        9,
        8,
    )
    check = replace(facts(0), served=served)
    assert monitoring.facts_from_dict(monitoring.facts_to_dict(check), check.drift).served == served
    assert monitoring.facts_from_dict(monitoring.facts_to_dict(facts(0)), None).served is None
