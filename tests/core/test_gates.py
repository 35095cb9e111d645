"""Promotion gates: candidate vs champion, absolute limits, approvals and checks, with readable reasons."""

from __future__ import annotations

import pytest

from bot.core.config import MetricSpec, ModelSpec, Promotion
from bot.core.gates import Decision, Verdict, evaluate, fmt_group


def model(*metrics: MetricSpec) -> ModelSpec:
    return ModelSpec(name="churn", stage="train", output="model.pkl", metrics=list(metrics))


F1 = MetricSpec(name="f1", direction="higher", tolerance=0.01)
LOSS = MetricSpec(name="log_loss", direction="lower", tolerance=0.02)
NONE = Promotion()


@pytest.mark.parametrize(
    ("spec", "candidate", "champion", "passed", "reason"),
    [
        (F1, 0.931, 0.925, True, "f1 0.931 vs champion 0.925: improved by 0.006"),
        (F1, 0.925, 0.925, True, "f1 0.925 vs champion 0.925: unchanged"),
        (F1, 0.920, 0.925, True, "f1 0.920 vs champion 0.925: dropped 0.005, within the allowed 0.010"),
        (F1, 0.915, 0.925, True, "dropped 0.010, within the allowed 0.010"),  # exactly the tolerance
        (
            F1,
            0.9149,
            0.925,
            False,
            "f1 0.9149 vs champion 0.9250: dropped 0.0101, more than the allowed 0.0100",
        ),
        (F1, 0.912, 0.925, False, "f1 0.912 vs champion 0.925: dropped 0.013, more than the allowed 0.010"),
        (LOSS, 0.28, 0.30, True, "log_loss 0.280 vs champion 0.300: improved by 0.020"),
        (LOSS, 0.32, 0.30, True, "log_loss 0.320 vs champion 0.300: rose 0.020, within the allowed 0.020"),
        (
            LOSS,
            0.33,
            0.30,
            False,
            "log_loss 0.330 vs champion 0.300: rose 0.030, more than the allowed 0.020",
        ),
        (MetricSpec(name="f1"), 0.9249, 0.925, False, "dropped 0.0001, more than the allowed 0"),
        (
            MetricSpec(name="rmse", direction="lower"),
            1234.5,
            1200.0,
            False,
            "rmse 1234.500 vs champion 1200.000",
        ),
    ],
)
def test_candidate_against_champion(
    spec: MetricSpec, candidate: float, champion: float, passed: bool, reason: str
) -> None:
    decision = evaluate(model(spec), {spec.name: candidate}, {spec.name: champion}, promotion=NONE)
    (verdict,) = decision.verdicts
    assert verdict.passed is passed
    assert reason in verdict.reason
    assert decision.allowed is passed
    assert decision.conclusion == ("success" if passed else "failure")


@pytest.mark.parametrize(
    ("spec", "value", "passed", "reason"),
    [
        (MetricSpec(name="f1", min=0.8), 0.85, True, "f1 0.850 meets the floor 0.800"),
        (MetricSpec(name="f1", min=0.8), 0.8, True, "meets the floor"),
        (MetricSpec(name="f1", min=0.8), 0.79, False, "f1 0.790 is below the floor 0.800"),
        (
            MetricSpec(name="latency", direction="lower", max=120),
            119.0,
            True,
            "is within the ceiling 120.000",
        ),
        (
            MetricSpec(name="latency", direction="lower", max=120),
            121.0,
            False,
            "latency 121.000 is above the ceiling",
        ),
    ],
)
def test_first_model_is_judged_by_absolute_limits(
    spec: MetricSpec, value: float, passed: bool, reason: str
) -> None:
    decision = evaluate(model(spec), {spec.name: value}, None, promotion=NONE)
    limit, note = decision.verdicts
    assert limit.passed is passed and reason in limit.reason
    assert note.passed and not note.judged and "no champion yet" in note.reason
    assert decision.conclusion == ("success" if passed else "failure")


def test_first_model_without_limits_is_neutral() -> None:
    decision = evaluate(model(F1), {"f1": 0.5}, None, promotion=NONE)
    assert decision.allowed
    assert decision.conclusion == "neutral"
    assert decision.summary() == "no gates to judge"


