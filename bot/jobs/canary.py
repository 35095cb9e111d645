"""`mlops-bot canary` (`/promote MODEL --canary 10%`): serve the candidate beside the champion in one service
for a share of the requests; and the two ways a canary ends.

`plan_canary` (bot/core/canary.py) decides; `start_canary` carries the plan out step by step, each step found
again by a retry (the bento by the candidate's tags, the Deployment by its key, the alias as it is), so a
retried job leaves one canary; `--dry-run` renders the same plan and stops. `end_canary` is what a promotion
of the model calls (`/promote --to production`: the candidate takes over); `drop_canary` is `/rollback`'s
first step while a canary runs (the champion answers alone again). All three take the model's lock
`promote:<model>` (the caller's, for the last two).

Promoting the canary is a move (bot/jobs/promote_env.py) from a source environment `canary_source` names:
`<production>-canary`, served by alias `canary`, so production's protection rules (required reviewers, the
wait timer, counted from the canary's start) judge it as they judge a move from staging. The candidate's own
service (the model alone) is built when the canary starts, so the move has it to deploy.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Literal

from bot.adapters.mlflow import ForeignModelError
from bot.core import keys, replies
from bot.core.canary import (
    CANARY_ALIAS,
    CanaryPlan,
    CanaryTags,
    percent_text,
    plan_canary,
    render_canary_dropped,
    render_canary_plan,
    render_canary_started,
    running_canary,
)
from bot.core.config.environments import Stage
from bot.core.environments import stage_tag
from bot.core.models import ModelVersion
from bot.core.tags import VersionTags
from bot.jobs.common import JobEnv, ci_url
from bot.jobs.promote import Locker, PromotionOutcome, candidate_for, no_lock, now_iso, reply_keyed
from bot.ports import ServiceBuilder

log = logging.getLogger(__name__)

# (champion, candidate, share in (0, 1), commit) -> (bento tag, note): the service serving both
CanaryBuilder = Callable[[ModelVersion, ModelVersion, float, str], tuple[str, str]]
Ending = Literal["promoted", "dropped", "replaced"]


@dataclass
class CanaryOutcome:
    model: str
    status: str  # started | already | planned | refused | no-candidate | failed
    version: str = ""  # the candidate
    champion: str = ""
    percent: float = 0.0
    bento_tag: str = ""
    bento_note: str = ""
    deployment_id: int = 0
    reasons: list[str] = field(default_factory=list)


def start_canary(
    env: JobEnv,
    repo_dir: Path,
    *,
    model: str,
    percent: float,
    sha: str,
    pr: int | None = None,
    version: str | None = None,
    reply_to: int | None = None,
    dry_run: bool = False,
    key: str = "",
    asked_at: str | None = None,
    lock: Locker = no_lock,
    build: CanaryBuilder | None = None,
    build_own: ServiceBuilder | None = None,
) -> CanaryOutcome:
    """Serve `version` (else the run the checkout's dvc.lock names) beside the champion for `percent` % of
    the requests. With `dry_run`, answer with the plan and change nothing (no lock row either). `key`: the
    command's (c<comment id>): its answer is one comment, a retry edits it."""
    spec = env.config.model(model)
    assert spec is not None  # JobEnv.models() validated the name
    registry = env.registry
    with (no_lock if dry_run else lock)(keys.model_lock(model)):
        champion = registry.version_by_alias(model, env.config.aliases.champion)
        running = running_canary(registry.version_by_alias(model, CANARY_ALIAS))
        if version is not None:
            candidate = registry.version(model, version)
            if candidate is None:
                why = f"{model} has no version {version} in the registry"
                return _answer(env, reply_to, model, "refused", why, (key, asked_at))
            run_id, lock_id = candidate.run_id, ""
        else:
            run, wanted, lock_id = candidate_for(env, spec, repo_dir)
            if run is None:
                why = replies.no_candidate(model, sha, wanted)
                return _answer(env, reply_to, model, "no-candidate", why, (key, asked_at))
            run_id = run.run_id
            candidate = next((v for v in registry.versions(model) if v.run_id == run_id), None)
        plan = plan_canary(
            model,
            candidate=candidate,
            candidate_run_id=run_id,
            champion=champion,
            running=running,
            percent=percent,
            environment=env.config.promotion.environment,
        )
        if plan.already and not dry_run and _answered(env, reply_to, ("canary", key), asked_at):
            return _outcome(
                plan, "already", candidate
            )  # a retry of the command that started it keeps its answer
        if dry_run or not plan.possible or plan.already:
            body = render_canary_plan(plan, dry_run=dry_run)
            reply_keyed(env, reply_to, body, ("canary-plan", key or _plan_key(plan)), since=asked_at)
            status = "planned" if dry_run and plan.possible else "already" if plan.already else "refused"
            return _outcome(plan, status, candidate)
        assert champion is not None  # a possible plan has one
        if candidate is None:
            tags = {VersionTags.GIT_SHA: sha, VersionTags.DVC_LOCK_HASH: lock_id}
            run = registry.run(run_id)
            assert run is not None
            candidate = registry.register(model, run, {**tags, **({VersionTags.PR: str(pr)} if pr else {})})
            plan = replace(plan, candidate_version=candidate.version)
        asked = (key, asked_at)
        builders = (build, build_own)
        return _start(
            env, plan, champion, candidate, sha=sha, reply_to=reply_to, asked=asked, builders=builders
        )


def _start(
    env: JobEnv,
    plan: CanaryPlan,
    champion: ModelVersion,
    candidate: ModelVersion,
    *,
    sha: str,
    reply_to: int | None,
    asked: tuple[str, str | None],
    builders: tuple[CanaryBuilder | None, ServiceBuilder | None],
) -> CanaryOutcome:
    registry, model = env.registry, plan.model
    build, build_own = builders
    stage = canary_stage(env, model)
    tags = candidate.tags
    reuse = (
        tags.get(CanaryTags.BENTO)
        and tags.get(CanaryTags.PERCENT) == percent_text(plan.percent)
        and tags.get(CanaryTags.CHAMPION) == champion.version
    )
    bento, note = (tags[CanaryTags.BENTO], "") if reuse else ("", "")
    own = tags.get(stage_tag(VersionTags.BENTO, stage)) or tags.get(VersionTags.BENTO, "")
    try:
        if not reuse and build is not None:
            bento, note = build(champion, candidate, plan.percent / 100, sha)
        if not own and build_own is not None:  # what serves it alone once it is promoted
            own, _ = build_own(candidate, sha)
    except Exception as exc:  # a failed build starts nothing: the champion keeps serving alone
        log.exception("canary bento build failed")
        why = f"the BentoML build of the canary service failed: {exc}"
        return _answer(env, reply_to, model, "failed", why, asked, plan=plan)
    if plan.replaces and plan.replaces != candidate.version:
        registry.set_version_tag(model, plan.replaces, CanaryTags.ENDED, "replaced")
    for key, value in (
        (CanaryTags.BENTO, bento),
        (CanaryTags.PERCENT, percent_text(plan.percent)),
        (CanaryTags.CHAMPION, champion.version),
        (CanaryTags.ENDED, ""),  # a version that ran as a canary before runs again
        (stage_tag(VersionTags.BENTO, stage), own),
    ):
        registry.set_version_tag(model, candidate.version, key, value)
    deployment_key = keys.canary_deployment(model, candidate.version, champion.version, plan.percent)
    deployment_id = env.gh.create_deployment(
        sha or candidate.tags.get(VersionTags.GIT_SHA) or env.gh.default_branch(),
        plan.environment,
        plan.deployment_payload(bento=bento, key=deployment_key),
        plan.deployment_description,
        key=deployment_key,
    )
    if not (reuse and tags.get(stage_tag(VersionTags.PROMOTED_AT, stage))):  # the wait timer counts from here
        registry.set_version_tag(
            model, candidate.version, stage_tag(VersionTags.PROMOTED_AT, stage), now_iso()
        )
    # The status, then the tag that says it is set, then the alias: a retry after any of them finds what is
    # left to do (a canary is `already` only with its Deployment tag).
    if tags.get(CanaryTags.DEPLOYMENT) != str(deployment_id) or not reuse or tags.get(CanaryTags.ENDED):
        env.gh.set_deployment_status(
            deployment_id, "success", description=plan.deployment_description, log_url=ci_url()
        )
    registry.set_version_tag(model, candidate.version, CanaryTags.DEPLOYMENT, str(deployment_id))
    registry.set_alias(model, CANARY_ALIAS, candidate.version)
    body = render_canary_started(
        model,
        candidate=candidate.version,
        champion=champion.version,
        percent=plan.percent,
        bento=bento or "(not built: --no-bento)",
        note=note,
        deployment=deployment_id,
    )
    answer = ("canary", asked[0] or f"{model}@{candidate.version}/{percent_text(plan.percent)}")
    reply_keyed(env, reply_to, body, answer, since=asked[1])
    outcome = _outcome(plan, "started", candidate)
    outcome.bento_tag, outcome.bento_note, outcome.deployment_id = bento, note, deployment_id
    return outcome


def canary_stage(env: JobEnv, model: str) -> Stage:
    """The environment a canary of `model` is, as a move sees it: beside production, served by alias canary."""
    production = env.config.stages()[-1]
    return Stage(name=f"{production.name}-canary", alias=CANARY_ALIAS, index=production.index, last=False)


def canary_source(env: JobEnv, model: str, target: Stage | None) -> Stage | None:
    """Where `/promote MODEL --to <production>` moves from while a canary runs: the canary (its candidate
    takes over). None when no canary runs or the move is to another environment (then the move is as ever)."""
    if target is None or not target.last:
        return None
    try:
        running = running_canary(env.registry.version_by_alias(model, CANARY_ALIAS))
    except ForeignModelError:  # the move itself says so, with its answer
        return None
    return canary_stage(env, model) if running is not None else None


def end_canary(env: JobEnv, model: str, *, how: Ending) -> ModelVersion | None:
    """End the model's running canary, if one runs: alias `canary` removed, the version tagged with how it
    ended. A promotion calls this (`how="promoted"`) once the candidate or any other version is champion: the
    canary's service served the old champion beside it. The caller holds the model's lock. Returns the
    version that ran as the canary; None when none ran (a retry finds it already ended)."""
    running = running_canary(env.registry.version_by_alias(model, CANARY_ALIAS))
    if running is None:
        env.registry.delete_alias(model, CANARY_ALIAS)  # a retry between the tag and the alias
        return None
    env.registry.set_version_tag(model, running.version, CanaryTags.ENDED, how)
    env.registry.delete_alias(model, CANARY_ALIAS)
    return running


def champion_changed(env: JobEnv, model: str, champion_version: str) -> ModelVersion | None:
    """A promotion made `champion_version` champion (a merge, `/promote`): a running canary ends, `promoted`
    when it was that version, else `replaced` (its service served the old champion beside it)."""
    running = running_canary(env.registry.version_by_alias(model, CANARY_ALIAS))
    if running is None:
        return None
    return end_canary(env, model, how="promoted" if running.version == champion_version else "replaced")


def drop_canary(
    env: JobEnv,
    model: str,
    *,
    champion: ModelVersion | None,
    reply_to: int | None,
    key: str = "",
    dry_run: bool = False,
    asked_at: str | None = None,
) -> PromotionOutcome | None:
    """`/rollback` while a canary runs: the champion answers alone again (a Deployment of its own service) and
    the champion is not moved. None when no canary runs and this job dropped none (then `/rollback` rolls the
    champion back). The caller holds the model's lock; `key` (the job's) lets a retry finish its own drop."""
    running = running_canary(env.registry.version_by_alias(model, CANARY_ALIAS))
    # "<key>@<candidate>" once this job began dropping it, "<key>@<candidate>@done" once it finished
    mark = (champion.tags.get(CanaryTags.DROP_KEY, "") if champion and key else "").split("@")
    this_job = bool(key) and mark[0] == key and len(mark) >= 2
    if champion is None or (running is None and not this_job):
        return None
    candidate = running.version if running is not None else mark[1]
    done = this_job and mark[-1] == "done" and running is None
    if dry_run:
        body = render_canary_dropped(
            model, candidate=candidate, champion=champion.version, deployment=0, dry_run=True
        )
        reply_keyed(env, reply_to, body, ("canary-drop-plan", key or f"{model}@{candidate}"), since=asked_at)
        return PromotionOutcome(model, "planned", version=champion.version, previous=candidate)
    if key and not this_job:  # what tells a retry of this job that it is a drop, after the alias is gone
        env.registry.set_version_tag(model, champion.version, CanaryTags.DROP_KEY, f"{key}@{candidate}")
    deployment_id = env.gh.create_deployment(
        champion.tags.get(VersionTags.GIT_SHA) or env.gh.default_branch(),
        env.config.promotion.environment,
        {
            "model": model,
            "version": champion.version,
            "run_id": champion.run_id,
            "canary_dropped": candidate,
            "key": key,
        },
        f"{model} v{champion.version} alone: canary v{candidate} dropped",
        key=key or keys.canary_drop_deployment(model, champion.version, candidate),
    )
    if not done:  # else a retry of this job after its last step: it only answers again
        end_canary(env, model, how="dropped")
        env.gh.set_deployment_status(
            deployment_id, "success", description=f"{model} v{champion.version} answers every request"
        )
        if key:
            env.registry.set_version_tag(
                model, champion.version, CanaryTags.DROP_KEY, f"{key}@{candidate}@done"
            )
    body = render_canary_dropped(
        model, candidate=candidate, champion=champion.version, deployment=deployment_id, dry_run=False
    )
    reply_keyed(env, reply_to, body, ("canary-dropped", key or f"{model}@{candidate}"), since=asked_at)
    return PromotionOutcome(
        model,
        "canary-dropped",
        version=champion.version,
        previous=candidate,
        run_id=champion.run_id,
        deployment_id=deployment_id,
        deployment_state="success",
    )


def _answered(env: JobEnv, number: int | None, key: tuple[str, str], since: str | None) -> bool:
    from bot.core.markers import reply_marker

    if number is None or not key[1]:
        return False
    return env.gh.find_bot_comment(number, reply_marker(*key), since=since) is not None


def _plan_key(plan: CanaryPlan) -> str:
    return f"{plan.model}@{plan.candidate_run_id}/{percent_text(plan.percent)}"


def _outcome(plan: CanaryPlan, status: str, candidate: ModelVersion | None) -> CanaryOutcome:
    return CanaryOutcome(
        plan.model,
        status,
        version=candidate.version if candidate is not None else plan.candidate_version,
        champion=plan.champion_version,
        percent=plan.percent,
        reasons=[plan.refusal] if plan.refusal else [],
    )


def _answer(
    env: JobEnv,
    reply_to: int | None,
    model: str,
    status: str,
    why: str,
    asked: tuple[str, str | None],
    *,
    plan: CanaryPlan | None = None,
) -> CanaryOutcome:
    from bot.core.markdown import escape_md

    body = f"No canary of **{escape_md(model)}**: {escape_md(why)}"
    reply_keyed(env, reply_to, body, ("canary-refused", asked[0] or model), since=asked[1])
    outcome = CanaryOutcome(model, status, reasons=[why])
    if plan is not None:
        outcome.version, outcome.champion = plan.candidate_version, plan.champion_version
        outcome.percent = plan.percent
    return outcome
