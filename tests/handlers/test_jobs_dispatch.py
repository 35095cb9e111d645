"""`executor: actions`: each heavy job is a workflow_dispatch of the workflow `mlops-bot init` writes, with only
the inputs that workflow declares (GitHub answers 422 to an undeclared input)."""

from __future__ import annotations

from typing import Any

import pytest
from ruamel.yaml import YAML

from bot.core.config import CONFIG_PATH
from bot.core.events import Delivery
from bot.core.jobs import (
    CardRequest,
    PlanRequest,
    ReconcileRequest,
    RollbackRequest,
    TrainRequest,
    from_params,
)
from bot.handlers import dispatcher
from bot.handlers.context import JOB_EVENT, Context
from bot.jobs.plans import WORKFLOWS, plan_job
from bot.resources import template_path
from bot.settings import Settings
from tests.handlers.fakes import FakeFactory, FakeRepo, Queue, pull


class DispatchingRepo(FakeRepo):
    def __init__(self) -> None:
        super().__init__(files={CONFIG_PATH: "models: []\n"}, pulls={7: pull(7, head_sha="9" * 40)})
        self.dispatches: list[tuple[str, str, dict[str, str]]] = []

    def dispatch_workflow(self, workflow: str, ref: str, inputs: Any) -> None:
        self.dispatches.append((workflow, ref, dict(inputs)))


def declared_inputs(workflow: str) -> set[str]:
    doc = YAML(typ="safe").load(template_path("workflows", workflow).read_text())
    on = doc.get("on") or doc.get(True)  # YAML 1.1 reads a bare `on` key as True
    return set((on["workflow_dispatch"] or {}).get("inputs", {}))


@pytest.mark.parametrize(
    ("kind", "params"),
    [
        ("train", {"pr": 7, "model": None}),
        ("card", {"pr": 7, "model": "churn"}),
        ("plan", {"pr": 7, "reply_to": 7, "model": None}),
        ("promote", {"pr": 7, "sha": "c" * 40, "model": None}),
        ("drift", {"reply_to": 3, "model": "churn"}),
    ],
)
def test_heavy_jobs_dispatch_their_workflow_with_declared_inputs(kind: str, params: dict[str, Any]) -> None:
    repo = DispatchingRepo()
    ctx = Context(settings=Settings(executor="actions"), github=FakeFactory(repo), enqueue=Queue())
    delivery = Delivery(
        id=f"job:{kind}:x",
        event=JOB_EVENT,
        action=kind,
        payload={"repository": {"full_name": repo.full_name}, "installation": {"id": 1}, "params": params},
    )
    dispatcher(ctx)(delivery)  # the worker's own routing, as a queued job row reaches it
    [(workflow, ref, inputs)] = repo.dispatches
    assert workflow == WORKFLOWS[kind][0] and ref == "main"
    assert set(inputs) <= declared_inputs(workflow), f"{kind} sends inputs {workflow} does not declare"
    assert all(isinstance(v, str) for v in inputs.values())
    if kind in ("train", "card"):
        assert inputs["sha"] == "9" * 40, "the dispatched run trains exactly the head the bot checked"


# -- issue 18, finding 2: a job runs the commit its handler judged, not the head at the time it starts -----
def test_a_job_runs_the_approved_sha_after_the_head_moved() -> None:
    repo = DispatchingRepo()
    repo.pulls[8] = pull(8, fork=True, head_sha="e" * 40)  # pushed after the approval of "d" * 40
    inputs = WORKFLOWS["train"][1](repo, TrainRequest(pr=8, sha="d" * 40))
    assert inputs["sha"] == "d" * 40
    checkout, branch, _steps, files, env = plan_job(repo, TrainRequest(pr=8, sha="d" * 40))
    assert (checkout, branch, env["GITHUB_SHA"]) == ("d" * 40, None, "d" * 40)
    assert '"sha": "' + "d" * 40 in files["event.json"]
    assert plan_job(repo, CardRequest(pr=8, sha="d" * 40))[0] == "d" * 40


def test_a_same_repo_job_whose_branch_moved_does_not_commit_the_lock_onto_it() -> None:
    repo = DispatchingRepo()  # PR 7's head is "9" * 40
    checkout, branch, steps, _, _ = plan_job(repo, TrainRequest(pr=7, sha="d" * 40))
    assert checkout == "d" * 40 and branch is None
    assert "--commit-lock" not in steps[0].args


def test_a_fork_job_naming_no_commit_is_refused() -> None:
    from bot.core.events import PermanentError

    repo = DispatchingRepo()
    repo.pulls[8] = pull(8, fork=True)
    old_row = from_params("train", {"pr": 8, "model": None})  # queued before jobs carried their commit
    with pytest.raises(PermanentError, match="names no approved commit"):
        plan_job(repo, old_row)
    with pytest.raises(PermanentError, match="names no approved commit"):
        WORKFLOWS["train"][1](repo, old_row)


# -- issue 11: a dry run stays a dry run in either executor ----------------------------------------------------
@pytest.mark.parametrize("executor", ["local", "actions"])
@pytest.mark.parametrize(
    "request_",
    [
        PlanRequest(pr=7, reply_to=7, comment_id=5),
        RollbackRequest(reply_to=7, to="1", job_key="c5", dry_run=True),
        ReconcileRequest(dry_run=True),
    ],
    ids=lambda r: r.KIND,
)
def test_a_dry_run_reaches_its_step_as_a_dry_run_in_either_executor(executor: str, request_: Any) -> None:
    repo = DispatchingRepo()
    if executor == "actions" and request_.KIND in WORKFLOWS:
        workflow, inputs = WORKFLOWS[request_.KIND]
        assert inputs(repo, request_)["dry-run"] == "true"  # the promote workflow's input
        assert "dry-run" in declared_inputs(workflow)
    else:  # the local executor, and registry moves in both modes (rollback, reconcile run locally)
        [step] = plan_job(repo, request_).steps
        assert "--dry-run" in step.args, step.args
