"""`mlops-bot promote`: move the champion alias, build the service, record a Deployment.

Desired state is the model output hash in the `dvc.lock` of the promoted commit; the candidate is the run
tagged with that hash, so merge, squash and rebase merges all find it. Every step is idempotent and keyed by
(model, run): a redelivered merge or a re-run action leaves one version, one alias move and one Deployment.
Promotions of one model are serialized by a named lock and the gate is re-checked inside it.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from bot.adapters.mlflow import ForeignModelError
from bot.core import gates, keys, replies
from bot.core.config import ModelSpec
from bot.core.environments import stage_tag
from bot.core.lockfile import lock_hash, output_hash
from bot.core.markdown import escape_md
from bot.core.markers import reply_marker
from bot.core.models import RunRecord
from bot.core.reports import log_line
from bot.core.tags import RunTags, VersionTags
from bot.jobs.alongside import alongside
from bot.jobs.champions import record_champion_move
from bot.jobs.common import JobEnv, ci_url
from bot.jobs.job_reports import job_log_url
from bot.jobs.spans import timed_builder, timed_env
from bot.jobs.train_evaluation import promotion_comparison
from bot.ports import ModelLocks, ServiceBuilder

log = logging.getLogger(__name__)

TAG_OUTPUT_HASH = RunTags.OUTPUT_HASH
TAG_GIT_SHA = VersionTags.GIT_SHA
TAG_PR = VersionTags.PR
TAG_LOCK = VersionTags.DVC_LOCK_HASH
TAG_BENTO = VersionTags.BENTO
TAG_DEPLOYMENT = VersionTags.DEPLOYMENT

Locker = ModelLocks  # the ports' names, kept for the callers that import them from here
BentoBuilder = ServiceBuilder


@dataclass
class PromotionOutcome:
    model: str
    status: str  # promoted | already | refused | no-candidate | planned | failed
    version: str = ""
    previous: str = ""
    run_id: str = ""
    bento_tag: str = ""
    bento_note: str = ""
    deployment_id: int = 0
    deployment_state: str = ""
    reasons: list[str] = field(default_factory=list)
    environment: str = ""  # where it was promoted to (promotion.environments: a merge, the first)
    alias: str = ""  # the alias that serves it, when that is not the champion's (staging)
    plan: str = ""  # a dry run's plan as the reply renders it, for the Actions run's summary too
    timings: dict[str, float] = field(
        default_factory=dict
    )  # seconds spent in registry, bento and github calls


def no_lock(_name: str) -> AbstractContextManager[None]:
    return contextlib.nullcontext()


def candidate_for(env: JobEnv, spec: ModelSpec, repo_dir: Path) -> tuple[RunRecord | None, str, str]:
    """The run whose model output is the one pinned by this checkout's dvc.lock."""
    lock_path = repo_dir / "dvc.lock"
    if not lock_path.is_file():
        return None, "", ""
    text = lock_path.read_text()
    wanted = output_hash(text, spec.stage, spec.output) or ""
    if not wanted:
        return None, "", lock_hash(text)
    runs = env.registry.find_runs(spec.name, {TAG_OUTPUT_HASH: wanted})
    return (runs[0] if runs else None), wanted, lock_hash(text)


