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
    env = repo.environments.get(call.params["environment_name"])
    if env is None:
        raise StandInError(404, "Not Found")
    return Reply(200, shapes.environment(call.standin.urls, repo.full_name, env))


@op("repos/create-or-update-environment")
def put_environment(call: Call) -> Reply:
    repo = call.repo()
    call.require(repo, "admin")
    name = call.params["environment_name"]
    env = repo.environments.get(name)
    if env is None:
        env = Environment(call.standin.ids(), name)
        repo.environments[name] = env
    env.updated_at = iso_now()
    return Reply(200, shapes.environment(call.standin.urls, repo.full_name, env))
