"""Moving a version on (bot/core/environments.py): what each protection rule refuses, and when, from facts."""

from __future__ import annotations

import datetime as dt

import pytest

from bot.core.config.environments import Stage
from bot.core.environments import Protection, checks_green, plan_move, render_move, soak_due
from bot.core.models import ModelVersion
from bot.core.monitoring.history import CheckRecord

STAGING = Stage("staging", "staging", 0, False)
PRODUCTION = Stage("production", "champion", 1, True)
ARRIVED = dt.datetime(2026, 12, 1, 12, 0, tzinfo=dt.UTC)
STAGED = ModelVersion("churn", "5", "run5", tags={"mlops_bot.git_sha": "a" * 40})


def plan(
    protection: Protection,
    asked_by: str | None,
    minutes_after: int = 60,
    staged: ModelVersion | None = STAGED,
):  # type: ignore[no-untyped-def]
    return plan_move(
        "churn",
        STAGING,
        PRODUCTION,
        staged,
        ModelVersion("churn", "4", "run4"),
        protection=protection,
        asked_by=asked_by,
        source_deployed_at=ARRIVED,
        now=ARRIVED + dt.timedelta(minutes=minutes_after),
        git_sha_tag="mlops_bot.git_sha",
        bento_tag="churn:v5",
    )


@pytest.mark.parametrize(
    ("protection", "asked_by", "minutes", "fragment"),
    [
        (Protection(reviewers=("rita",)), "alice", 60, "@alice is not one of them"),
        (Protection(reviewers=("rita",)), None, 60, "the soak does not move past a reviewer"),
        (Protection(teams=("ml-leads",)), "rita", 60, "cannot confirm team membership"),
        (Protection(wait_minutes=90), "alice", 60, "runs until 2026-12-01 13:30 UTC"),
    ],
)
def test_each_rule_refuses_with_its_reason(
    protection: Protection, asked_by: str | None, minutes: int, fragment: str
) -> None:
    refused = plan(protection, asked_by, minutes)
    assert not refused.allowed
    assert any(fragment in reason for reason in refused.blocked), refused.blocked


@pytest.mark.parametrize(
    ("protection", "asked_by", "minutes"),
    [
        (Protection(), "alice", 0),
        (Protection(exists=False), None, 0),
        (Protection(reviewers=("Rita",)), "rita", 0),  # logins are not case sensitive
        (Protection(reviewers=("rita",), wait_minutes=30), "rita", 30),
    ],
)
def test_met_rules_allow_the_move(protection: Protection, asked_by: str | None, minutes: int) -> None:
    allowed = plan(protection, asked_by, minutes)
    assert allowed.allowed and allowed.blocked == ()
    assert (allowed.version, allowed.target_version, allowed.ref) == ("5", "4", "a" * 40)


def test_nothing_in_staging_is_nothing_to_move() -> None:
    empty = plan(Protection(), "alice", staged=None)
    assert not empty.allowed and "serves no version" in empty.blocked[0]


def test_the_dry_run_and_the_refusal_say_so() -> None:
    text = render_move(plan(Protection(), "alice"), dry_run=True)
    assert "(dry run: nothing was changed)" in text and "alias `champion`: v4 → v5" in text
    assert "the service `churn:v5` serves `production`" in text
    assert "(dry run)" in render_move(plan(Protection(reviewers=("rita",)), "alice"), dry_run=True)


def _record(hours: float, *, fired: tuple[str, ...] = (), quality: str = "pass") -> CheckRecord:
    at = (ARRIVED + dt.timedelta(hours=hours)).isoformat()
    return CheckRecord("churn", at, at, fired=fired, quality_status=quality)


def test_checks_green_counts_only_the_checks_since_staging() -> None:
    assert checks_green([], ARRIVED) is None
    assert checks_green([_record(-1, fired=("drift",))], ARRIVED) is None  # before it arrived: not its checks
    assert checks_green([_record(1), _record(2)], ARRIVED) is True
    assert checks_green([_record(1), _record(2, quality="schema-break")], ARRIVED) is False
    assert checks_green([_record(1, fired=("performance",))], ARRIVED) is False


def test_soak_is_due_only_after_its_time_with_green_checks() -> None:
    day = dt.timedelta(hours=24)
    assert soak_due(ARRIVED, day, ARRIVED + dt.timedelta(hours=23), checks_green=True)[0] is False
    assert soak_due(ARRIVED, day, ARRIVED + day, checks_green=None) == (
        False,
        "no monitoring check has judged it since it reached staging",
    )
    assert soak_due(ARRIVED, day, ARRIVED + day, checks_green=False)[0] is False
    assert soak_due(ARRIVED, day, ARRIVED + day, checks_green=True)[0] is True
    assert soak_due(None, day, ARRIVED + day, checks_green=True)[0] is False
