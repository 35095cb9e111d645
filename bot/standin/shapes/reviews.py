"""Deployment reviews of a workflow run: its pending deployments and its review log."""

from __future__ import annotations

from typing import Any

from bot.standin.model import Environment, EnvironmentReview, User
from bot.standin.shapes.common import Urls, node_id, user


def environment_ref(urls: Urls, full_name: str, env: Environment) -> dict[str, Any]:
    """The short environment object pending deployments and reviews carry."""
    return {
        "id": env.id,
        "node_id": node_id("Environment", env.id),
        "name": env.name,
        "url": f"{urls.repo(full_name)}/environments/{env.name}",
        "html_url": f"{urls.html}/{full_name}/deployments/activity_log?environments_filter={env.name}",
    }


def pending_deployment(
    urls: Urls, full_name: str, env: Environment, users: dict[str, User], *, since: str, viewer: str | None
) -> dict[str, Any]:
    return {
        "environment": environment_ref(urls, full_name, env),
        "wait_timer": env.wait_timer,
        "wait_timer_started_at": since if env.wait_timer else None,
        "current_user_can_approve": viewer is not None and viewer in env.reviewers,
        "reviewers": [{"type": "User", "reviewer": user(urls, users[login])} for login in env.reviewers],
    }


def review(
    urls: Urls, full_name: str, entry: EnvironmentReview, envs: list[Environment], users: dict[str, User]
) -> dict[str, Any]:
    return {
        "environments": [
            {**environment_ref(urls, full_name, e), "created_at": e.created_at, "updated_at": e.updated_at}
            for e in envs
        ],
        "state": entry.state,
        "user": user(urls, users[entry.user]),
        "comment": entry.comment,
    }