def promote(
    env: JobEnv,
    repo_dir: Path,
    *,
    sha: str,
    models: list[str],
    pr: int | None,
    reply_to: int | None,
    dry_run: bool,
    command: tuple[str, str | None] | None = None,
    lock: Locker = no_lock,
    build_bento: BentoBuilder | None = None,
) -> list[PromotionOutcome]:
    """Promote (or, with `dry_run`, plan) what `sha` trained, for each of `models`. `command`: the key and time
    of what asked for it (a merge, a comment): it gets one answer, looked for among the comments since then."""
    original_env, original_builder = env, build_bento
    config = env.config
    outcomes = []
    pull = env.gh.pull(pr, approvals=config.promotion.required_approvals > 0) if pr is not None else None
    approvals = pull.approvals if pull is not None else None
    # Required checks are judged on the PR's head (where CI ran), else on the promoted commit.
    checks = (
        env.gh.check_conclusions(pull.head_sha if pull is not None else sha)
        if config.promotion.required_checks
        else None
    )
    # The job's own log (kept as a report), else the Actions run, else the PR: never a path of this machine.
    job_log = job_log_url(env.repo, "promote") or ci_url()
    log_url = job_log or (pull.html_url if pull is not None else "")
    for name in models:
        timings: dict[str, float] = {}
        env = timed_env(original_env, timings)
        if build_bento is not None:
            build_bento = timed_builder(original_builder, timings)
        spec = config.model(name)
        assert spec is not None  # JobEnv.models() validated the names
        try:
            env.registry.versions(name)  # refuses a model another repository owns, before any step
        except ForeignModelError as exc:
            reply_keyed(env, reply_to, foreign_model_reply(exc), ("promotion", f"{name}@foreign"))
            outcomes.append(PromotionOutcome(name, "refused", reasons=[str(exc)]))
            continue
        run, wanted, lock_id = candidate_for(env, spec, repo_dir)
        if run is None and config.promotion.missing_candidate == "train" and not dry_run:
            run, wanted, lock_id = _train_here(env, spec, repo_dir, sha=sha, pr=pr)
        if run is None:
            outcome = PromotionOutcome(
                name, "no-candidate", reasons=[replies.no_candidate(name, sha, wanted)]
            )
            reply_keyed(
                env, reply_to, replies.no_candidate(name, sha, wanted), ("no-candidate", f"{name}@{sha}")
            )
            outcomes.append(outcome)
            continue
        if dry_run:
            outcomes.append(
                _plan(
                    env,
                    spec,
                    run,
                    sha=sha,
                    approvals=approvals,
                    checks=checks,
                    reply_to=reply_to,
                    command=command,
                )
            )
            continue
        with lock(keys.model_lock(name)):
            outcome = _promote_locked(
                env,
                spec,
                run,
                sha=sha,
                pr=pr,
                lock_id=lock_id,
                approvals=approvals,
                checks=checks,
                log_url=log_url,
                build_bento=build_bento,
            )
        asked, since = command or ("", _since_registered(env, name, outcome.version))
        key = ("promotion", f"{name}@{run.run_id}{'/' + asked if asked else ''}")
        if not (
            outcome.status == "already" and _answered(env, reply_to, key, since=since)
        ):  # a retry keeps its answer
            body = replies.promotion_result(outcome) + log_line(job_log)
            reply_keyed(env, reply_to, body, key, since=since)
        outcome.timings = dict(timings)
        outcomes.append(outcome)
    return outcomes


def _train_here(
    env: JobEnv, spec: ModelSpec, repo_dir: Path, *, sha: str, pr: int | None
) -> tuple[RunRecord | None, str, str]:
    """`promotion.missing_candidate: train`: nothing trained what merged, so train the merged commit now."""
    from bot.jobs.train import TrainContext, train

    context = TrainContext(repo=env.repo, pr=pr, head_sha=sha, base_sha=sha, base_ref=env.gh.default_branch())
    [result] = train(repo_dir, env.config, model=spec.name, context=context, registry=env.registry)
    if not result.ok or result.run is None:
        log.warning("training the merged commit failed: %s", result.error)
        return None, result.output_hash, result.dvc_lock_hash
    return result.run, result.output_hash, result.dvc_lock_hash


