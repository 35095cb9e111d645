"""`mlops-bot reconcile`: git is the desired state, the champion alias the actual one.

Desired: the model output hash in the default branch's `dvc.lock`. Actual: the output hash of the run behind
the `champion` alias. On a mismatch (someone moved the alias by hand) the bot opens or updates one issue per
model, or, with `reconcile: correct`, moves the alias back to the version git names.
"""

from __future__ import annotations

from dataclasses import dataclass

from bot.adapters.mlflow import ForeignModelError
from bot.core import replies
from bot.core.config import ModelSpec
from bot.core.lockfile import output_hash
from bot.core.markers import reply_marker
from bot.core.plans import ReconcileCorrection, render_reconcile_plan
from bot.core.reports import log_line
from bot.jobs.champions import record_champion_move
from bot.jobs.common import JobEnv, ci_url
from bot.jobs.job_reports import job_log_url
from bot.jobs.promote import TAG_OUTPUT_HASH

LABELS = ["mlops-bot", "reconcile"]


@dataclass
class ReconcileOutcome:
    model: str
    status: str  # in-sync | drifted-reported | corrected | planned | no-desired-state | unknown-desired-version | foreign
    desired_hash: str = ""
    actual_version: str = ""
    desired_version: str = ""
    issue: int | None = None
    reason: str = ""


def issue_marker(model: str) -> str:
    return reply_marker("reconcile", model)


def reconcile(env: JobEnv, spec: ModelSpec, *, dry_run: bool = False) -> ReconcileOutcome:
    """With `dry_run`, the outcome says what would be done (`planned`, its reason the plan) and nothing is."""
    gh, registry, config = env.gh, env.registry, env.config
    lock_text = gh.read_file("dvc.lock")
    desired = output_hash(lock_text, spec.stage, spec.output) if lock_text else None
    if not desired:
        return ReconcileOutcome(spec.name, "no-desired-state")
    # Git pins what a merge promotes: the first of promotion.environments (staging, where there are two).
    first = config.stages()[0]
    try:
        champion = registry.version_by_alias(spec.name, first.alias)
    except ForeignModelError as exc:  # another repository's model: nothing here to compare or correct
        return ReconcileOutcome(spec.name, "foreign", desired, reason=str(exc))
    actual_run = registry.run(champion.run_id) if champion else None
    actual_hash = actual_run.tags.get(TAG_OUTPUT_HASH, "") if actual_run else ""
    existing = gh.find_issue(issue_marker(spec.name))
    if champion is not None and actual_hash == desired:
        if existing is not None and existing.state == "open" and not dry_run:
            # Keyed: a retry after a crash between the comment and the close edits, never repeats.
            marker = reply_marker("reconcile-in-sync", f"{spec.name}@{champion.version}")
            gh.upsert_comment(existing.number, marker, replies.reconcile_in_sync(spec.name, champion.version))
            gh.close_issue(existing.number)
        return ReconcileOutcome(spec.name, "in-sync", desired, champion.version, champion.version)

    desired_version = None
    for version in registry.versions(spec.name):
        run = registry.run(version.run_id)
        if run is not None and run.tags.get(TAG_OUTPUT_HASH) == desired:
            desired_version = version
            break
    actual = champion.version if champion else ""
    wanted = desired_version.version if desired_version else ""
    if dry_run:
        return _planned(env, spec, actual, wanted, desired, existing.number if existing else None)
    if config.reconcile == "correct" and desired_version is not None:
        # The issue first: once the alias has moved, a retry finds the model in sync and could not tell that a
        # correction is still to be reported. A crash before the move leaves the mismatch, which the retry
        # corrects, editing the same issue.
        body = replies.reconcile_corrected(spec.name, actual, wanted, desired) + _log(env)
        issue = gh.upsert_issue(
            issue_marker(spec.name), f"Reconcile: {spec.name} champion corrected", body, LABELS
        )
        registry.set_alias(spec.name, first.alias, desired_version.version)
        if first.last:
            record_champion_move(env, spec.name, desired_version.version, desired_version.run_id, "reconcile")
        if champion is not None and first.last:
            registry.set_alias(spec.name, config.aliases.previous, champion.version)
        return ReconcileOutcome(spec.name, "corrected", desired, actual, wanted, issue.number)
    body = replies.reconcile_mismatch(spec.name, actual, wanted, desired, config.reconcile) + _log(env)
    issue = gh.upsert_issue(
        issue_marker(spec.name), f"Reconcile: {spec.name} champion differs from git", body, LABELS
    )
    status = "drifted-reported" if desired_version is not None else "unknown-desired-version"
    return ReconcileOutcome(spec.name, status, desired, actual, wanted, issue.number)


def _log(env: JobEnv) -> str:
    return log_line(job_log_url(env.repo, "reconcile") or ci_url())


def _planned(
    env: JobEnv, spec: ModelSpec, actual: str, wanted: str, desired: str, issue: int | None
) -> ReconcileOutcome:
    aliases = env.config.aliases
    if env.config.reconcile == "correct" and wanted:
        plan = ReconcileCorrection(spec.name, actual, wanted, desired)
        what = render_reconcile_plan(plan, champion_alias=aliases.champion, previous_alias=aliases.previous)
    else:
        what = (
            f"{spec.name}: the reconcile issue would report champion v{actual or '-'}, git v{wanted or '?'}"
        )
    return ReconcileOutcome(spec.name, "planned", desired, actual, wanted, issue, reason=what)
