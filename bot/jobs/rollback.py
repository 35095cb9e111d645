"""`mlops-bot rollback`: move the champion alias back to an earlier version, with a Deployment that says so.
While a canary runs, `/rollback` (without `--to`) drops the canary instead and leaves the champion where it is
(bot/jobs/canary.py `drop_canary`); `--to VERSION` moves the champion and ends the canary too.

`plan_rollback` (bot/core/plans.py) decides; this module carries out the plan step by step, each step keyed
by the job's key, so a retried job repeats nothing; `--dry-run` renders the same plan and stops.
Rollbacks and promotions of one model share the named lock `promote:<model>`.
"""

from __future__ import annotations

from bot.adapters.mlflow import ForeignModelError
from bot.core import keys, replies
from bot.core.models import ModelVersion
from bot.core.plans import plan_rollback, render_rollback_plan
from bot.core.reports import log_line
from bot.core.tags import VersionTags
from bot.jobs.canary import drop_canary, end_canary
from bot.jobs.champions import record_champion_move
from bot.jobs.common import JobEnv, ci_url
from bot.jobs.job_reports import job_log_url
from bot.jobs.promote import (
    TAG_GIT_SHA,
    Locker,
    PromotionOutcome,
    foreign_model_reply,
    no_lock,
    now_iso,
    reply_keyed,
)

TAG_ROLLBACK_KEY = "mlops_bot.rollback_key"  # the job that last rolled back to this version
TAG_ROLLBACK_DEPLOYMENT = "mlops_bot.rollback_deployment"  # and the Deployment it recorded
TAG_ROLLBACK_DEPLOYED = "mlops_bot.rollback_deployed"  # that Deployment's success was recorded


def rollback(
    env: JobEnv,
    *,
    model: str,
    to: str | None,
    reply_to: int | None,
    key: str = "",
    dry_run: bool = False,
    asked_at: str | None = None,
    lock: Locker = no_lock,
) -> PromotionOutcome:
    """Carry out `plan_rollback`'s plan, each step keyed by `key` (the job's, so a retry repeats nothing);
    with `dry_run`, answer with the plan and change nothing. `asked_at`: when the command was made; its answer
    is looked for among the comments since then only."""
    config = env.config
    registry = env.registry
    aliases = config.aliases
    environment = config.promotion.environment
    # A dry run takes no lock either: it writes nothing, not even a lock row in the bot's store.
    with (no_lock if dry_run else lock)(keys.model_lock(model)):
        try:
            champion = registry.version_by_alias(model, aliases.champion)
        except ForeignModelError as exc:
            reply_keyed(
                env, reply_to, foreign_model_reply(exc), ("rollback-foreign", key or model), since=asked_at
            )
            return PromotionOutcome(model, "refused", reasons=[str(exc)])
        if to is None:  # a running canary is what the last move put in front of users: it goes first
            dropped = drop_canary(
                env, model, champion=champion, reply_to=reply_to, key=key, dry_run=dry_run, asked_at=asked_at
            )
            if dropped is not None:
                return dropped
        versions = registry.versions(model)
        done = _finished_rollback(env, champion, key)
        if done is not None:  # this job already rolled back (a retry after its last step): say it again
            if champion is not None and not champion.tags.get(TAG_ROLLBACK_DEPLOYED):
                _deployed(env, champion.name, champion.version, done.deployment_id)  # died before it
            body = replies.rollback_result(done) + log_line(job_log_url(env.repo, "rollback") or ci_url())
            reply_keyed(env, reply_to, body, ("rollback", key), since=asked_at)
            return done
        plan = plan_rollback(
            model,
            champion,
            None if to else registry.version_by_alias(model, aliases.previous),
            versions,
            to,
            environment=environment,
            git_sha_tag=TAG_GIT_SHA,
        )
        if not plan.possible:
            why = replies.nothing_to_roll_back(model, champion, to)
            reply_keyed(env, reply_to, why, ("rollback-refused", key or model), since=asked_at)
            return PromotionOutcome(model, "refused", reasons=[why])
        if dry_run:
            body = render_rollback_plan(
                plan, champion_alias=aliases.champion, previous_alias=aliases.previous
            )
            reply_keyed(
                env,
                reply_to,
                body,
                ("rollback-plan", key or f"{model}@{plan.target_version}"),
                since=asked_at,
            )
            return PromotionOutcome(
                model,
                "planned",
                version=plan.target_version,
                previous=plan.champion_version,
                run_id=plan.target_run_id,
            )
        deployment_id = env.gh.create_deployment(
            plan.ref or env.gh.default_branch(),
            environment,
            plan.deployment_payload(key),
            plan.deployment_description,
            key=key or keys.rollback_deployment(model, plan.champion_version, plan.target_version),
        )
        if key:  # what tells a retry of this job that the rollback is done (see _finished_rollback)
            registry.set_version_tag(model, plan.target_version, TAG_ROLLBACK_KEY, key)
            registry.set_version_tag(model, plan.target_version, TAG_ROLLBACK_DEPLOYMENT, str(deployment_id))
        registry.set_alias(model, aliases.previous, plan.champion_version)
        registry.set_alias(model, aliases.champion, plan.target_version)
        registry.set_version_tag(model, plan.target_version, VersionTags.PROMOTED_AT, now_iso())
        end_canary(env, model, how="dropped")  # it ran beside the champion that just stepped down
        record_champion_move(env, model, plan.target_version, plan.target_run_id, "rollback")
        _deployed(env, model, plan.target_version, deployment_id)
    outcome = PromotionOutcome(
        model,
        "rolled-back",
        version=plan.target_version,
        previous=plan.champion_version,
        run_id=plan.target_run_id,
        deployment_id=deployment_id,
        deployment_state="success",
    )
    answer = ("rollback", key or f"{model}@{plan.target_version}")
    body = replies.rollback_result(outcome) + log_line(job_log_url(env.repo, "rollback") or ci_url())
    reply_keyed(env, reply_to, body, answer, since=asked_at)
    return outcome


def _deployed(env: JobEnv, model: str, version: str, deployment_id: int) -> None:
    """The rollback's Deployment succeeded; the version's tag says so, so a retry records it once."""
    if deployment_id:
        env.gh.set_deployment_status(
            deployment_id, "success", description=f"{model} rolled back to v{version}"
        )
    env.registry.set_version_tag(model, version, TAG_ROLLBACK_DEPLOYED, str(deployment_id))


def _finished_rollback(env: JobEnv, champion: ModelVersion | None, key: str) -> PromotionOutcome | None:
    """The outcome of this job's rollback when it already happened (a retry after its last step): the champion
    carries this job's key. Without a key (a hand-run CLI) nothing can say it was this job."""
    if not key or champion is None or champion.tags.get(TAG_ROLLBACK_KEY) != key:
        return None
    previous = env.registry.version_by_alias(champion.name, env.config.aliases.previous)
    return PromotionOutcome(
        champion.name,
        "rolled-back",
        version=champion.version,
        previous=previous.version if previous else "",
        run_id=champion.run_id,
        deployment_id=int(champion.tags.get(TAG_ROLLBACK_DEPLOYMENT) or 0),
        deployment_state="success",
    )
