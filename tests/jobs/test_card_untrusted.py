"""Results uploaded by a run of a fork's code are data: bounded, schema-checked, never an MLflow run."""

from __future__ import annotations

import json

import pytest

from bot.jobs.card import MAX_RESULTS_BYTES, UntrustedResultsError, untrusted_results

GOOD = {
    "model": "churn",
    "ok": True,
    "output_hash": "ab" * 16,
    "metrics": {"f1": 0.91},
    "params": {"train.lr": 0.1},
    "run": {"run_id": "r1", "model": "churn", "metrics": {}, "params": {}, "tags": {}, "url": "https://evil"},
    "base_metrics": {"f1": 0.1},
    "plots": {"p.csv": [{"x": 1}]},
}


def test_a_well_formed_file_keeps_only_the_candidates_own_numbers() -> None:
    [result] = untrusted_results(json.dumps([GOOD]).encode())
    assert (result.model, result.ok, result.metrics, result.params) == (
        "churn",
        True,
        {"f1": 0.91},
        {"train.lr": "0.1"},
    )
    assert result.run is None and result.base_metrics == {} and result.plots == []


@pytest.mark.parametrize(
    ("raw", "problem"),
    [
        (b"x" * (MAX_RESULTS_BYTES + 1), "at most"),
        (b"{not json", "not JSON"),
        (json.dumps([]).encode(), "1 to"),
        (json.dumps([{**GOOD, "model": "$(id)"}]).encode(), "model name"),
        (json.dumps([{**GOOD, "ok": "yes"}]).encode(), "`ok`"),
        (json.dumps([{**GOOD, "metrics": {"f1": "NaN"}}]).encode(), "`metrics`"),
        (json.dumps([{**GOOD, "metrics": {f"m{i}": 1 for i in range(201)}}]).encode(), "at most 200"),
        (json.dumps([{**GOOD, "output_hash": "<!-- mlops-bot:card -->"}]).encode(), "`output_hash`"),
        (json.dumps([{**GOOD, "params": {"k": {"nested": 1}}}]).encode(), "`params`"),
        (json.dumps(["churn"]).encode(), "not an object"),
    ],
)
def test_anything_else_is_refused_with_the_reason(raw: bytes, problem: str) -> None:
    with pytest.raises(UntrustedResultsError, match=problem):
        untrusted_results(raw)
