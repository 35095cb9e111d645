"""Each action's outputs and run-page summary, from what its command wrote (or failed to write)."""

from __future__ import annotations

from typing import Any

import pytest

from bot.core.actions_summary import drift_summary, promote_summary, train_summary

TRAINED = {
    "model": "bc",
    "ok": True,
    "reused": False,
    "metrics": {"f1": 0.91234, "auc": 0.97},
    "run": {"run_id": "abcdef1234567890", "url": "http://mlflow/#/runs/abc"},
}
FAILED = {
    "model": "churn",
    "ok": False,
    "reused": False,
    "error": "stage 'train' failed | exit 1",
    "run": None,
}


def test_train_outputs_and_table() -> None:
    s = train_summary([TRAINED, FAILED], card_url="http://gh/pull/5#issuecomment-9")
    assert s.outputs == {
        "run-id": "abcdef1234567890",
        "run-ids": "abcdef1234567890",
        "run-url": "http://mlflow/#/runs/abc",
        "card-url": "http://gh/pull/5#issuecomment-9",
        "conclusion": "failure",
        "reused": "false",
    }
    assert "| bc | trained | [abcdef123456](http://mlflow/#/runs/abc) | auc 0.97, f1 0.9123 |" in s.markdown
    assert "| churn | failed: stage 'train' failed \\| exit 1 |  |  |" in s.markdown  # a | stays in its cell
    assert "Model card: http://gh/pull/5#issuecomment-9" in s.markdown


@pytest.mark.parametrize("data", [None, [], {"results": []}, "garbage", [1, 2]])
def test_train_without_results_is_a_failure_with_empty_outputs(data: Any) -> None:
    s = train_summary(data)
    assert s.outputs["conclusion"] == "failure" and s.outputs["run-id"] == "" and s.outputs["run-url"] == ""
    assert "wrote no results" in s.markdown


def test_promote_outputs_name_the_version_and_the_deployment() -> None:
    data = [
        {
            "model": "bc",
            "status": "promoted",
            "version": "3",
            "previous": "2",
            "run_id": "r",
            "deployment_id": 77,
        },
        {"model": "churn", "status": "refused", "reasons": ["f1 0.8 below min 0.85"]},
    ]
    s = promote_summary(data, api_url="http://api/", repo="acme/x")
    assert s.outputs["conclusion"] == "refused"  # the worst over models
    assert s.outputs["model-version"] == "3" and s.outputs["version"] == "3"
    assert s.outputs["deployment-url"] == "http://api/repos/acme/x/deployments/77"
    assert "| churn | refused |  |  | f1 0.8 below min 0.85 |" in s.markdown


def test_promote_plan_says_nothing_changed_and_names_no_version() -> None:
    s = promote_summary({"results": [{"model": "bc", "status": "planned", "version": "4"}]})
    assert s.outputs["conclusion"] == "planned" and s.outputs["model-version"] == ""
    assert s.markdown.startswith("## mlops-bot promote (plan, nothing changed)")
    assert promote_summary(None).outputs["conclusion"] == "failure"


def test_drift_outputs() -> None:
    check = {
        "model": "bc",
        "dataset_drift": True,
        "columns": [{"column": "age", "drifted": True}, {"column": "x", "drifted": False}],
    }
    report = {"model": "bc", "action": "retrain", "issue": 12, "retrain_pr": 13, "fired": ["data-drift"]}
    s = drift_summary(check, report)
    assert s.outputs == {
        "drift": "true",
        "drifted-columns": "age",
        "fired": "true",
        "issue-number": "12",
        "pr-number": "13",
    }
    assert "issue #12" in s.markdown and "retrain PR #13" in s.markdown
    quiet = drift_summary({"model": "bc", "dataset_drift": False, "columns": []}, None)
    assert quiet.outputs["fired"] == "false" and quiet.outputs["issue-number"] == ""
    assert "no drift" in quiet.markdown
