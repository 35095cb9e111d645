"""`pull_request.*`: a push trains (forks wait for `/ok-to-test`), a merge promotes."""

from __future__ import annotations

import logging
from typing import Any

from bot.core import keys, replies
from bot.core.config import ConfigError
from bot.core.events import Delivery
from bot.core.jobs import PromoteRequest, TrainRequest
from bot.core.markers import reply_marker
from bot.core.pushes import is_own_lock_commit
from bot.handlers.comments import fork_approved
from bot.handlers.context import Context, read_config
from bot.ports import RepoGitHub

# The keys of the PR's own notices. A command's answer (keyed by its comment id) may carry the same reply
# text, hence its bare marker: keyed by the bare marker, refreshing a notice would take that answer for a
# duplicate of the notice and delete it.
FORK_WAITING_KEY = reply_marker("fork-waiting", "pull")
CONFIG_BROKEN_KEY = reply_marker("config-broken", "pull")

log = logging.getLogger(__name__)


def on_pull_changed(ctx: Context, delivery: Delivery) -> None:
    """opened / synchronize / reopened: train the head commit."""
    pr = delivery.payload["pull_request"]
    gh = ctx.repo(delivery)
    number = int(pr["number"])
    head_sha = str(pr["head"]["sha"])
    if _is_own_lock_push(gh, delivery, head_sha):
        log.info(
            "#%s: %s is the bot's own dvc.lock commit; its card and check are already on it", number, head_sha
        )
        return
    try:
        config = read_config(gh)
    except ConfigError as exc:
        gh.upsert_comment(number, CONFIG_BROKEN_KEY, replies.config_broken(str(exc)))
        return
    if config is None or not config.models:
        return
    head_repo = ((pr["head"].get("repo") or {}).get("full_name")) or ""
    if head_repo.lower() != delivery.repo.lower() and not fork_approved(gh, number, head_sha):
        # Fork code never runs until someone with write permission has read it (Prow's ok-to-test).
        gh.upsert_comment(number, FORK_WAITING_KEY, replies.fork_waiting(head_sha))
        return
    ctx.queue_job(
        TrainRequest(pr=number, sha=head_sha), keys.job_key(delivery.repo, pr=number, sha=head_sha), delivery
    )


def _is_own_lock_push(gh: RepoGitHub, delivery: Delivery, head_sha: str) -> bool:
    """A push by a bot (the App's installation token, or the workflow's GITHUB_TOKEN) of the `dvc.lock` commit
    `train --commit-lock` makes. One request, and only for pushes a bot made: a person's push is trained."""
    if delivery.action != "synchronize" or not delivery.sender_is_bot:
        return False
    return is_own_lock_commit(gh.commit(head_sha), str(delivery.payload.get("before") or ""))


def on_pull_closed(ctx: Context, delivery: Delivery) -> None:
    pr = delivery.payload["pull_request"]
    if not pr.get("merged"):
        return
    gh = ctx.repo(delivery)
    try:
        config = read_config(gh)
    except ConfigError as exc:
        gh.upsert_comment(int(pr["number"]), CONFIG_BROKEN_KEY, replies.config_broken(str(exc)))
        return
    if config is None or not config.models or not config.promotion.on_merge:
        return
    merge_sha = str(pr.get("merge_commit_sha") or "")
    # Keyed by the merge commit: the same merge delivered twice promotes once.
    ctx.queue_job(
        PromoteRequest(
            sha=merge_sha,
            pr=int(pr["number"]),
            asked_by=keys.merge_effect(merge_sha),
            asked_at=str(pr.get("merged_at") or "") or None,
        ),
        keys.job_key(delivery.repo, sha=merge_sha),
        delivery,
    )


ROUTES: dict[str, Any] = {
    "pull_request.opened": on_pull_changed,
    "pull_request.synchronize": on_pull_changed,
    "pull_request.reopened": on_pull_changed,
    "pull_request.closed": on_pull_closed,
}
