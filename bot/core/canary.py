"""A challenger on live traffic (`/promote MODEL --canary 10%`): what starting, ending or dropping a canary
does, decided before anything is done, and the answers the bot gives about it.

Where the state lives: the registry. The candidate version carries alias `canary` and tags saying its share of
requests, the champion it runs beside, the two-model bento and the Deployment that records it. One canary per
model: a new one replaces the running one. What GitHub shows: a Deployment to the champion's environment
(`production`) whose payload names the canary bento; GitHub makes the environment's newest successful
Deployment the active one, so the canary's supersedes the champion's while it runs, and the Deployment that
ends it (`/promote --to production`, or `/rollback`'s champion-alone one) supersedes the canary's.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from bot.core.evaluation import SameDataComparison
from bot.core.markdown import code, escape_md
from bot.core.models import ModelVersion

CANARY_ALIAS = "canary"


class CanaryTags:
    """Tags on the candidate version while (and after) it runs as a canary."""

    PERCENT = "mlops_bot.canary_percent"  # its share of requests, in percent ("10", "2.5")
    CHAMPION = "mlops_bot.canary_champion"  # the champion version it runs beside
    BENTO = "mlops_bot.canary_bento"  # the service serving both
    DEPLOYMENT = "mlops_bot.canary_deployment"  # the Deployment that records it
    ENDED = "mlops_bot.canary_ended"  # "promoted" | "dropped" | "replaced", once it no longer runs
    DROP_KEY = "mlops_bot.canary_drop_key"  # on the champion: the job that dropped the canary beside it


def percent_text(percent: float) -> str:
    """10.0 -> "10", 2.5 -> "2.5": how a share is written in tags, keys and replies."""
    return f"{percent:g}"


@dataclass(frozen=True)
class CanaryPlan:
    """Serve `candidate_version` beside `champion_version` for `percent` % of the requests."""

    model: str
    candidate_version: str  # "" when the candidate's run is not registered yet (the canary registers it)
    candidate_run_id: str
    champion_version: str
    percent: float
    environment: str
    replaces: str = ""  # the version of a running canary this one replaces ("" when none runs)
    already: bool = False  # exactly this canary runs already: nothing to do
    refusal: str = ""  # why it cannot start (markdown); "" when it can

    @property
    def possible(self) -> bool:
        return not self.refusal

    def deployment_payload(self, *, bento: str, key: str) -> dict[str, Any]:
        return {
            "model": self.model,
            "version": self.champion_version,
            "canary": {
                "version": self.candidate_version,
                "percent": self.percent,
                "run_id": self.candidate_run_id,
            },
            "bento": bento,
            "key": key,
        }

    @property
    def deployment_description(self) -> str:
        return (
            f"Canary {self.model} v{self.candidate_version} answers {percent_text(self.percent)}% "
            f"beside v{self.champion_version}"
        )


def running_canary(version: ModelVersion | None) -> ModelVersion | None:
    """The version alias `canary` points at, unless it was already ended (a retry between two steps)."""
    if version is None or version.tags.get(CanaryTags.ENDED):
        return None
    return version


def plan_canary(
    model: str,
    *,
    candidate: ModelVersion | None,
    candidate_run_id: str,
    champion: ModelVersion | None,
    running: ModelVersion | None,
    percent: float,
    environment: str,
) -> CanaryPlan:
    """Decide a canary of `candidate` (a registered version, or None for a run the canary will register)."""
    version = candidate.version if candidate is not None else ""
    base = CanaryPlan(
        model,
        version,
        candidate_run_id,
        champion.version if champion is not None else "",
        percent,
        environment,
        replaces=running.version if running is not None else "",
    )
    if champion is None:
        return _refused(base, f"{code(model)} has no champion to run a canary beside yet: promote one first.")
    if candidate is not None and candidate.version == champion.version:
        return _refused(
            base, f"version {escape_md(version)} is the champion already: there is nothing to compare."
        )
    if running is not None and candidate is not None and running.version == candidate.version:
        tags = running.tags
        same = (
            tags.get(CanaryTags.PERCENT) == percent_text(percent)
            and tags.get(CanaryTags.CHAMPION) == champion.version
            and bool(tags.get(CanaryTags.BENTO))
            and bool(tags.get(CanaryTags.DEPLOYMENT))
        )
        return CanaryPlan(**{**base.__dict__, "replaces": "", "already": same})
    return base


def _refused(plan: CanaryPlan, why: str) -> CanaryPlan:
    return CanaryPlan(**{**plan.__dict__, "refusal": why})


def render_canary_plan(plan: CanaryPlan, *, dry_run: bool) -> str:
    """The canary's steps, as the dry run shows them and the real run takes them."""
    model, share = code(plan.model), percent_text(plan.percent)
    if not plan.possible:
        return f"### Canary of {model}: not started\n\n{plan.refusal}"
    candidate = f"v{escape_md(plan.candidate_version)}" if plan.candidate_version else "the candidate"
    title = "(dry run: nothing was changed)" if dry_run else ""
    if plan.already:
        return f"### Canary of {model}: {candidate} already answers {share}% {title}".rstrip()
    register = (
        ""
        if plan.candidate_version
        else f"- register run {code(plan.candidate_run_id)} as a new version of {model}\n"
    )
    replaces = (
        f"- end the running canary v{escape_md(plan.replaces)} (this one replaces it)\n"
        if plan.replaces
        else ""
    )
    return (
        f"### Canary plan for {model} {title}\n\n"
        f"{register}{replaces}"
        f"- build one service serving champion v{escape_md(plan.champion_version)} and {candidate}: "
        f"{candidate} answers {share}% of the requests (sticky by the `X-Canary-Key` header or the "
        "`canary_key` field), both models score every request and both predictions are logged\n"
        f"- alias `{CANARY_ALIAS}` → {candidate}\n"
        f"- a Deployment to `{escape_md(plan.environment)}` naming that service\n\n"
        f"`/promote {escape_md(plan.model)} --to {escape_md(plan.environment)}` ends it by promoting the "
        f"candidate; `/rollback {escape_md(plan.model)}` drops it."
    )


