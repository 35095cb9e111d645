"""REST handlers: deployments, their statuses, and environments."""

from __future__ import annotations

import contextlib
import json
from typing import Any

from bot.standin import shapes
from bot.standin.domain.state import StandInError
from bot.standin.model import DeploymentStatus, Environment, Repo
from bot.standin.rest.call import Call, Reply, iso_now, op


@op("repos/list-deployments")
def list_deployments(call: Call) -> Reply:
    s = call.standin
    repo = call.repo()
    items = sorted(repo.deployments.values(), key=lambda d: -d.id)
    for key in ("sha", "ref", "task", "environment"):
        if key in call.query and call.query[key] not in (None, "none"):
            items = [d for d in items if getattr(d, key) == call.query[key]]
    chunk, headers = call.page(items)
    return Reply(200, [shapes.deployment(s.urls, repo.full_name, d, s.users) for d in chunk], headers)


@op("repos/create-deployment")
def create_deployment(call: Call) -> Reply:
    s = call.standin
    repo = call.repo()
    call.require(repo, "write")
    body = call.body
    sha = repo.git.resolve_commit(body["ref"])
    if sha is None:
        raise StandInError(422, f"No ref found for: {body['ref']}")
    environment = body.get("environment", "production")
    payload = body.get("payload", {})
    if isinstance(payload, str):
        with contextlib.suppress(ValueError):  # GitHub keeps a non-JSON string payload as it is
            payload = json.loads(payload) if payload else {}
    deployment = s.new_deployment(
        repo,
        ref=body["ref"],
        sha=sha,
        task=body.get("task", "deploy"),
        environment=environment,
        payload=payload,
        description=body.get("description"),
        creator=call.login,
        transient_environment=bool(body.get("transient_environment", False)),
        production_environment=bool(body.get("production_environment", environment == "production")),
    )
    if environment not in repo.environments:
        repo.environments[environment] = Environment(s.ids(), environment)
    return Reply(201, shapes.deployment(s.urls, repo.full_name, deployment, s.users))


def _deployment(repo: Repo, deployment_id: int) -> Any:
    deployment = repo.deployments.get(deployment_id)
    if deployment is None:
        raise StandInError(404, "Not Found")
    return deployment


@op("repos/get-deployment")
def get_deployment(call: Call) -> Reply:
    s = call.standin
    repo = call.repo()
    deployment = _deployment(repo, call.params["deployment_id"])
    return Reply(200, shapes.deployment(s.urls, repo.full_name, deployment, s.users))


@op("repos/list-deployment-statuses")
def list_deployment_statuses(call: Call) -> Reply:
    s = call.standin
    repo = call.repo()
    deployment = _deployment(repo, call.params["deployment_id"])
    chunk, headers = call.page(sorted(deployment.statuses, key=lambda st: -st.id))
    return Reply(
        200,
        [shapes.deployment_status(s.urls, repo.full_name, deployment, st, s.users) for st in chunk],
        headers,
    )


@op("repos/create-deployment-status")
def create_deployment_status(call: Call) -> Reply:
    s = call.standin
    repo = call.repo()
    call.require(repo, "write")
    deployment = _deployment(repo, call.params["deployment_id"])
    body = call.body
    status = DeploymentStatus(
        s.ids(),
        body["state"],
        body.get("description", ""),
        body.get("log_url") or body.get("target_url", ""),
        body.get("environment_url", ""),
        body.get("environment") or deployment.environment,
        call.login,
    )
    deployment.statuses.append(status)
    deployment.updated_at = status.created_at
    # auto_inactive (default true): earlier successful deployments to the environment become inactive.
    if status.state == "success" and body.get("auto_inactive", True):
        for other in repo.deployments.values():
            if other is deployment or other.environment != deployment.environment or not other.statuses:
                continue
            if max(other.statuses, key=lambda st: st.id).state == "success":
                other.statuses.append(
                    DeploymentStatus(s.ids(), "inactive", "", "", "", other.environment, call.login)
                )
    return Reply(201, shapes.deployment_status(s.urls, repo.full_name, deployment, status, s.users))


@op("repos/get-environment")
def get_environment(call: Call) -> Reply:
    repo = call.repo()
    env = _environment(repo, call.params["environment_name"])
    if env is None:
        raise StandInError(404, "Not Found")
    return Reply(200, shapes.environment(call.standin.urls, repo.full_name, env, call.standin.users))


def _environment(repo: Repo, name: str) -> Environment | None:
    """GitHub's environment names are not case sensitive."""
    return next((e for n, e in repo.environments.items() if n.lower() == name.lower()), None)


MAX_REVIEWERS = 6  # "You can list up to six users or teams as reviewers."
MAX_WAIT_TIMER = 43_200  # minutes: "an integer between 0 and 43,200 (30 days)"


@op("repos/create-or-update-environment")
def put_environment(call: Call) -> Reply:
    s = call.standin
    repo = call.repo()
    call.require(repo, "admin")
    name = call.params["environment_name"]
    body = call.body if isinstance(call.body, dict) else {}
    reviewers = _reviewers(call, repo, body.get("reviewers"))
    wait = body.get("wait_timer")
    if wait is not None and not 0 <= int(wait) <= MAX_WAIT_TIMER:
        raise StandInError(422, f"wait_timer must be an integer between 0 and {MAX_WAIT_TIMER}")
    env = _environment(repo, name)
    if env is None:
        env = Environment(s.ids(), name)
        repo.environments[name] = env
    # A PUT states the environment's rules whole: what the body leaves out is no longer a rule.
    env.wait_timer = int(wait or 0)
    env.wait_timer_rule_id = env.wait_timer_rule_id or s.ids()
    env.reviewers = reviewers or []
    env.reviewers_rule_id = env.reviewers_rule_id or s.ids()
    env.prevent_self_review = bool(body.get("prevent_self_review") or False)
    env.updated_at = iso_now()
    return Reply(200, shapes.environment(s.urls, repo.full_name, env, s.users))


def _reviewers(call: Call, repo: Repo, given: Any) -> list[str] | None:
    """The logins of `reviewers: [{type, id}]`; None when the body names none."""
    if given is None:
        return None
    if len(given) > MAX_REVIEWERS:
        raise StandInError(422, f"You can list up to {MAX_REVIEWERS} users or teams as reviewers.")
    by_id = {u.id: u.login for u in call.standin.users.values()}
    logins = []
    for entry in given:
        if entry.get("type") == "Team":
            raise StandInError(422, "the stand-in serves no teams; list users as reviewers")
        login = by_id.get(int(entry.get("id", 0)))
        if login is None:
            raise StandInError(422, f"Reviewer {entry.get('id')} is not a user")
        if call.standin.role(repo, login) == "none":  # "The reviewers must have at least read access"
            raise StandInError(422, f"{login} has no access to {repo.full_name}, so cannot review")
        logins.append(login)
    return logins
