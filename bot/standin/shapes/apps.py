"""The GitHub App and its installations."""

from __future__ import annotations

import hashlib
from typing import Any

from bot.standin.model import App, Installation, User
from bot.standin.shapes.common import Urls, node_id, user

APP_PERMISSIONS = {
    "checks": "write",
    "contents": "write",
    "deployments": "write",
    "issues": "write",
    "metadata": "read",
    "pull_requests": "write",
    "statuses": "write",
    "actions": "write",
}
APP_EVENTS = ["issue_comment", "issues", "pull_request", "push", "workflow_run"]


def integration(urls: Urls, app: App, owner: User) -> dict[str, Any]:
    return {
        "id": app.id,
        "slug": app.slug,
        "node_id": node_id("App", app.id),
        "client_id": f"Iv1.{hashlib.sha256(str(app.id).encode()).hexdigest()[:16]}",
        "owner": user(urls, owner),
        "name": app.slug,
        "description": "",
        "external_url": f"{urls.html}/apps/{app.slug}",
        "html_url": f"{urls.html}/apps/{app.slug}",
        "created_at": app.created_at,
        "updated_at": app.created_at,
        "permissions": dict(APP_PERMISSIONS),
        "events": list(APP_EVENTS),
        "installations_count": 1,
    }


def installation(urls: Urls, inst: Installation, app: App, account: User) -> dict[str, Any]:
    return {
        "id": inst.id,
        "client_id": f"Iv1.{hashlib.sha256(str(app.id).encode()).hexdigest()[:16]}",
        "account": user(urls, account),
        "repository_selection": "selected",
        "access_tokens_url": f"{urls.api}/app/installations/{inst.id}/access_tokens",
        "repositories_url": f"{urls.api}/installation/repositories",
        "html_url": f"{urls.html}/settings/installations/{inst.id}",
        "app_id": app.id,
        "app_slug": app.slug,
        "target_id": account.id,
        "target_type": "User",
        "permissions": dict(APP_PERMISSIONS),
        "events": list(APP_EVENTS),
        "created_at": inst.created_at,
        "updated_at": inst.created_at,
        "single_file_name": None,
        "has_multiple_single_files": False,
        "single_file_paths": [],
        "suspended_by": None,
        "suspended_at": None,
    }