def render_canary_started(
    model: str, *, candidate: str, champion: str, percent: float, bento: str, note: str, deployment: int
) -> str:
    lines = [
        f"### 🐤 Canary: {code(model)} v{escape_md(candidate)} answers {percent_text(percent)}% "
        f"of the requests beside champion v{escape_md(champion)}",
        "",
        f"- Service: {code(bento)}" + (f" ({escape_md(note)})" if note else ""),
        *([f"- Deployment: #{deployment}"] if deployment else []),
        "- Both models score every request; once labels come back (`POST /feedback`), each drift check posts "
        "the two compared on the same requests on this pull request.",
        f"- `/promote {escape_md(model)} --to production` promotes the candidate; `/rollback {escape_md(model)}` "
        "drops the canary.",
    ]
    return "\n".join(lines)


def render_canary_dropped(
    model: str, *, candidate: str, champion: str, deployment: int, dry_run: bool
) -> str:
    if dry_run:
        return (
            f"### Rollback plan for {code(model)} (dry run: nothing was changed)\n\n"
            f"- drop the canary v{escape_md(candidate)}: alias `{CANARY_ALIAS}` removed\n"
            f"- a Deployment of champion v{escape_md(champion)} alone (its own service)\n\n"
            f"The champion stays v{escape_md(champion)}; a `/rollback` after this one moves it back."
        )
    shown = f" (Deployment #{deployment})" if deployment else ""
    return (
        f"### ↩️ Canary of {code(model)} dropped\n\n"
        f"Champion v{escape_md(champion)} answers every request again{shown}; v{escape_md(candidate)} no longer "
        f"serves. The champion stays; a `/rollback` after this one moves it back."
    )


def fork_not_served(model: str | None) -> str:
    """The answer to `/promote --canary` on an open pull request from a fork."""
    name = f" of {code(model)}" if model else ""
    return (
        f"A canary{name} serves this pull request's model to real requests, and a fork's code trained it: it is "
        "served only once the pull request is merged. Merge it, then comment `/promote --canary` on it again."
    )


def render_live_comparison(
    model: str,
    *,
    canary_version: str,
    champion_version: str,
    answered: dict[str, int],
    comparison: SameDataComparison | None,
) -> str:
    """The canary and the champion on the same live requests, in the card's same-data table."""
    from bot.core.card.same_data import comparison_view
    from bot.core.markdown import render_template, squeeze_blank_lines

    total = sum(answered.values())
    share = answered.get(canary_version, 0)
    said = (
        f"{total:,} request(s) scored by both since the canary started; v{escape_md(canary_version)} answered "
        f"{share:,} ({share / total:.1%})."
        if total
        else "No request has been scored by both versions yet."
    )
    view = comparison_view(comparison) if total else None
    text = render_template(
        "comments/canary_compare.md.j2",
        {
            "model": code(model),
            "model_name": escape_md(model),
            "canary_version": escape_md(canary_version),
            "champion_version": escape_md(champion_version),
            "answered": said,
            "comparison": view,
        },
    )
    return squeeze_blank_lines(text)