def _plan(
    env: JobEnv,
    spec: ModelSpec,
    run: RunRecord,
    *,
    sha: str,
    approvals: int | None,
    checks: dict[str, str] | None,
    reply_to: int | None,
    command: tuple[str, str | None] | None,
) -> PromotionOutcome:
    config = env.config
    first = config.stages()[0]  # a merge promotes to the first environment
    champion = env.registry.version_by_alias(spec.name, config.aliases.champion)
    serving = champion if first.last else env.registry.version_by_alias(spec.name, first.alias)
    decision = gates.evaluate(
        spec,
        run.metrics,
        champion.metrics if champion else None,
        promotion=config.promotion,
        approvals=approvals,
        checks=checks,
        same_data=promotion_comparison(env.registry, spec, run, champion),
    )
    existing = next((v for v in env.registry.versions(spec.name) if v.run_id == run.run_id), None)
    body = replies.promotion_plan(
        model=spec.name,
        run=run,
        existing_version=existing.version if existing else None,
        champion=serving,
        aliases=config.aliases,
        decision=decision,
        environment=first.name,
        alias=first.alias,
    )
    # Asked by a command: one answer per command, found among the comments made since it (however long the
    # thread). Else (a plan of the default branch's head) one per run.
    key, since = command or ("", None)
    reply_keyed(
        env, reply_to, body, ("plan", f"{spec.name}@{run.run_id}{'/' + key if key else ''}"), since=since
    )
    return PromotionOutcome(
        spec.name,
        "planned",
        run_id=run.run_id,
        reasons=[v.reason for v in decision.verdicts],
        previous=champion.version if champion else "",
        plan=body,
    )


def _promote_locked(
    env: JobEnv,
    spec: ModelSpec,
    run: RunRecord,
    *,
    sha: str,
    pr: int | None,
    lock_id: str,
    approvals: int | None,
    checks: dict[str, str] | None,
    log_url: str,
    build_bento: BentoBuilder | None,
) -> PromotionOutcome:
    config = env.config
    registry = env.registry
    # A merge promotes to the first of promotion.environments: its alias, its Deployment, its bento (issue 15).
    first = config.stages()[0]
    deployment_tag, bento_tag_name = stage_tag(TAG_DEPLOYMENT, first), stage_tag(TAG_BENTO, first)
    champion = registry.version_by_alias(spec.name, config.aliases.champion)  # re-read inside the lock
    serving = champion if first.last else registry.version_by_alias(spec.name, first.alias)
    if serving is not None and serving.run_id == run.run_id and serving.tags.get(deployment_tag):
        return PromotionOutcome(
            spec.name,
            "already",
            version=serving.version,
            run_id=run.run_id,
            bento_tag=serving.tags.get(bento_tag_name, ""),
            deployment_id=int(serving.tags[deployment_tag]),
            deployment_state="success",
            environment=first.name,
            alias="" if first.last else first.alias,
        )
    if champion is None or champion.run_id != run.run_id:
        decision = gates.evaluate(
            spec,
            run.metrics,
            champion.metrics if champion else None,
            promotion=config.promotion,
            approvals=approvals,
            checks=checks,
            same_data=promotion_comparison(registry, spec, run, champion),
        )
        if not decision.allowed:
            return PromotionOutcome(
                spec.name,
                "refused",
                run_id=run.run_id,
                previous=champion.version if champion else "",
                reasons=[v.reason for v in decision.verdicts if not v.passed],
            )
    tags = {TAG_GIT_SHA: sha, TAG_LOCK: lock_id, **({TAG_PR: str(pr)} if pr is not None else {})}
    version = registry.register(spec.name, run, tags)
    previous = serving if serving is not None and serving.version != version.version else None
    env_name = first.name

    def record_deployment() -> int:
        deployment_id = int(version.tags.get(deployment_tag) or 0)
        if not deployment_id:
            deployment_id = env.gh.create_deployment(
                sha,
                env_name,
                {"model": spec.name, "version": version.version, "run_id": run.run_id},
                f"Promote {spec.name} v{version.version}",
                key=keys.promotion_deployment(spec.name, run.run_id),
            )
            # Once per Deployment: a retry that finds it by the version's tag adds no second "in_progress".
            env.gh.set_deployment_status(
                deployment_id,
                "in_progress",
                description=f"building {spec.name} v{version.version}",
                log_url=log_url,
            )
            registry.set_version_tag(spec.name, version.version, deployment_tag, str(deployment_id))
        return deployment_id

    def build() -> tuple[str, str] | Exception:
        bento_tag = version.tags.get(bento_tag_name, "")
        if build_bento is None or bento_tag:
            return bento_tag, ""
        try:
            built = build_bento(version, sha)
        except Exception as exc:  # a failed build fails this deployment, never leaves it in progress
            log.exception("bento build failed")
            return exc
        # Kept at once: when recording the Deployment fails, the job's retry finds this bento built.
        registry.set_version_tag(spec.name, version.version, bento_tag_name, built[0])
        return built

    # The bento builds while the Deployment is recorded (bot/jobs/alongside.py); neither loses the other's work.
    deployment_id, built = alongside(record_deployment, build)
    if isinstance(built, Exception):
        env.gh.set_deployment_status(
            deployment_id, "failure", description=f"bento build failed: {built}"[:140], log_url=log_url
        )
        return PromotionOutcome(
            spec.name,
            "failed",
            version=version.version,
            run_id=run.run_id,
            deployment_id=deployment_id,
            deployment_state="failure",
            reasons=[f"the BentoML build failed: {built}"],
        )
    bento_tag, note = built
    if previous is not None and first.last:
        registry.set_alias(spec.name, config.aliases.previous, previous.version)
    registry.set_alias(spec.name, first.alias, version.version)
    registry.set_version_tag(spec.name, version.version, stage_tag(VersionTags.PROMOTED_AT, first), now_iso())
    if first.last:
        record_champion_move(env, spec.name, version.version, run.run_id, "promote")  # /metrics shows it now
        from bot.jobs.canary import champion_changed  # (bot.jobs.canary imports this module)

        champion_changed(env, spec.name, version.version)  # a running canary served the old champion
    env.gh.set_deployment_status(
        deployment_id,
        "success",
        description=f"{spec.name} v{version.version} is {first.alias}",
        log_url=log_url,
    )
    return PromotionOutcome(
        spec.name,
        "promoted",
        version=version.version,
        previous=previous.version if previous else "",
        run_id=run.run_id,
        bento_tag=bento_tag,
        bento_note=note,
        deployment_id=deployment_id,
        deployment_state="success",
        environment=first.name,
        alias="" if first.last else first.alias,
    )


