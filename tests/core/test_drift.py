"""Drift hysteresis, the metadata block that carries it between checks, and the drift texts."""

from __future__ import annotations

from typing import Any

import pytest

from bot.core.drift import (
    DriftDecision,
    decide,
    decode_metadata,
    encode_metadata,
)
from bot.core.models import ColumnDrift, DriftSummary


def summary(drifted: int, total: int = 5, *, drift_share: float = 0.5) -> DriftSummary:
    columns = tuple(
        ColumnDrift(f"col{i}", 0.01 if i < drifted else 0.6, "ks", 0.05, i < drifted) for i in range(total)
    )
    share = drifted / total
    return DriftSummary("churn", share >= drift_share, share, drift_share, columns, 1000, 800, 1000, 800)


DRIFT, CLEAN = summary(3), summary(0)


def run_checks(sequence: list[DriftSummary], consecutive: int = 2) -> list[DriftDecision]:
    """Each check reads the metadata the previous one wrote into the issue body."""
    body = ""
    decisions = []
    for i, check in enumerate(sequence):
        decision = decide(check, decode_metadata(body), consecutive=consecutive, checked_at=f"day {i}")
        retrain_pr = 7 if decision.action == "retrain" else None
        body = encode_metadata(decision.metadata("churn", retrain_pr=retrain_pr))
        decisions.append(decision)
    return decisions


@pytest.mark.parametrize(
    ("sequence", "consecutive", "actions", "streaks"),
    [
        ([CLEAN], 2, ["none"], [0]),
        ([DRIFT], 2, ["record"], [1]),  # one breach: no retrain
        ([DRIFT, DRIFT], 2, ["record", "retrain"], [1, 2]),  # two in a row: retrain
        ([DRIFT, DRIFT, DRIFT], 2, ["record", "retrain", "record"], [1, 2, 3]),  # once per episode
        ([DRIFT, CLEAN, DRIFT], 2, ["record", "clear", "record"], [1, 0, 1]),  # the streak resets
        ([DRIFT, DRIFT, CLEAN, CLEAN], 2, ["record", "retrain", "clear", "none"], [1, 2, 0, 0]),
        ([DRIFT], 1, ["retrain"], [1]),
        ([DRIFT, DRIFT, DRIFT], 3, ["record", "record", "retrain"], [1, 2, 3]),
        ([summary(2), summary(3)], 2, ["none", "record"], [0, 1]),  # 40% < drift_share 50%: not a breach
    ],
)
def test_hysteresis(
    sequence: list[DriftSummary], consecutive: int, actions: list[str], streaks: list[int]
) -> None:
    decisions = run_checks(sequence, consecutive)
    assert [d.action for d in decisions] == actions
    assert [d.streak for d in decisions] == streaks
    assert [d.persistent for d in decisions] == [s >= consecutive for s in streaks]


def test_a_persistent_drift_without_a_recorded_pr_retrains_again() -> None:
    """If opening the retrain PR failed, the next persistent check tries again."""
    previous = {"streak": 2, "state": "drift", "retrain_pr": None, "history": []}
    assert decide(DRIFT, previous, consecutive=2).action == "retrain"
    assert decide(DRIFT, {**previous, "retrain_pr": 7}, consecutive=2).action == "record"


@pytest.mark.parametrize(
    "body",
    [
        None,
        "",
        "no metadata here",
        "<!-- mlops-bot:meta {not json} -->",
        "<!-- mlops-bot:meta [1, 2] -->",
        '<!-- mlops-bot:meta {"streak": "many", "history": "x", "retrain_pr": true} -->',
        '<!-- mlops-bot:meta {"streak": -4, "history": [1, {"breach": "yes"}]} -->',
    ],
)
def test_corrupt_metadata_starts_again_from_zero(body: str | None) -> None:
    decision = decide(DRIFT, decode_metadata(body), consecutive=2)
    assert decision.streak == 1 and decision.action == "record" and decision.retrain_pr is None


def test_metadata_round_trip_is_safe_against_comment_terminators() -> None:
    data: dict[str, Any] = {"streak": 2, "history": [{"drifted": ["-->", "<!-- x -->", "a&b"]}]}
    block = encode_metadata(data)
    assert block.startswith("<!-- mlops-bot:meta {") and block.endswith("} -->")
    assert block.count("-->") == 1 and block.count("<!--") == 1
    assert decode_metadata(f"text before\n{block}\ntext after") == data


def test_history_is_capped() -> None:
    decisions = run_checks([DRIFT, CLEAN] * 20)
    assert len(decisions[-1].history) == 30
    assert decisions[-1].history[-1].at == "day 39"
