"""`installation.deleted` and `installation_repositories.removed`: forget what the App can no longer reach.

GitHub revokes the installation's tokens itself; the bot drops its cached ones so no job is handed a dead
token, and the reconcile timer stops serving those repositories because the store reads these deliveries
(bot.adapters.store `recent_repositories`).
https://docs.github.com/en/webhooks/webhook-events-and-payloads#installation
"""

from __future__ import annotations

import logging
from typing import Any

from bot.core.events import Delivery
from bot.handlers.context import Context

log = logging.getLogger(__name__)


def _installation_id(delivery: Delivery) -> int | None:
    value = (delivery.payload.get("installation") or {}).get("id")
    return int(value) if isinstance(value, int) else None


def on_installation_deleted(ctx: Context, delivery: Delivery) -> None:
    installation_id = _installation_id(delivery)
    if installation_id is None:
        return
    ctx.github.forget(installation_id)
    log.info("installation %s deleted: its cached tokens are forgotten", installation_id)


def on_repositories_removed(ctx: Context, delivery: Delivery) -> None:
    installation_id = _installation_id(delivery)
    removed = [
        str(r["full_name"])
        for r in delivery.payload.get("repositories_removed") or []
        if isinstance(r, dict) and r.get("full_name")
    ]
    if installation_id is None or not removed:
        return
    ctx.github.forget(installation_id, removed)
    log.info("installation %s lost %s: cached tokens forgotten", installation_id, ", ".join(removed))


ROUTES: dict[str, Any] = {
    "installation.deleted": on_installation_deleted,
    "installation_repositories.removed": on_repositories_removed,
}
