"""`issue_comment.created`: parse a command, acknowledge it, check who asked, and act or queue a job.

Heavy work never happens here: training, promotion, rollback and drift checks are queued as jobs
(bot/handlers/jobs.py) and run by the executor.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from bot.core import commands, keys, replies
from bot.core.canary import fork_not_served
from bot.core.commands import Command, Reply
from bot.core.config import ConfigError, RepoConfig
from bot.core.events import Delivery, head_at
from bot.core.jobs import (
    CanaryRequest,
    CardRequest,
    DriftRequest,
    MoveRequest,
    PlanRequest,
    PromoteRequest,
    RollbackRequest,
    TrainRequest,
)
from bot.core.markdown import code, escape_md
from bot.core.markers import reply_marker
from bot.handlers.context import Context, read_config
from bot.ports import RepoGitHub

log = logging.getLogger(__name__)

VerbHandler = Callable[[Context, Delivery, RepoGitHub, RepoConfig, Command], None]


def on_comment_created(ctx: Context, delivery: Delivery) -> None:
    if delivery.sender_is_bot or delivery.sender == ctx.settings.bot_login:
        return  # bots, the bot itself included, do not drive the bot
    comment = delivery.payload["comment"]
    issue = delivery.payload["issue"]
    parsed = commands.parse(str(comment.get("body") or ""))
    if parsed is None:
        return
    gh = ctx.repo(delivery)
    try:
        gh.react(int(comment["id"]), "eyes")
    except Exception:  # cosmetic: a failed acknowledgement must never stop the command (issue 11 defect 4)
        log.warning("could not react to comment %s on %s", comment["id"], delivery.repo, exc_info=True)
    number = int(issue["number"])
    answer = _answerer(gh, number, int(comment["id"]), _made_at(delivery))
    if isinstance(parsed, Reply):
        answer(parsed.text)
        return
    try:
        config = read_config(gh)
    except ConfigError as exc:
        answer(replies.config_broken(str(exc)))
        return
    if config is None:
        answer(
            commands.render_help(RepoConfig().permissions) if parsed.verb == "help" else replies.no_config()
        )
        return
    permission = gh.permission(delivery.sender)
    allowed, reason = commands.may_run(parsed.verb, permission, config.permissions)
    if not allowed:
        answer(replies.refused(delivery.sender, reason))
        return
    if parsed.model is not None and config.model(parsed.model) is None:
        answer(replies.unknown_model(parsed.model, [m.name for m in config.models]))
        return
    VERBS[parsed.verb](ctx, delivery, gh, config, parsed)


def _answerer(gh: RepoGitHub, number: int, comment_id: int, since: str | None) -> Callable[[str], None]:
    """Answers to one comment are keyed by its id: a redelivered or retried command answers once. An answer is
    never older than its command, so only the comments since the command are looked through for it."""

    def answer(text: str) -> None:
        gh.upsert_comment(number, reply_marker("answer", str(comment_id)), text, since=since)

    return answer


def _made_at(delivery: Delivery) -> str | None:
    """When the command's comment was made (its `created_at`), if the payload says."""
    return str(delivery.payload["comment"].get("created_at") or "") or None


def _answer(gh: RepoGitHub, d: Delivery, text: str) -> None:
    _answerer(gh, _number(d), int(d.payload["comment"]["id"]), _made_at(d))(text)


def _on_pull(delivery: Delivery) -> bool:
    return bool(delivery.payload["issue"].get("pull_request"))


def _number(delivery: Delivery) -> int:
    return int(delivery.payload["issue"]["number"])


def _help(ctx: Context, d: Delivery, gh: RepoGitHub, config: RepoConfig, cmd: Command) -> None:
    _answer(gh, d, commands.render_help(config.permissions, [m.name for m in config.models]))


def _train(ctx: Context, d: Delivery, gh: RepoGitHub, config: RepoConfig, cmd: Command) -> None:
    number = _number(d)
    if not _on_pull(d):
        _answer(gh, d, replies.pull_only(cmd.verb))
        return
    pull = gh.pull(number)
    if pull.state != "open":
        _answer(gh, d, replies.pull_closed(cmd.verb))
        return
    if pull.is_fork and not fork_approved(gh, number, pull.head_sha):
        _answer(gh, d, replies.fork_waiting(pull.head_sha))
        return
    comment_id = d.payload["comment"]["id"]
    request = TrainRequest if cmd.verb == "train" else CardRequest
    # The job runs exactly the commit approved and judged here, whatever the head is when it starts.
    ctx.queue_job(
        request(pr=number, sha=pull.head_sha, model=cmd.model),
        keys.job_key(d.repo, pr=number, sha=pull.head_sha, comment_id=comment_id),
        d,
    )


