"""The soak (`promotion.soak`): a version that served staging that long, with its monitoring checks green, moves
on to production by itself. Run with every reconcile (the periodic timer's job, `mlops-bot reconcile`).

`soak_due` (bot/core/environments.py) decides; the move is `move_on`'s, keyed by (model, version, environment),
so a second tick finds the Deployment and the answer the first made. The answer goes to the pull request that
promoted the version to staging. A reviewer rule on production stops the soak (it has nobody's approval).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from bot.core.config import ModelSpec
from bot.core.environments import checks_green, soak_due, stage_tag
from bot.core.monitoring.history import CheckRecord
from bot.core.tags import VersionTags
from bot.jobs.common import JobEnv
from bot.jobs.promote import Locker, PromotionOutcome, no_lock
from bot.jobs.promote_env import AfterMove, Clock, move_on, parse_time, utc_now

SOAK_KEY = "soak"  # the key of the soak's answer: one per (model, version, environment)
Checks = Callable[[str], Sequence[CheckRecord]]  # a model's monitoring checks, oldest first


def soak(
    env: JobEnv,
    spec: ModelSpec,
    *,
    checks: Checks,
    dry_run: bool = False,
    now: Clock = utc_now,
    lock: Locker = no_lock,
    after_move: AfterMove | None = None,
) -> PromotionOutcome | None:
    """Move `spec`'s staging version on when it has soaked; None when there is nothing to soak (no `soak`, or
    staging serves nothing new). A version still soaking is `soaking`, with the reason."""
    config = env.config
    soak_time = config.promotion.soak_time
    stages = config.stages()
    if soak_time is None or len(stages) < 2:
        return None
    source, target = stages[-2], stages[-1]
    staged = env.registry.version_by_alias(spec.name, source.alias)
    served = env.registry.version_by_alias(spec.name, target.alias)
    if staged is None or (served is not None and served.version == staged.version):
        return None
    arrived = parse_time(staged.tags.get(stage_tag(VersionTags.PROMOTED_AT, source), ""))
    due, why = soak_due(arrived, soak_time, now(), checks_green=checks_green(checks(spec.name), arrived))
    if not due:
        return PromotionOutcome(
            spec.name, "soaking", version=staged.version, reasons=[why], environment=source.name
        )
    pr = staged.tags.get(VersionTags.PR, "")
    return move_on(
        env,
        model=spec.name,
        to=target.name,
        asked_by=None,
        reply_to=int(pr) if pr.isdigit() and not dry_run else None,  # a dry run only says, here
        dry_run=dry_run,
        key=SOAK_KEY,
        lock=lock,
        now=now,
        after_move=after_move,
    )


def store_checks(env: JobEnv) -> Checks:
    """The model's monitoring checks as the bot's store keeps them (`monitoring_checks`); none without a store
    given to the job (MLOPS_BOT_DATABASE_URL), so nothing soaks green there."""

    def read(model: str) -> Sequence[CheckRecord]:
        if "database_url" not in env.settings.model_fields_set:
            return []
        from bot.adapters.store import Store

        store = Store(env.settings.database_url)
        try:
            return store.checks(env.repo, model)
        finally:
            store.close()

    return read
