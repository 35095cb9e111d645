"""Moving a version on from one environment to the next (`/promote MODEL --to production`, or the soak).

A plan is a value (`plan_move`): the job carries it out step by step, `--dry-run` renders the same value and
stops. Whether the move may happen is decided here from facts the job fetched: the version each alias serves,
the target environment's protection rules as GitHub describes them (`GET /repos/{o}/{r}/environments/{name}`)
and who asked.

What the local executor honours of GitHub's protection rules (docs/environments.md), where no workflow job
waits for GitHub to enforce them:
- `required_reviewers`: the person who asks (`/promote --to`) must be one of the listed users. Their command is
  their approval; anyone else is refused with the reviewers' names. The soak never moves past a reviewer rule.
  A team reviewer cannot be confirmed here: such an environment needs a listed user, or `executor: actions`.
- `wait_timer` (minutes): counted from the Deployment to the previous environment; refused until it has run.
https://docs.github.com/actions/managing-workflow-runs-and-deployments/managing-deployments/managing-environments-for-deployment
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

from bot.core.config.environments import Stage
from bot.core.markdown import code, escape_md
from bot.core.models import ModelVersion
from bot.core.monitoring.history import CheckRecord


@dataclass(frozen=True)
class Protection:
    """An environment's protection rules, as `GET /repos/{o}/{r}/environments/{name}` lists them."""

    exists: bool = True  # False: GitHub has no such environment yet (nothing protects it)
    reviewers: tuple[str, ...] = ()  # user logins
    teams: tuple[str, ...] = ()  # team slugs
    wait_minutes: int = 0

    @property
    def needs_review(self) -> bool:
        return bool(self.reviewers or self.teams)


@dataclass(frozen=True)
class MovePlan:
    """Move `version` of `model` from `source` to `target`: the target's alias, its Deployment, its bento."""

    model: str
    source: Stage
    target: Stage
    version: str  # the version `source` serves; "" when it serves none
    run_id: str
    ref: str  # the commit the version was promoted from
    bento_tag: str  # the service built for it (reused: the same version serves the next environment)
    target_version: str  # what `target` serves now; "" when nothing
    blocked: tuple[str, ...]  # why it may not happen now; empty: it may

    @property
    def allowed(self) -> bool:
        return not self.blocked and bool(self.version) and not self.already

    @property
    def already(self) -> bool:
        return bool(self.version) and self.version == self.target_version

    def deployment_payload(self) -> dict[str, str]:
        return {"model": self.model, "version": self.version, "run_id": self.run_id, "from": self.source.name}

    @property
    def deployment_description(self) -> str:
        return f"Promote {self.model} v{self.version} from {self.source.name} to {self.target.name}"


def plan_move(
    model: str,
    source: Stage,
    target: Stage,
    source_version: ModelVersion | None,
    target_version: ModelVersion | None,
    *,
    protection: Protection,
    asked_by: str | None,
    source_deployed_at: dt.datetime | None,
    now: dt.datetime,
    git_sha_tag: str,
    bento_tag: str,
) -> MovePlan:
    """What moving `model` on from `source` to `target` does, and what stops it. `asked_by`: the person whose
    command asks (None: the soak). `source_deployed_at`: when the version's Deployment to `source` succeeded."""
    blocked: list[str] = []
    if source_version is None:
        blocked.append(
            f"{code(source.name)} serves no version of {code(model)} (alias {code(source.alias)}); "
            f"a merge promotes there first"
        )
    blocked += _review(target, protection, asked_by)
    blocked += _wait(target, protection, source, source_deployed_at, now)
    return MovePlan(
        model=model,
        source=source,
        target=target,
        version=source_version.version if source_version else "",
        run_id=source_version.run_id if source_version else "",
        ref=source_version.tags.get(git_sha_tag, "") if source_version else "",
        bento_tag=bento_tag,
        target_version=target_version.version if target_version else "",
        blocked=tuple(blocked),
    )


def _review(target: Stage, protection: Protection, asked_by: str | None) -> list[str]:
    if not protection.needs_review:
        return []
    who = ", ".join(
        [*(f"@{escape_md(r)}" for r in protection.reviewers), *(f"team {code(t)}" for t in protection.teams)]
    )
    rule = f"{code(target.name)} requires a review by one of: {who} (its GitHub protection rules)"
    if asked_by is None:
        return [
            f"{rule}; the soak does not move past a reviewer: a reviewer comments `/promote --to {target.name}`"
        ]
    if asked_by.lower() in (r.lower() for r in protection.reviewers):
        return []
    if not protection.reviewers:
        return [
            f"{rule}; the local executor cannot confirm team membership: list a user, or use `executor: actions`"
        ]
    return [
        f"{rule}; @{escape_md(asked_by)} is not one of them: a reviewer's `/promote --to {target.name}` approves it"
    ]


