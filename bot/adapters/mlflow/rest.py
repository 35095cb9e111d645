"""The one MLflow question the web process asks, over the tracking server's REST API (no MLflow SDK import:
it takes seconds and the webhook intake must stay light)."""

from __future__ import annotations

import httpx

from bot.core.tags import MODEL_REPO_TAG


def owning_repo(tracking_uri: str, model: str) -> str | None:
    """The repository whose promotions own registered model `model` (its `mlops_bot.repo` tag); None when
    the tracking URI is not a server, the model does not exist, or no repository claimed it."""
    if not tracking_uri.startswith(("http://", "https://")):
        return None  # registry webhooks only exist on a tracking server
    answer = httpx.get(
        f"{tracking_uri.rstrip('/')}/api/2.0/mlflow/registered-models/get", params={"name": model}, timeout=10
    )
    if answer.status_code == 404:
        return None
    answer.raise_for_status()
    tags = answer.json().get("registered_model", {}).get("tags", [])
    return next((str(t["value"]) for t in tags if t.get("key") == MODEL_REPO_TAG), None)
