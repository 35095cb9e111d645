"""MLflow registry events: a moved alias makes the bot reconcile the repository that owns the model.

The owning repository is the registered model's `mlops_bot.repo` tag (set at promotion). It is read from the
tracking server's REST API, so the web process never imports the MLflow SDK.
"""

from __future__ import annotations

import logging
from typing import Any

import httpx

from bot.core import keys
from bot.core.events import Delivery
from bot.core.jobs import ReconcileRequest, to_params
from bot.core.tags import MODEL_REPO_TAG
from bot.handlers.context import JOB_EVENT, Context

log = logging.getLogger(__name__)

REPO_TAG = MODEL_REPO_TAG


def owning_repo(tracking_uri: str, model: str) -> str | None:
    if not tracking_uri.startswith(("http://", "https://")):
        return None  # registry webhooks only exist on a tracking server
    answer = httpx.get(
        f"{tracking_uri.rstrip('/')}/api/2.0/mlflow/registered-models/get", params={"name": model}, timeout=10
    )
    if answer.status_code == 404:
        return None
    answer.raise_for_status()
    tags = answer.json().get("registered_model", {}).get("tags", [])
    return next((str(t["value"]) for t in tags if t.get("key") == REPO_TAG), None)


def on_registry_event(ctx: Context, delivery: Delivery) -> None:
    if not str(delivery.action or "").startswith("model_version_alias."):
        return  # tags and new versions do not change which model serves
    model = str((delivery.payload.get("data") or {}).get("name", ""))
    repo = owning_repo(ctx.settings.mlflow_tracking_uri, model) if model else None
    if repo is None:
        log.info("registry event for %r: no repository owns it, nothing to reconcile", model)
        return
    payload: dict[str, Any] = {
        "repository": {"full_name": repo},
        "installation": {"id": None},
        "sender": {"login": "mlflow", "type": "Bot"},
        "params": to_params(ReconcileRequest(model=model)),
    }
    ctx.enqueue(
        keys.reconcile_after_registry_event(repo, model, delivery.id), JOB_EVENT, "reconcile", payload
    )


ROUTES: dict[str, Any] = {"mlflow": on_registry_event}
