"""MLflow registry events: a moved alias makes the bot reconcile the repository that owns the model.

The owning repository is the registered model's `mlops_bot.repo` tag (set at promotion), read by
the `ModelOwners` port (bot/adapters/mlflow/rest.py asks the tracking server's REST API; the web process never
imports the MLflow SDK), given to the handlers in their Context.
"""

from __future__ import annotations

import logging
from typing import Any

from bot.core import keys
from bot.core.events import Delivery
from bot.core.jobs import ReconcileRequest, to_params
from bot.handlers.context import JOB_EVENT, Context

log = logging.getLogger(__name__)


def on_registry_event(ctx: Context, delivery: Delivery) -> None:
    if not str(delivery.action or "").startswith("model_version_alias."):
        return  # tags and new versions do not change which model serves
    model = str((delivery.payload.get("data") or {}).get("name", ""))
    repo = ctx.model_owners(model) if model and ctx.model_owners is not None else None
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