def foreign_model_reply(exc: ForeignModelError) -> str:
    return f"**{escape_md(exc.model)}** was left alone: {escape_md(str(exc))}."


def now_iso() -> str:
    import datetime as dt

    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


def _answered(env: JobEnv, number: int | None, key: tuple[str, str], *, since: str | None = None) -> bool:
    return number is not None and env.gh.find_bot_comment(number, reply_marker(*key), since=since) is not None


# How far the registry's clock may run ahead of GitHub's: a reply is looked for among the comments made since
# its version was registered, less this margin, so skew never hides one.
CLOCK_MARGIN_S = 600


def _since_registered(env: JobEnv, model: str, version: str) -> str | None:
    """The answer to a promotion of a run is never older than the run's version (one version per run, made by
    its first promotion): the comments since then are the only ones to look through. None: look through all."""
    found = env.registry.version(model, version) if version else None
    if found is None or found.created_at <= 0:
        return None
    moment = datetime.fromtimestamp(found.created_at - CLOCK_MARGIN_S, tz=UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def reply_keyed(
    env: JobEnv, number: int | None, body: str, key: tuple[str, str], *, since: str | None = None
) -> None:
    """Every reply is keyed: a retried job edits its answer, never adds a second one. `since`: only for a key
    no comment older than that moment can carry (one made for a command made then)."""
    if number is not None:
        env.gh.upsert_comment(number, reply_marker(*key), body, since=since)


@contextlib.contextmanager
def store_lock(database_url: str, name: str) -> Iterator[None]:
    from bot.adapters.store import Store

    store = Store(database_url)
    try:
        with store.lock(name):
            yield
    finally:
        store.close()
