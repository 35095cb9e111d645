"""Typed job requests: what crosses the queue is read back exactly, and a row this version did not write is
one clear error naming the field (bot/core/jobs.py)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from bot.core.jobs import (
    KINDS,
    CanaryRequest,
    CardRequest,
    DriftRequest,
    JobRequest,
    JobRequestError,
    MoveRequest,
    PlanRequest,
    PromoteRequest,
    ReconcileRequest,
    RollbackRequest,
    TrainRequest,
    from_params,
    to_params,
)

EVERY_KIND: list[JobRequest] = [
    TrainRequest(pr=7, sha="a" * 40, model="churn"),
    CardRequest(pr=7, sha="a" * 40),
    PlanRequest(pr=None, reply_to=3),
    PromoteRequest(sha="c" * 40, pr=7, model=None),
    MoveRequest(to="production", reply_to=7, model="churn", asked_by="rita", comment_id=42, dry_run=True),
    CanaryRequest(sha="a" * 40, percent="10", pr=7, model="churn", reply_to=7, comment_id=43, dry_run=True),
    RollbackRequest(reply_to=7, model="churn", to="3", job_key="c42", dry_run=True),
    DriftRequest(model="churn", reply_to=None),
    ReconcileRequest(dry_run=False),
]


def test_every_kind_has_a_request() -> None:
    assert sorted(KINDS) == sorted({r.KIND for r in EVERY_KIND})


@pytest.mark.parametrize("request_", EVERY_KIND, ids=lambda r: r.KIND)
def test_a_request_survives_the_queue_row_json(request_: JobRequest) -> None:
    row = json.loads(json.dumps(to_params(request_)))  # what the store keeps and gives back
    assert from_params(request_.KIND, row) == request_


def test_rows_written_before_jobs_carried_their_commit_still_read() -> None:
    assert from_params("train", {"pr": 7, "model": None}) == TrainRequest(pr=7, sha="")
    assert from_params("reconcile", {"model": None}) == ReconcileRequest()


@pytest.mark.parametrize(
    ("kind", "params", "said"),
    [
        ("retrain", {}, "unknown job kind 'retrain'"),
        ("train", None, "carries no parameters object"),
        ("train", ["pr", 7], "carries no parameters object"),
        ("rollback", {"model": "churn"}, "lacks `reply_to`"),
        ("train", {"pr": "7", "sha": "a"}, "`pr` = '7', not an integer"),
        ("train", {"pr": True, "sha": "a"}, "`pr` = True, not an integer"),
        ("rollback", {"reply_to": 7, "dry_run": "yes"}, "`dry_run` = 'yes', not true/false"),
        ("plan", {"pr": 1.5}, "`pr` = 1.5, not an integer or null"),
        ("drift", {"model": "churn", "to": "3"}, "unknown parameter(s): to"),
    ],
)
def test_a_row_this_version_cannot_read_says_what_is_wrong(kind: str, params: Any, said: str) -> None:
    with pytest.raises(JobRequestError) as caught:
        from_params(kind, params)
    assert said in str(caught.value)


def test_a_malformed_job_row_fails_permanently_with_its_reason() -> None:
    from bot.core.events import Delivery, PermanentError
    from bot.handlers.context import JOB_EVENT, job_request

    row = Delivery(id="job:rollback:x", event=JOB_EVENT, action="rollback", payload={"params": {"to": "3"}})
    with pytest.raises(PermanentError, match="a rollback job row lacks `reply_to`"):
        job_request(row)
