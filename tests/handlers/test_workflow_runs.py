"""`workflow_run.completed`: the bot reports how each job it dispatched ended, once per run.

The decision (`run_outcome`) is table-tested on payloads; the whole path runs with the REAL bot (app, durable
queue, worker, PyGithub adapter) against the GitHub stand-in over HTTP, in `executor: actions` mode.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from bot.adapters.store import DONE
from bot.handlers.workflow_runs import outcome_marker, outcome_reply, run_outcome
from tests.reliability.harness import REPO, WRITER, app_keys, bot_in_process, make_world, wait_for


def _payload(**run: Any) -> dict[str, Any]:
    base = {
        "id": 99,
        "event": "workflow_dispatch",
        "path": ".github/workflows/mlops-pr.yml",
        "display_title": "mlops-bot train #7",
        "conclusion": "success",
        "html_url": "http://127.0.0.1/acme/model/actions/runs/99",
    }
    return {"action": "completed", "workflow_run": {**base, **run}}


@pytest.mark.parametrize(
    ("run", "job", "number"),
    [
        ({}, "train", 7),
        (
            {"path": ".github/workflows/mlops-promote.yml", "display_title": "mlops-bot plan churn #5"},
            "plan",
            5,
        ),
        (
            {"path": ".github/workflows/mlops-drift.yml", "display_title": "mlops-bot drift churn #12"},
            "drift",
            12,
        ),
        ({"event": "pull_request"}, None, None),  # the card and check run report PR-triggered runs
        ({"event": "push", "path": ".github/workflows/mlops-promote.yml"}, None, None),
        ({"path": ".github/workflows/ci.yml", "display_title": "mlops-bot train #7"}, None, None),
        ({"path": "elsewhere/mlops-pr.yml"}, None, None),
        ({"display_title": "mlops-bot drift"}, None, None),  # dispatched by hand for no issue
        ({"display_title": "Deploy #7"}, None, None),
    ],
)
def test_which_runs_are_reported_and_where(run: dict[str, Any], job: str | None, number: int | None) -> None:
    outcome = run_outcome(_payload(**run))
    assert (outcome.job, outcome.number) == (job, number) if outcome else (job, number) == (None, None)


def test_a_failed_run_says_how_to_retry_and_a_success_does_not() -> None:
    failed = run_outcome(_payload(conclusion="failure"))
    passed = run_outcome(_payload(conclusion="success"))
    assert failed is not None and passed is not None
    assert "`/train`" in outcome_reply(failed) and "failed" in outcome_reply(failed)
    assert "/train" not in outcome_reply(passed) and "succeeded" in outcome_reply(passed)
    assert outcome_reply(failed).startswith(outcome_marker(99))
    assert "](http://127.0.0.1/acme/model/actions/runs/99)" in outcome_reply(failed)


# ---------------------------------------------------------------------------------------------------------
# End to end


@pytest.mark.slow
def test_train_dispatches_and_each_finished_run_is_reported_once(tmp_path: Path) -> None:
    private_key, public_key = app_keys()
    world = make_world(tmp_path, database_url=f"sqlite:///{tmp_path / 'bot.db'}", private_key=private_key,
                       public_key=public_key, executor="actions")  # fmt: skip
    s = world.standin
    try:
        with bot_in_process(world) as store:
            s.commit(REPO, "tune", {"params.yaml": "lr: 0.2\n"}, "Tune", author=WRITER)
            number = s.open_pull(REPO, head="tune", title="Tune", author=WRITER)
            opened = wait_for(lambda: s.workflow_runs(REPO), "the PR's training to be dispatched", 20)

            def train(conclusion: str) -> Any:
                before = len(s.workflow_runs(REPO))
                world.comment(number, "/train", WRITER)
                runs = wait_for(lambda: s.workflow_runs(REPO)[before:], "/train to be dispatched", 20)
                [run] = runs
                s.finish_workflow_run(REPO, run.id, conclusion)
                marker = outcome_marker(run.id)
                wait_for(lambda: [c for c in world.bot_comments(number) if marker in c.body],
                         f"the report of run {run.id}", 20)  # fmt: skip
                return run

            good = train("success")
            bad = train("failure")

            dispatch = s.dispatches(REPO)[-1]
            assert dispatch.workflow == ".github/workflows/mlops-pr.yml"
            assert set(dispatch.inputs) == {"pr", "model", "sha"}, "only the inputs mlops-pr.yml declares"
            assert dispatch.inputs["pr"] == str(number)
            assert dispatch.inputs["sha"] == s.pull(REPO, number).head_sha
            assert good.display_title == bad.display_title == f"mlops-bot train #{number}"

            reports = {r.id: [c for c in world.bot_comments(number) if outcome_marker(r.id) in c.body]
                       for r in (good, bad)}  # fmt: skip
            assert [len(v) for v in reports.values()] == [1, 1]
            [good_reply], [bad_reply] = reports.values()
            assert "succeeded" in good_reply.body and f"/actions/runs/{good.id}" in good_reply.body
            assert "/train" not in good_reply.body
            assert "failed" in bad_reply.body and "`/train`" in bad_reply.body
            assert f"/actions/runs/{bad.id}" in bad_reply.body
            # The run the PR's opening dispatched is reported on nothing until it finishes.
            assert not any(outcome_marker(opened[0].id) in c.body for c in world.bot_comments(number))

            # Redelivery, by GitHub's button (same GUID) and by an at-least-once resend (new GUID).
            completed = [d for d in s.deliveries if d.event == "workflow_run" and d.action == "completed"]
            snapshot = [(c.id, c.body, c.updated_at) for c in world.bot_comments(number)]
            for delivery in completed:
                s.redeliver(delivery.id)
                s.redeliver(delivery.id, new_guid=True)
            assert s.wait_for_deliveries(10)
            resent = s.deliveries[-1].id
            wait_for(lambda: (row := store.get(resent)) is not None and row.status == DONE and
                     store.queue_depth() == 0, "the resent deliveries to be handled", 20)  # fmt: skip
            assert [(c.id, c.body, c.updated_at) for c in world.bot_comments(number)] == snapshot
        s.check()
    finally:
        s.stop()
