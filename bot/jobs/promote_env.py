"""`mlops-bot promote --to ENV`: move the version the previous environment serves on to ENV.

`plan_move` (bot/core/environments.py) decides from the aliases, the target environment's protection rules and
who asked; this module carries the plan out step by step, each step keyed by (model, version, environment), so
a retried job or a second soak tick makes no second Deployment and no second answer. `--dry-run` renders the
same plan and stops. Moves and promotions of one model share the named lock `promote:<model>`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

from bot.adapters.mlflow import ForeignModelError
from bot.core import keys
from bot.core.config.environments import Stage
from bot.core.environments import MovePlan, Protection, plan_move, render_move, stage_tag
from bot.core.markdown import code, escape_md
from bot.core.markers import reply_marker
from bot.core.tags import VersionTags
from bot.jobs.canary import canary_source, end_canary
from bot.jobs.champions import record_champion_move
from bot.jobs.common import JobEnv
from bot.jobs.promote import TAG_BENTO, TAG_DEPLOYMENT, TAG_GIT_SHA, Locker, PromotionOutcome, no_lock

Clock = Callable[[], dt.datetime]
# Called with the plan once the target's alias serves the version, inside the model's lock: what else ends
# when a version reaches an environment (the canary of issue 15 ends when one reaches production).
AfterMove = Callable[[JobEnv, MovePlan], None]


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def move_on(
    env: JobEnv,
    *,
    model: str,
    to: str,
    asked_by: str | None,
    reply_to: int | None,
    dry_run: bool = False,
    key: str = "",
    asked_at: str | None = None,
    lock: Locker = no_lock,
    now: Clock = utc_now,
    after_move: AfterMove | None = None,
    github_enforced: bool = False,
) -> PromotionOutcome:
    """Move `model` on to environment `to` from the one before it. `asked_by`: the login whose command asks (its
    reviewer check), None for the soak. `key`: the command's, so its answer is one comment. `github_enforced`:
    this runs in an Actions job that declares `environment: <to>`, which GitHub held until the environment's
    protection rules were met; they are not judged again here."""
    config = env.config
    target = config.stage(to)
    canary = canary_source(env, model, target)  # a running canary: `--to production` promotes its candidate
    refusal = "" if canary is not None else _target_refusal(config.stages(), target, to)
    if refusal or target is None:
        _answer(env, reply_to, refusal, ("move-refused", f"{model}@{to}/{key}"), asked_at)
        return PromotionOutcome(model, "refused", reasons=[refusal], environment=to)
    source = canary or config.stages()[target.index - 1]
    with (no_lock if dry_run else lock)(keys.model_lock(model)):  # a dry run writes nothing, no lock row
        try:
            protection = Protection() if github_enforced else env.gh.environment_protection(target.name)
            plan = _plan(env, model, source, target, protection, asked_by=asked_by, now=now())
        except ForeignModelError as exc:
            _answer(
                env,
                reply_to,
                f"**{escape_md(model)}** was left alone: {escape_md(str(exc))}.",
                ("move-foreign", model),
                asked_at,
            )
            return PromotionOutcome(model, "refused", reasons=[str(exc)], environment=target.name)
        answer_key = ("move", f"{model}@{plan.version or '-'}->{target.name}{'/' + key if key else ''}")
        if dry_run or not plan.allowed:
            if not (
                plan.already and _answered(env, reply_to, answer_key, asked_at)
            ):  # a retry keeps its answer
                _answer(env, reply_to, render_move(plan, dry_run=dry_run), answer_key, asked_at)
            status = "already" if plan.already else "planned" if dry_run and not plan.blocked else "refused"
            return _outcome(plan, status)
        deployment_id = _carry_out(env, plan, now())
        if target.last:  # a canary's service served the champion that just stepped down: it ends
            end_canary(env, model, how="promoted" if canary is not None else "replaced")
        if after_move is not None:
            after_move(env, plan)
    _answer(env, reply_to, render_move(plan, dry_run=False), answer_key, asked_at)
    return _outcome(plan, "promoted", deployment_id)


def _target_refusal(stages: list[Stage], target: Stage | None, to: str) -> str:
    names = ", ".join(code(s.name) for s in stages)
    if target is None:
        return f"{code(to)} is not one of this repository's environments (`promotion.environments`: {names})"
    if target.first:
        return (
            f"{code(target.name)} is the first environment: a merge promotes there; `--to` moves a version on "
            f"from the one before (environments: {names})"
        )
    return ""


def _plan(
    env: JobEnv,
    model: str,
    source: Stage,
    target: Stage,
    protection: Protection,
    *,
    asked_by: str | None,
    now: dt.datetime,
) -> MovePlan:
    registry = env.registry
    source_version = registry.version_by_alias(model, source.alias)
    target_version = registry.version_by_alias(model, target.alias)
    arrived = (
        source_version.tags.get(stage_tag(VersionTags.PROMOTED_AT, source), "") if source_version else ""
    )
    return plan_move(
        model,
        source,
        target,
        source_version,
        target_version,
        protection=protection,
        asked_by=asked_by,
        source_deployed_at=parse_time(arrived),
        now=now,
        git_sha_tag=TAG_GIT_SHA,
        bento_tag=source_version.tags.get(stage_tag(TAG_BENTO, source), "") if source_version else "",
    )


def _carry_out(env: JobEnv, plan: MovePlan, moment: dt.datetime) -> int:
    """The target's Deployment, its bento, its alias: each found again by a retry rather than made twice."""
    registry, config, target = env.registry, env.config, plan.target
    deployment_tag = stage_tag(TAG_DEPLOYMENT, target)
    version = registry.version(plan.model, plan.version)
    deployment_id = int(version.tags.get(deployment_tag) or 0) if version else 0
    if not deployment_id:
        deployment_id = env.gh.create_deployment(
            plan.ref or env.gh.default_branch(),
            target.name,
            plan.deployment_payload(),
            plan.deployment_description,
            key=keys.environment_deployment(plan.model, plan.version, target.name),
        )
        registry.set_version_tag(plan.model, plan.version, deployment_tag, str(deployment_id))
    if plan.bento_tag:  # the same service, now serving this environment too
        registry.set_version_tag(plan.model, plan.version, stage_tag(TAG_BENTO, target), plan.bento_tag)
    if target.last and plan.target_version and plan.target_version != plan.version:
        registry.set_alias(plan.model, config.aliases.previous, plan.target_version)
    registry.set_alias(plan.model, target.alias, plan.version)
    registry.set_version_tag(
        plan.model, plan.version, stage_tag(VersionTags.PROMOTED_AT, target), _iso(moment)
    )
    if target.last:
        record_champion_move(env, plan.model, plan.version, plan.run_id, "promote")
    env.gh.set_deployment_status(
        deployment_id, "success", description=f"{plan.model} v{plan.version} is {target.alias}"
    )
    return deployment_id


def _outcome(plan: MovePlan, status: str, deployment_id: int = 0) -> PromotionOutcome:
    return PromotionOutcome(
        plan.model,
        status,
        version=plan.version,
        previous=plan.target_version,
        run_id=plan.run_id,
        bento_tag=plan.bento_tag,
        deployment_id=deployment_id,
        deployment_state="success" if deployment_id else "",
        reasons=list(plan.blocked),
        environment=plan.target.name,
        alias="" if plan.target.last else plan.target.alias,
    )


def _answer(env: JobEnv, number: int | None, body: str, key: tuple[str, str], since: str | None) -> None:
    if number is not None:
        env.gh.upsert_comment(number, reply_marker(*key), body, since=since)


def _answered(env: JobEnv, number: int | None, key: tuple[str, str], since: str | None) -> bool:
    return number is not None and env.gh.find_bot_comment(number, reply_marker(*key), since=since) is not None


def parse_time(text: str) -> dt.datetime | None:
    if not text:
        return None
    try:
        moment = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)


def _iso(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).isoformat(timespec="seconds")
