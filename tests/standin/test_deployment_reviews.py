"""`executor: actions` (issue 15): the bot dispatches the promote workflow `mlops-bot init` writes, whose job
declares the environment it deploys to; the stand-in, as GitHub, holds the run for that environment's required
reviewer. A non-reviewer cannot approve it; the reviewer does, through the deployment-review endpoints GitHub
documents (every request and answer checked against its REST description by the `standin` fixture)."""

from __future__ import annotations

from typing import Any

import pytest
from github import GithubException
from github.EnvironmentProtectionRuleReviewer import ReviewerParams

from bot.adapters.github import GitHubRepo
from bot.core.jobs import MoveRequest
from bot.jobs.plans import WORKFLOWS
from bot.resources import template_path
from tests.standin.conftest import World, client


def _runs(world: World, token: str) -> Any:
    return client(world.standin, token).get_repo(world.full_name)


def _call(repo: Any, verb: str, path: str, body: dict[str, Any] | None = None) -> Any:
    """The deployment-review endpoints PyGithub has no method for, through its own requester."""
    _headers, data = repo._requester.requestJsonAndCheck(verb, f"{repo.url}{path}", input=body)
    return data


@pytest.fixture
def dispatched(world: World) -> tuple[World, int, int]:
    """The promote workflow on main, production protected by a reviewer, and the bot's `/promote --to production`
    dispatched with `executor: actions`: (world, run id, production's environment id)."""
    text = template_path("workflows", "mlops-promote.yml").read_text()
    world.standin.commit(
        world.full_name, "main", {".github/workflows/mlops-promote.yml": text}, "ci", author=world.owner
    )
    owner = world.as_user(world.owner_token)
    env = owner.create_environment(
        "production", reviewers=[ReviewerParams("User", world.standin.users[world.writer].id)]
    )
    bot = GitHubRepo(client(world.standin, world.bot_token), world.full_name, bot_login="mlops-bot[bot]")
    workflow, inputs = WORKFLOWS["move"]
    bot.dispatch_workflow(
        workflow, "main", inputs(bot, MoveRequest(to="production", reply_to=7, model="churn"))
    )
    [run] = world.standin.workflow_runs(world.full_name)
    return world, run.id, env.id


def test_the_run_waits_for_productions_reviewer(dispatched: tuple[World, int, int]) -> None:
    world, run_id, _env_id = dispatched
    [run] = world.standin.workflow_runs(world.full_name)
    assert run.status == "waiting"
    [pending] = _call(_runs(world, world.writer_token), "GET", f"/actions/runs/{run_id}/pending_deployments")
    assert pending["environment"]["name"] == "production" and pending["current_user_can_approve"] is True
    assert [r["reviewer"]["login"] for r in pending["reviewers"]] == [world.writer]
    [as_reader] = _call(
        _runs(world, world.reader_token), "GET", f"/actions/runs/{run_id}/pending_deployments"
    )
    assert as_reader["current_user_can_approve"] is False


def test_a_non_reviewer_cannot_approve_and_the_reviewer_can(dispatched: tuple[World, int, int]) -> None:
    world, run_id, env_id = dispatched
    body = {"environment_ids": [env_id], "state": "approved", "comment": "ship it"}
    with pytest.raises(GithubException) as err:
        _call(_runs(world, world.owner_token), "POST", f"/actions/runs/{run_id}/pending_deployments", body)
    assert err.value.status == 422 and "not a required reviewer" in str(err.value.data)
    assert world.standin.workflow_runs(world.full_name)[0].status == "waiting"

    [deployment] = _call(
        _runs(world, world.writer_token), "POST", f"/actions/runs/{run_id}/pending_deployments", body
    )
    assert deployment["environment"] == "production"
    assert world.standin.workflow_runs(world.full_name)[0].status == "queued"
    [review] = _call(_runs(world, world.reader_token), "GET", f"/actions/runs/{run_id}/approvals")
    assert (review["state"], review["user"]["login"], review["comment"]) == (
        "approved",
        world.writer,
        "ship it",
    )
    assert [e["name"] for e in review["environments"]] == ["production"]
    assert _call(_runs(world, world.writer_token), "GET", f"/actions/runs/{run_id}/pending_deployments") == []


def test_a_rejection_fails_the_run(dispatched: tuple[World, int, int]) -> None:
    world, run_id, env_id = dispatched
    body = {"environment_ids": [env_id], "state": "rejected", "comment": "not yet"}
    assert (
        _call(_runs(world, world.writer_token), "POST", f"/actions/runs/{run_id}/pending_deployments", body)
        == []
    )
    [run] = world.standin.workflow_runs(world.full_name)
    assert (run.status, run.conclusion) == ("completed", "failure")


def test_a_merge_run_declares_the_first_environment_and_is_not_held(world: World) -> None:
    """The same workflow dispatched for a merge's promotion names no environment: its job's is `production`
    here (the template's default; `init` writes the first of promotion.environments), unprotected, so it runs."""
    text = template_path("workflows", "mlops-promote.yml").read_text()
    world.standin.commit(
        world.full_name, "main", {".github/workflows/mlops-promote.yml": text}, "ci", author=world.owner
    )
    world.as_user(world.owner_token).create_environment("staging", wait_timer=5)
    bot = GitHubRepo(client(world.standin, world.bot_token), world.full_name, bot_login="mlops-bot[bot]")
    bot.dispatch_workflow(
        "mlops-promote.yml", "main", {"model": "churn", "sha": "", "dry-run": "false", "pr": "7"}
    )
    [run] = world.standin.workflow_runs(world.full_name)
    assert run.status == "queued" and run.pending_environments == []