def _promote(ctx: Context, d: Delivery, gh: RepoGitHub, config: RepoConfig, cmd: Command) -> None:
    number = _number(d)
    comment_id = d.payload["comment"]["id"]
    if cmd.environment is not None:  # `--to ENV`: from any issue or PR; the job checks ENV's protection rules
        move = MoveRequest(
            to=cmd.environment,
            reply_to=number,
            model=cmd.model,
            asked_by=d.sender,
            comment_id=comment_id,
            asked_at=_made_at(d),
            dry_run=cmd.dry_run,
        )
        ctx.queue_job(move, keys.job_key(d.repo, comment_id=comment_id), d)
        return
    if cmd.canary_percent is not None:
        _canary(ctx, d, gh, cmd)
        return
    if not _on_pull(d):
        if cmd.dry_run:  # a plan for the default branch's head, e.g. from a drift issue
            plan = PlanRequest(None, number, cmd.model, comment_id, _made_at(d))
            ctx.queue_job(plan, keys.job_key(d.repo, comment_id=comment_id), d)
        else:
            _answer(gh, d, replies.pull_only(cmd.verb))
        return
    pull = gh.pull(number)
    asked_by = keys.comment_effect(comment_id)  # one answer to this command, however often it is retried
    if cmd.dry_run:
        plan = PlanRequest(number, number, cmd.model, comment_id, _made_at(d))
        ctx.queue_job(plan, keys.job_key(d.repo, pr=number, comment_id=comment_id), d)
    elif pull.merged and pull.merge_commit_sha:
        # Retrying a merged PR's promotion is safe: promotion is keyed by (model, run).
        ctx.queue_job(
            PromoteRequest(
                sha=pull.merge_commit_sha, pr=number, model=cmd.model, asked_by=asked_by, asked_at=_made_at(d)
            ),
            keys.job_key(d.repo, sha=pull.merge_commit_sha, comment_id=comment_id),
            d,
        )
    elif pull.state == "open" and not config.promotion.allow_on_open_pr:
        _answer(gh, d, replies.promote_needs_merge(cmd.model))
    elif pull.state == "open":
        ctx.queue_job(
            PromoteRequest(
                sha=pull.head_sha, pr=number, model=cmd.model, asked_by=asked_by, asked_at=_made_at(d)
            ),
            keys.job_key(d.repo, pr=number, sha=pull.head_sha, comment_id=comment_id),
            d,
        )
    else:
        _answer(gh, d, replies.pull_closed(cmd.verb))


def _canary(ctx: Context, d: Delivery, gh: RepoGitHub, cmd: Command) -> None:
    """`/promote --canary`: this pull request's candidate (its merge commit's, or an open one's head) beside the
    champion. A fork's candidate is never served before it merges: its code trained the model."""
    number, comment_id = _number(d), d.payload["comment"]["id"]
    if not _on_pull(d):
        _answer(gh, d, replies.pull_only("promote --canary"))
        return
    pull = gh.pull(number)
    if pull.merged and pull.merge_commit_sha:
        sha = pull.merge_commit_sha
    elif pull.state == "open" and not pull.is_fork:
        sha = pull.head_sha
    else:
        _answer(gh, d, fork_not_served(cmd.model) if pull.state == "open" else replies.pull_closed(cmd.verb))
        return
    assert cmd.canary_percent is not None
    request = CanaryRequest(
        sha=sha,
        percent=f"{cmd.canary_percent:g}",
        pr=number,
        model=cmd.model,
        reply_to=number,
        comment_id=comment_id,
        asked_at=_made_at(d),
        dry_run=cmd.dry_run,
    )
    ctx.queue_job(request, keys.job_key(d.repo, pr=number, sha=sha, comment_id=comment_id), d)


