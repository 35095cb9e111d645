"""MLflow registry events: a moved alias makes the bot reconcile the repository that owns the model.

The owning repository is the registered model's `mlops_bot.repo` tag (set at promotion), read by
bot/adapters/mlflow/rest.py from the tracking server's REST API: the web process never imports the MLflow SDK.
"""

from __future__ import annotations

import logging
from typing import Any

from bot.adapters.mlflow.rest import owning_repo
from bot.core import keys
from bot.core.events import Delivery
from bot.core.jobs import ReconcileRequest, to_params
from bot.handlers.context import JOB_EVENT, Context

log = logging.getLogger(__name__)


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
