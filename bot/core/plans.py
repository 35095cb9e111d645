"""What a rollback or a reconcile correction will do, decided before anything is done.

A plan is a value: the job executes it step by step, and `--dry-run` renders the same value and stops, so a
dry run cannot drift from the real run (issue 11 defect 1: a flag the parser accepted and nothing read).
"""

from __future__ import annotations

from dataclasses import dataclass

from bot.core.markdown import code, escape_md
from bot.core.markers import reply_marker
from bot.core.models import ModelVersion


@dataclass(frozen=True)
class RollbackPlan:
    """Move `champion` from `champion_version` to `target_version` and record a Deployment of it."""

    model: str
    champion_version: str  # "" when the model has no champion
    target_version: str  # "" when there is nothing to roll back to
    target_run_id: str
    ref: str  # the commit the target was promoted from; "" means the default branch
    environment: str

    @property
    def possible(self) -> bool:
        return bool(self.champion_version and self.target_version) and (
            self.champion_version != self.target_version
        )

    def deployment_payload(self, key: str) -> dict[str, str]:
        """The Deployment's payload; `key` (the job's) is how a retry finds the one it already made."""
        return {
            "model": self.model,
            "version": self.target_version,
            "run_id": self.target_run_id,
            "rollback_from": self.champion_version,
            "key": key,
        }

    @property
    def deployment_description(self) -> str:
        return f"Roll back {self.model} to v{self.target_version}"


def plan_rollback(
    model: str,
    champion: ModelVersion | None,
    previous: ModelVersion | None,
    versions: list[ModelVersion],
    to: str | None,
    *,
    environment: str,
    git_sha_tag: str,
) -> RollbackPlan:
    """Roll back to version `to` (one of `versions`), or to `previous` (the `previous` alias) when `to` is None."""
    target = next((v for v in versions if v.version == to), None) if to else previous
    return RollbackPlan(
        model=model,
        champion_version=champion.version if champion else "",
        target_version=target.version if target else "",
        target_run_id=target.run_id if target else "",
        ref=target.tags.get(git_sha_tag, "") if target else "",
        environment=environment,
    )


def render_rollback_plan(plan: RollbackPlan, *, champion_alias: str, previous_alias: str) -> str:
    """The dry run's answer: every step the real rollback would take, none taken."""
    model = code(plan.model)
    now, after = escape_md(plan.champion_version), escape_md(plan.target_version)
    ref = code(plan.ref[:12]) if plan.ref else "the default branch"
    return (
        f"{reply_marker('rollback-plan', f'{plan.model}@{plan.champion_version}->{plan.target_version}')}\n"
        f"### Rollback plan for {model} (dry run: nothing was changed)\n\n"
        f"- `{champion_alias}`: v{now} → v{after}\n"
        f"- `{previous_alias}`: → v{now}\n"
        f"- a Deployment to `{escape_md(plan.environment)}` of v{after} (run {code(plan.target_run_id)}) "
        f"at {ref}\n\n"
        f"Comment `/rollback {escape_md(plan.model)} --to {after}` to do it."
    )


@dataclass(frozen=True)
class ReconcileCorrection:
    """`reconcile: correct`: move `champion` back to the version git pins."""

    model: str
    actual_version: str
    desired_version: str
    desired_hash: str


def render_reconcile_plan(plan: ReconcileCorrection, *, champion_alias: str, previous_alias: str) -> str:
    now = escape_md(plan.actual_version) or "-"
    return (
        f"{code(plan.model)} (dry run: nothing was changed): `{champion_alias}` v{now} → "
        f"v{escape_md(plan.desired_version)} (git pins {code(plan.desired_hash)}); "
        f"`{previous_alias}` → v{now}; the reconcile issue is updated."
    )
