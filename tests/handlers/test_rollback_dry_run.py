"""Issue 11 defect 1: `/rollback --dry-run` reaches the job as `--dry-run`, keyed by the comment."""

from __future__ import annotations

import pytest

from bot.core.config import CONFIG_PATH
from bot.core.jobs import ReconcileRequest, from_params
from bot.core.permissions import Permission
from bot.jobs.plans import plan_job
from tests.handlers.fakes import FakeRepo, Queue, pull
from tests.handlers.test_handlers import CONFIG, comment, dispatch


@pytest.fixture
def repo() -> FakeRepo:
    return FakeRepo(files={CONFIG_PATH: CONFIG}, pulls={7: pull(7)}, permissions={"alice": Permission.ADMIN})


@pytest.fixture
def queue() -> Queue:
    return Queue()


@pytest.mark.parametrize(("body", "dry"), [("/rollback --to 3 --dry-run", True), ("/rollback --to 3", False)])
def test_the_rollback_job_step_carries_the_dry_run_and_the_job_key(
    repo: FakeRepo, queue: Queue, body: str, dry: bool
) -> None:
    dispatch(repo, queue, comment(body, comment_id=4242))
    [(_event, kind, payload)] = queue.jobs.values()
    assert kind == "rollback"
    _sha, _branch, [step], _files, _env = plan_job(repo, from_params(kind, payload["params"]))
    assert ("--dry-run" in step.args) is dry
    assert step.args[step.args.index("--to") + 1] == "3"
    assert step.args[step.args.index("--key") + 1] == "c4242"


@pytest.mark.parametrize("dry", [True, False])
def test_the_reconcile_job_step_carries_the_dry_run(repo: FakeRepo, dry: bool) -> None:
    _sha, _branch, [step], _files, _env = plan_job(repo, ReconcileRequest(model="churn", dry_run=dry))
    assert step.args[0] == "reconcile" and ("--dry-run" in step.args) is dry


def test_a_promote_dry_run_step_carries_its_commands_key_and_time(repo: FakeRepo, queue: Queue) -> None:
    dispatch(repo, queue, comment("/promote --dry-run", comment_id=4343, created_at="2026-01-01T00:10:00Z"))
    [(_event, kind, payload)] = queue.jobs.values()
    assert kind == "plan"
    _sha, _branch, [step], _files, _env = plan_job(repo, from_params(kind, payload["params"]))
    assert "--dry-run" in step.args
    assert step.args[step.args.index("--key") + 1] == "c4343"  # one answer per command, a retry edits it
    assert step.args[step.args.index("--asked-at") + 1] == "2026-01-01T00:10:00Z"
