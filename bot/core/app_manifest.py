"""The GitHub App manifest for mlops-bot: what the app asks for when someone registers it.

Manifest flow: https://docs.github.com/en/apps/sharing-github-apps/registering-a-github-app-from-a-manifest
GitHub generates the webhook secret, the private key and the app id when the manifest is converted, so
the manifest itself carries no secret.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

DEFAULT_NAME = "mlops-bot"
DEFAULT_DESCRIPTION = (
    "Trains models on pull requests (DVC + MLflow), posts model cards, promotes on merge and "
    "opens retrain PRs when production data drifts."
)
WEBHOOK_PATH = "/webhook"

# The least the bot needs; each entry names what would break without it.
# Not asked for: `statuses` (the bot reports through Check Runs, not commit statuses), `administration`,
# `secrets`, `workflows` (it never edits files under .github/workflows).
PERMISSIONS: dict[str, str] = {
    "metadata": "read",  # mandatory for every app; repository names and collaborators' permission levels
    "contents": "write",  # read dvc.lock/config at any sha; push retrain branches and dvc.lock commits
    "pull_requests": "write",  # the sticky model card, replies to commands, retrain PRs
    "issues": "write",  # reactions and replies on comments, the one drift issue per model
    "checks": "write",  # one Check Run per model carrying the card and the gate's conclusion
    "deployments": "write",  # a Deployment to `production` records every promotion and rollback
    "actions": "write",  # workflow_dispatch of the train/promote/drift workflows, reading their runs
}

# Only events a handler subscribes to; GitHub delivers nothing else.
EVENTS: tuple[str, ...] = (
    "pull_request",  # train on open/synchronize, promote on merge
    "issue_comment",  # /train, /card, /promote, /rollback, /drift, /ok-to-test, /help
    "push",  # reconcile the default branch's dvc.lock with the champion alias
    "workflow_run",  # post the card from a fork PR's uploaded results; follow dispatched jobs
)


class ManifestError(ValueError):
    """An argument that cannot go into a manifest; the message says which and why."""


def build_manifest(
    *,
    url: str,
    webhook_url: str | None = None,
    name: str = DEFAULT_NAME,
    redirect_url: str | None = None,
    description: str = DEFAULT_DESCRIPTION,
) -> dict[str, Any]:
    """The manifest JSON object. `url` is the app's home page (the bot's public address); the webhook
    URL defaults to `<url>/webhook`, where `mlops-bot serve` listens."""
    home = _http_url("--url", url)
    hook = _http_url("--webhook-url", webhook_url) if webhook_url else home.rstrip("/") + WEBHOOK_PATH
    if not name.strip():
        raise ManifestError("--name must not be empty")
    manifest: dict[str, Any] = {
        "name": name.strip(),
        "url": home,
        "description": description,
        "hook_attributes": {"url": hook, "active": True},
        "public": False,  # each organisation registers its own app from this manifest
        "default_permissions": dict(PERMISSIONS),
        "default_events": list(EVENTS),
    }
    if redirect_url:
        manifest["redirect_url"] = _http_url("--redirect-url", redirect_url)
    return manifest


def _http_url(flag: str, value: str) -> str:
    parts = urlsplit(value.strip())
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ManifestError(
            f"{flag} must be an absolute http(s) URL such as https://bot.example.com, got {value!r}"
        )
    if parts.username or parts.password:
        # The manifest is shown in a browser form and stored by GitHub: no credentials in it.
        raise ManifestError(f"{flag} must not contain a user name or password")
    return value.strip()
