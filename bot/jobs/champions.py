"""Where a promotion, rollback or reconcile correction records the champion it left: the bot's store
(`champion_moves`), which `/metrics` reads at every scrape, so the champion gauges are right at once instead
of after the next scheduled check. The store is the bot's (MLOPS_BOT_DATABASE_URL), and only when one is set: a
job on an Actions runner without one records nothing (a default would make an empty store in the checkout)."""

from __future__ import annotations

import logging
import time
from typing import Literal

from bot.jobs.common import JobEnv

log = logging.getLogger(__name__)

MoveKind = Literal["promote", "rollback", "reconcile"]


def record_champion_move(env: JobEnv, model: str, version: str, run_id: str, kind: MoveKind) -> None:
    """Record that `version` of `model` is now champion. A store fault is logged, never raised: the alias has
    moved already, and the next check reports it anyway."""
    from bot.adapters.store import ChampionMove, Store

    if "database_url" not in env.settings.model_fields_set:
        return
    try:
        store = Store(env.settings.database_url)
        try:
            store.record_champion_move(ChampionMove(env.repo, model, version, run_id, kind, time.time()))
        finally:
            store.close()
    except Exception as error:
        log.warning("the new champion of %s was not recorded in the store: %s", model, type(error).__name__)