def test_no_gates_configured_is_neutral() -> None:
    decision = evaluate(model(), {"f1": 0.5}, {"f1": 0.9}, promotion=NONE)
    assert decision == Decision(True, ())
    assert decision.conclusion == "neutral"


@pytest.mark.parametrize(
    ("candidate", "fragment"),
    [
        ({}, "f1 is missing from the candidate run"),
        ({"f1": float("nan")}, "f1 is not a number (nan)"),
        ({"f1": "0.9"}, "is not a number ('0.9')"),
        ({"f1": True}, "is not a number (True)"),
    ],
)
def test_missing_or_broken_metric_fails(candidate: dict[str, object], fragment: str) -> None:
    decision = evaluate(model(F1), candidate, {"f1": 0.9}, promotion=NONE)  # type: ignore[arg-type]
    assert not decision.allowed
    assert fragment in decision.verdicts[0].reason
    assert decision.summary() == "gates failed: f1"


def test_champion_without_the_metric_is_not_compared() -> None:
    decision = evaluate(model(F1, LOSS), {"f1": 0.9, "log_loss": 0.3}, {"f1": 0.89}, promotion=NONE)
    assert decision.allowed
    loss = next(v for v in decision.verdicts if v.metric == "log_loss")
    assert loss == Verdict(
        "log_loss", True, "log_loss 0.300: the champion has no log_loss, not compared", False, "log_loss"
    )


@pytest.mark.parametrize(
    ("required", "approvals", "passed", "reason"),
    [
        (2, 2, True, "2 of 2 required approving review(s)"),
        (2, 3, True, "3 of 2 required approving review(s)"),
        (2, 1, False, "1 of 2 required approving review(s)"),
        (1, None, False, "1 approving review(s) required; they could not be counted"),
    ],
)
def test_required_approvals(required: int, approvals: int | None, passed: bool, reason: str) -> None:
    decision = evaluate(
        model(), {}, None, promotion=Promotion(required_approvals=required), approvals=approvals
    )
    (verdict,) = decision.verdicts
    assert (verdict.name, verdict.passed, verdict.reason) == ("approvals", passed, reason)


@pytest.mark.parametrize(
    ("checks", "passed", "reason"),
    [
        ({"tests": "success"}, True, "required check 'tests' concluded success"),
        ({"tests": "neutral"}, True, "concluded neutral"),
        ({"tests": "skipped"}, True, "concluded skipped"),
        ({"tests": "failure"}, False, "required check 'tests' concluded failure"),
        ({"tests": "cancelled"}, False, "concluded cancelled"),
        ({"tests": "timed_out"}, False, "concluded timed_out"),
        ({"lint": "success"}, False, "required check 'tests' has not reported a result"),
        (None, False, "has not reported"),
    ],
)
def test_required_checks(checks: dict[str, str] | None, passed: bool, reason: str) -> None:
    decision = evaluate(model(), {}, None, promotion=Promotion(required_checks=["tests"]), checks=checks)
    (verdict,) = decision.verdicts
    assert verdict.passed is passed and reason in verdict.reason


def test_every_failure_is_reported_not_just_the_first() -> None:
    decision = evaluate(
        model(MetricSpec(name="f1", min=0.9, tolerance=0.0), LOSS),
        {"f1": 0.8},
        {"f1": 0.85, "log_loss": 0.3},
        promotion=Promotion(required_approvals=1, required_checks=["tests"]),
        approvals=0,
        checks={"tests": "failure"},
    )
    assert not decision.allowed
    assert [v.name for v in decision.failures] == ["f1 ≥ 0.900", "f1", "log_loss", "approvals", "check tests"]
    assert decision.conclusion == "failure"


def test_shared_decimals_never_read_as_zero() -> None:
    assert fmt_group(0.9, 0.0004) == ("0.9000", "0.0004")
    assert fmt_group(0.912, 0.013, 0.01) == ("0.912", "0.013", "0.010")
    assert fmt_group(0.0, 1.5) == ("0", "1.500")
