"""`/promote MODEL --to production`: who may ask, what job it queues (the asker's login travels with it, for
production's required reviewers), and the step or workflow dispatch it becomes."""

from __future__ import annotations

import pytest

from bot.core.config import CONFIG_PATH
from bot.core.jobs import MoveRequest, from_params
from bot.core.permissions import Permission
from bot.jobs.plans import WORKFLOWS, plan_job
from tests.handlers.fakes import FakeRepo, Queue, pull
from tests.handlers.test_handlers import CONFIG, comment, dispatch


@pytest.fixture
def repo() -> FakeRepo:
    return FakeRepo(
        files={CONFIG_PATH: CONFIG},
        pulls={7: pull(7)},
        permissions={"rita": Permission.MAINTAIN, "wendy": Permission.WRITE},
    )


@pytest.fixture
def queue() -> Queue:
    return Queue()


@pytest.mark.parametrize(
    ("body", "dry"), [("/promote churn --to production", False), ("/promote --to production --dry-run", True)]
)
def test_a_maintainer_queues_the_move_with_who_asked(
    repo: FakeRepo, queue: Queue, body: str, dry: bool
) -> None:
    dispatch(repo, queue, comment(body, user="rita", comment_id=4444, on_pull=False))
    [(_event, kind, payload)] = queue.jobs.values()
    assert kind == "move"
    request = from_params(kind, payload["params"])
    assert isinstance(request, MoveRequest)
    assert (request.to, request.asked_by, request.reply_to, request.dry_run) == ("production", "rita", 7, dry)
    checkout, _branch, [step], _files, _env = plan_job(repo, request)
    assert checkout == repo.default_branch()  # what moves on is what staging serves, not a PR's commit
    args = step.args
    assert args[0] == "promote" and args[args.index("--to") + 1] == "production"
    assert args[args.index("--asked-by") + 1] == "rita"
    assert args[args.index("--key") + 1] == "c4444"
    assert ("--dry-run" in args) is dry and "--sha" not in args


def test_the_promote_permission_applies(repo: FakeRepo, queue: Queue) -> None:
    dispatch(repo, queue, comment("/promote churn --to production", user="wendy"))
    assert queue.jobs == {}
    [answer] = repo.texts(7)
    assert "needs maintain permission" in answer


def test_with_actions_the_workflow_is_dispatched_to_the_environment(repo: FakeRepo) -> None:
    """GitHub holds the job, which declares `environment: ${{ inputs.environment || ... }}`, for the
    environment's reviewers (tests/actions check the workflow itself)."""
    workflow, inputs = WORKFLOWS["move"]
    request = MoveRequest(to="production", reply_to=7, model="churn", asked_by="rita")
    assert workflow == "mlops-promote.yml"
    assert inputs(repo, request) == {
        "model": "churn",
        "sha": "",
        "dry-run": "false",
        "pr": "7",
        "environment": "production",
    }