def _rollback(ctx: Context, d: Delivery, gh: RepoGitHub, config: RepoConfig, cmd: Command) -> None:
    comment_id = d.payload["comment"]["id"]
    request = RollbackRequest(
        reply_to=_number(d),
        model=cmd.model,
        to=cmd.to_version,
        job_key=keys.comment_effect(comment_id),  # keys its Deployment and reply: a retry repeats nothing
        dry_run=cmd.dry_run,
        asked_at=_made_at(d),
    )
    ctx.queue_job(request, keys.job_key(d.repo, comment_id=comment_id), d)


def _drift(ctx: Context, d: Delivery, gh: RepoGitHub, config: RepoConfig, cmd: Command) -> None:
    comment_id = d.payload["comment"]["id"]
    ctx.queue_job(
        DriftRequest(model=cmd.model, reply_to=_number(d)), keys.job_key(d.repo, comment_id=comment_id), d
    )


def _ok_to_test(ctx: Context, d: Delivery, gh: RepoGitHub, config: RepoConfig, cmd: Command) -> None:
    number = _number(d)
    if not _on_pull(d):
        _answer(gh, d, replies.pull_only(cmd.verb))
        return
    comment_id = int(d.payload["comment"]["id"])
    # A second delivery of this comment (GitHub's redelivery, or a captured signed body replayed under a
    # new delivery id) is the same approval: keyed by the comment, not by the delivery, it does nothing new.
    if gh.find_bot_comment(number, approval_by(comment_id), since=_made_at(d)) is not None:
        log.info("approval comment %s on %s#%s already handled", comment_id, d.repo, number)
        return
    if gh.find_bot_comment(number, reply_marker("answer", str(comment_id)), since=_made_at(d)) is not None:
        log.info("approval comment %s on %s#%s already answered", comment_id, d.repo, number)
        return
    pull = gh.pull(number)
    if not pull.is_fork:
        _answer(gh, d, replies.ok_to_test_not_needed())
        return
    # Bind the approval to the head the maintainer saw: the head at the comment's creation, never the head
    # when the bot gets round to it (a push a moment after the comment must not ride on it).
    history = ctx.history.pull_head_events(d.repo, number) if ctx.history is not None else []
    seen = head_at(history, str(d.payload["comment"].get("created_at") or ""))
    if seen.sha is None:
        _answer(gh, d, approval_unbound(seen.reason))
        return
    if pull.head_sha != seen.sha:
        _answer(gh, d, head_moved(seen.sha, pull.head_sha))
        return
    # Queue first, record second: a crash in between re-runs this delivery, and the job key dedupes.
    ctx.queue_job(TrainRequest(pr=number, sha=seen.sha), keys.job_key(d.repo, pr=number, sha=seen.sha), d)
    # The approval is recorded on the PR itself, bound to that sha: a later push needs a new one.
    gh.upsert_comment(
        number,
        reply_marker("ok-to-test", seen.sha),
        f"{replies.ok_to_test_recorded(d.sender, seen.sha)}\n{approval_by(comment_id)}",
    )


def approval_by(comment_id: int) -> str:
    """Marker, inside the approval record, of the comment that approved: what makes a replay a duplicate."""
    return reply_marker("ok-to-test-comment", str(comment_id))


def head_moved(approved_sha: str, head_sha: str) -> str:
    return (
        f"{reply_marker('head-moved')}\n"
        f"I did not run that: the head moved after the approval (approved {code(approved_sha[:12])}, "
        f"now {code(head_sha[:12])}); a maintainer must /ok-to-test again after reading the new commits."
    )


def approval_unbound(reason: str) -> str:
    return (
        f"{reply_marker('approval-unbound')}\n"
        f"I did not run that: {escape_md(reason)}, so I cannot tell which commit you approved. "
        "A maintainer must /ok-to-test again once the head is settled (a new push gives me a record of it)."
    )


def fork_approved(gh: RepoGitHub, number: int, head_sha: str) -> bool:
    return gh.find_bot_comment(number, reply_marker("ok-to-test", head_sha)) is not None


VERBS: dict[str, VerbHandler] = {
    "help": _help,
    "train": _train,
    "card": _train,
    "promote": _promote,
    "rollback": _rollback,
    "drift": _drift,
    "ok-to-test": _ok_to_test,
}

ROUTES: dict[str, Any] = {"issue_comment.created": on_comment_created}
