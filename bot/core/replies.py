"""The short texts the bot posts in answer to commands and events.

Each function takes facts and returns markdown that starts with a hidden marker (so the bot can find its
own replies and edit rather than repeat them); the words live in templates/comments/replies.md.j2, one
macro per reply. Values are escaped here, before the template sees them.

Where a handler upserts a reply under a marker it computes itself (bot/jobs/*), the reply carries that same
marker, so the adapter finds it whether or not it adds the marker on its own.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

from bot.core.commands import MODEL_NAME
from bot.core.config import Aliases
from bot.core.gates import Decision
from bot.core.markdown import code, escape_md, fit, render_macro, squeeze_blank_lines
from bot.core.markers import reply_marker
from bot.core.models import ModelVersion, RunRecord

_FILE = "comments/replies.md.j2"


class PromotionLike(Protocol):
    """What a promotion or rollback outcome tells a reply (bot.jobs.promote.PromotionOutcome has it)."""

    model: str
    status: str
    version: str
    previous: str
    run_id: str
    bento_tag: str
    bento_note: str
    deployment_id: int
    deployment_state: str
    reasons: list[str]
    environment: str  # "" where the outcome names none (a rollback: the champion's)
    alias: str  # the alias that serves `environment` when it is not the champion's (staging), else ""


def _reply(marker: str, macro: str, **context: Any) -> str:
    body = squeeze_blank_lines(render_macro(_FILE, macro, context))
    return fit(f"{marker}\n{body}")


def _login(login: str) -> str:
    # A login is [A-Za-z0-9-] (and "[bot]"): anything else is not one, so it is shown inert.
    return login if login.replace("-", "").replace("[bot]", "").isalnum() else escape_md(login)


# ---------------------------------------------------------------------------------------------------------
# Commands and permissions


def refused(login: str, reason: str) -> str:
    """Permission refused; `reason` is the sentence from `commands.may_run` (who needs what, who has what)."""
    return _reply(reply_marker("refused"), "refused", login=_login(login), reason=reason.rstrip("."))


def not_enabled(verb: str) -> str:
    return _reply(reply_marker("not-enabled", verb), "not_enabled", verb=escape_md(verb))


def unknown_model(model: str, configured: Sequence[str]) -> str:
    return _reply(
        reply_marker("unknown-model"),
        "unknown_model",
        model=code(model, max_len=100),
        names=[code(n) for n in configured],
    )


def model_required(verb: str, configured: Sequence[str]) -> str:
    """Several models are configured and the command named none."""
    return _reply(
        reply_marker("model-required"), "model_required", verb=escape_md(verb), names=list(configured)
    )


def config_broken(problem: str) -> str:
    return _reply(reply_marker("config-broken"), "config_broken", problem=escape_md(problem, max_len=2_000))


def no_config() -> str:
    return _reply(reply_marker("no-config"), "no_config")


def pull_only(verb: str) -> str:
    return _reply(reply_marker("pull-only", verb), "pull_only", verb=escape_md(verb))


def pull_closed(verb: str) -> str:
    return _reply(reply_marker("pull-closed", verb), "pull_closed", verb=escape_md(verb))


def failed(verb: str, detail: str) -> str:
    """An infrastructure fault while running a command (the details stay in the logs)."""
    return _reply(
        reply_marker("failed", verb), "failed", verb=escape_md(verb), detail=escape_md(detail, max_len=500)
    )


# ---------------------------------------------------------------------------------------------------------
# Forks


def fork_waiting(head_sha: str) -> str:
    return _reply(reply_marker("fork-waiting"), "fork_waiting", sha=code(head_sha[:12]))


def ok_to_test_recorded(login: str, head_sha: str) -> str:
    """Carries the marker `reply_marker("ok-to-test", head_sha)`: its presence is the approval of that sha."""
    return _reply(
        reply_marker("ok-to-test", head_sha),
        "ok_to_test_recorded",
        login=_login(login),
        sha=code(head_sha[:12]),
    )


def ok_to_test_not_needed() -> str:
    return _reply(reply_marker("ok-to-test-not-needed"), "ok_to_test_not_needed")


# ---------------------------------------------------------------------------------------------------------
# Promotion and rollback


def promote_needs_merge(model: str | None) -> str:
    # Shown inside a code span, where escapes would print: only a name of the config's pattern is shown.
    shown = model if model and MODEL_NAME.match(model) else ""
    return _reply(reply_marker("promote-needs-merge"), "promote_needs_merge", model=shown)


def no_candidate(model: str, sha: str, output_hash: str) -> str:
    return _reply(
        reply_marker("no-candidate", f"{model}@{sha}"),
        "no_candidate",
        model=code(model),
        sha=code(sha[:12]),
        output_hash=code(output_hash) if output_hash else "",
    )


def promotion_plan(
    *,
    model: str,
    run: RunRecord,
    existing_version: str | None,
    champion: ModelVersion | None,
    aliases: Aliases,
    decision: Decision,
    environment: str,
    dry_run: bool = True,
    alias: str | None = None,
) -> str:
    """What `/promote --dry-run` would do: which run becomes which version, how aliases move, each gate.
    `alias`: the one a merge moves (the first environment's); `champion` is then the version it serves."""
    if existing_version:
        version_line = f"already registered as version {escape_md(existing_version)}; no new version"
    else:
        version_line = "a new version of the registered model " + code(model)
    champ = f"version {escape_md(champion.version)}" if champion else "no version"
    new = f"version {escape_md(existing_version)}" if existing_version else "the new version"
    moved = alias or aliases.champion
    alias_rows = [{"name": code(moved), "change": f"{champ} → {new}"}]
    if champion is not None and moved == aliases.champion:  # staging keeps no `previous`
        alias_rows.append(
            {"name": code(aliases.previous), "change": f"→ version {escape_md(champion.version)}"}
        )
    verdicts = [
        {
            "mark": ("✅" if v.judged else "➖") if v.passed else "❌",
            "reason": escape_md(v.reason, max_len=300),
        }
        for v in decision.verdicts
    ]
    return _reply(
        reply_marker("plan", f"{model}@{run.run_id}"),
        "promotion_plan",
        model=code(model),
        dry=dry_run,
        run_id=code(run.run_id),
        run_link=run.url if run.url.startswith(("https://", "http://")) else "",
        version_line=version_line,
        aliases=alias_rows,
        environment=code(environment),
        verdicts=verdicts,
        allowed=decision.allowed,
        summary=escape_md(decision.summary()),
    )


def _deployment(outcome: PromotionLike) -> str:
    if not outcome.deployment_id:
        return ""
    state = f" ({escape_md(outcome.deployment_state)})" if outcome.deployment_state else ""
    return f"#{outcome.deployment_id}{state}"


def promotion_result(outcome: PromotionLike) -> str:
    """After a promotion: done (version, aliases, bento tag, deployment), already done, refused or failed."""
    return _reply(
        reply_marker("promotion", f"{outcome.model}@{outcome.run_id}"),
        "promotion_result",
        model=code(outcome.model),
        model_name=outcome.model,
        status=outcome.status,
        environment=code(outcome.environment) if outcome.environment else "",
        alias=outcome.alias,
        version=escape_md(outcome.version),
        previous=escape_md(outcome.previous),
        run_id=code(outcome.run_id),
        bento_tag=code(outcome.bento_tag) if outcome.bento_tag else "",
        bento_note=escape_md(outcome.bento_note, max_len=300),
        deployment=_deployment(outcome),
        reasons=[escape_md(r, max_len=500) for r in outcome.reasons],
    )


def rollback_result(outcome: PromotionLike) -> str:
    return _reply(
        reply_marker("rollback", f"{outcome.model}@{outcome.version}"),
        "rollback_result",
        model=code(outcome.model),
        version=escape_md(outcome.version),
        previous=escape_md(outcome.previous),
        run_id=code(outcome.run_id),
        deployment=_deployment(outcome),
    )


def nothing_to_roll_back(model: str, champion: ModelVersion | None, to: str | None) -> str:
    return _reply(
        reply_marker("rollback-refused", model),
        "nothing_to_roll_back",
        model=code(model),
        model_name=model,
        champion=escape_md(champion.version) if champion else "",
        to=escape_md(to) if to else "",
    )


# ---------------------------------------------------------------------------------------------------------
# Drift and reconcile


def drift_failed(model: str, error: str) -> str:
    return _reply(
        reply_marker("drift-failed", model),
        "drift_failed",
        model=code(model),
        error=escape_md(error, max_len=2_000),
    )


def reconcile_in_sync(model: str, version: str) -> str:
    return _reply(
        reply_marker("reconcile", model), "reconcile_in_sync", model=code(model), version=escape_md(version)
    )


def reconcile_mismatch(model: str, actual: str, wanted: str, desired_hash: str, mode: str) -> str:
    return _reply(
        reply_marker("reconcile", model),
        "reconcile_mismatch",
        model=code(model),
        model_name=model,
        actual=escape_md(actual),
        wanted=escape_md(wanted),
        desired_hash=code(desired_hash),
        mode=mode,
    )


def reconcile_corrected(model: str, actual: str, wanted: str, desired_hash: str) -> str:
    return _reply(
        reply_marker("reconcile", model),
        "reconcile_corrected",
        model=code(model),
        actual=escape_md(actual),
        wanted=escape_md(wanted),
        desired_hash=code(desired_hash),
    )