def _wait(
    target: Stage, protection: Protection, source: Stage, since: dt.datetime | None, now: dt.datetime
) -> list[str]:
    if protection.wait_minutes <= 0:
        return []
    if since is None:
        return [
            f"{code(target.name)} has a {protection.wait_minutes}-minute wait timer, and no Deployment to {code(source.name)} starts it"
        ]
    ends = since + dt.timedelta(minutes=protection.wait_minutes)
    if now >= ends:
        return []
    return [
        f"{code(target.name)}'s wait timer ({protection.wait_minutes} min from the Deployment to "
        f"{code(source.name)}) runs until {ends.strftime('%Y-%m-%d %H:%M UTC')}"
    ]


def soak_due(
    deployed_at: dt.datetime | None, soak: dt.timedelta, now: dt.datetime, *, checks_green: bool | None
) -> tuple[bool, str]:
    """Whether a version has soaked in staging long enough, with its monitoring checks green, to move on by
    itself; and why (or why not). `checks_green` None: no check has judged it yet (not green)."""
    if deployed_at is None:
        return False, "no Deployment to staging records when it started"
    if now < deployed_at + soak:
        return False, f"soaking until {(deployed_at + soak).strftime('%Y-%m-%d %H:%M UTC')}"
    if checks_green is None:
        return False, "no monitoring check has judged it since it reached staging"
    if not checks_green:
        return False, "its monitoring checks are not green"
    return True, f"soaked {soak} with its monitoring checks green"


def render_move(plan: MovePlan, *, dry_run: bool) -> str:
    """The answer to a move: the plan (a dry run, or a refusal with its reasons), or what was done."""
    model, source, target = code(plan.model), code(plan.source.name), code(plan.target.name)
    steps = (
        f"- alias {code(plan.target.alias)}: v{escape_md(plan.target_version) or '-'} → v{escape_md(plan.version)}\n"
        f"- a Deployment to {target} of v{escape_md(plan.version)} (run {code(plan.run_id)})"
        + (f" at {code(plan.ref[:12])}" if plan.ref else "")
        + "\n"
        + (f"- the service {code(plan.bento_tag)} serves {target}\n" if plan.bento_tag else "")
    )
    if plan.already:
        return f"{model} v{escape_md(plan.version)} already serves {target}; nothing to do."
    if plan.blocked:
        reasons = "\n".join(f"- {r}" for r in plan.blocked)
        head = f"### {model}: not moved from {source} to {target}" + (" (dry run)" if dry_run else "")
        return f"{head}\n\n{reasons}\n"
    if dry_run:
        return (
            f"### Plan: {model} from {source} to {target} (dry run: nothing was changed)\n\n{steps}\n"
            f"Comment `/promote {escape_md(plan.model)} --to {escape_md(plan.target.name)}` to do it."
        )
    return f"### {model} v{escape_md(plan.version)} moved from {source} to {target}\n\n{steps}"


def stage_tag(base: str, stage: Stage) -> str:
    """The version tag recording `base` (its Deployment, its bento, when it arrived) for one environment. The
    champion's environment keeps the names it always had (`mlops_bot.deployment_id`); another environment's
    carry its name (`mlops_bot.deployment_id.staging`)."""
    return base if stage.last else f"{base}.{stage.name.lower()}"


def checks_green(records: Sequence[CheckRecord], since: dt.datetime | None) -> bool | None:
    """Whether the model's monitoring checks made since `since` (its arrival in staging) are all green: no
    drift, no failed quality check, no performance drop, nothing fired. None when no check has been made since."""
    if since is None:
        return None
    after = [r for r in records if (moment := _time(r.checked_at)) is not None and moment >= since]
    if not after:
        return None
    return all(
        not r.fired
        and not r.dataset_drift
        and r.quality_status not in ("fail", "schema-break")
        and r.performance_status != "drop"
        for r in after
    )


def _time(text: str) -> dt.datetime | None:
    try:
        moment = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)
