"""Deployments, their statuses, and environments."""

from __future__ import annotations

from typing import Any

from bot.standin.model import Deployment, DeploymentStatus, Environment, User
from bot.standin.shapes.common import Urls, node_id, user


def deployment(urls: Urls, full_name: str, d: Deployment, users: dict[str, User]) -> dict[str, Any]:
    api = f"{urls.repo(full_name)}/deployments/{d.id}"
    return {
        "url": api,
        "id": d.id,
        "node_id": node_id("Deployment", d.id),
        "sha": d.sha,
        "ref": d.ref,
        "task": d.task,
        "payload": d.payload,
        "original_environment": d.environment,
        "environment": d.environment,
        "description": d.description,
        "creator": user(urls, users[d.creator]),
        "created_at": d.created_at,
        "updated_at": d.updated_at,
        "statuses_url": f"{api}/statuses",
        "repository_url": urls.repo(full_name),
        "transient_environment": d.transient_environment,
        "production_environment": d.production_environment,
    }


def deployment_status(
    urls: Urls, full_name: str, d: Deployment, s: DeploymentStatus, users: dict[str, User]
) -> dict[str, Any]:
    api = f"{urls.repo(full_name)}/deployments/{d.id}"
    return {
        "url": f"{api}/statuses/{s.id}",
        "id": s.id,
        "node_id": node_id("DeploymentStatus", s.id),
        "state": s.state,
        "creator": user(urls, users[s.creator]),
        "description": s.description,
        "environment": s.environment,
        "target_url": s.log_url,
        "log_url": s.log_url,
        "environment_url": s.environment_url,
        "created_at": s.created_at,
        "updated_at": s.created_at,
        "deployment_url": api,
        "repository_url": urls.repo(full_name),
    }


def protection_rules(urls: Urls, env: Environment, users: dict[str, User]) -> list[dict[str, Any]]:
    """The environment's `protection_rules` as GitHub lists them: one object per rule type."""
    rules: list[dict[str, Any]] = []
    if env.wait_timer:
        rules.append(
            {
                "id": env.wait_timer_rule_id,
                "node_id": node_id("Gate", env.wait_timer_rule_id),
                "type": "wait_timer",
                "wait_timer": env.wait_timer,
            }
        )
    if env.reviewers:
        rules.append(
            {
                "id": env.reviewers_rule_id,
                "node_id": node_id("Gate", env.reviewers_rule_id),
                "type": "required_reviewers",
                "prevent_self_review": env.prevent_self_review,
                "reviewers": [
                    {"type": "User", "reviewer": user(urls, users[login])} for login in env.reviewers
                ],
            }
        )
    return rules


def environment(urls: Urls, full_name: str, env: Environment, users: dict[str, User]) -> dict[str, Any]:
    return {
        "id": env.id,
        "node_id": node_id("Environment", env.id),
        "name": env.name,
        "url": f"{urls.repo(full_name)}/environments/{env.name}",
        "html_url": f"{urls.html}/{full_name}/deployments/activity_log?environments_filter={env.name}",
        "created_at": env.created_at,
        "updated_at": env.updated_at,
        "protection_rules": protection_rules(urls, env, users),
        "deployment_branch_policy": None,
    }
