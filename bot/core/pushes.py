"""Which pushes to a pull request are worth a training: not the bot's own commit of `dvc.lock`.

`mlops-bot train --commit-lock` trains the head, then commits the `dvc.lock` it produced on top of it, so what
merges names the model that was trained. That push fires `pull_request.synchronize` like any other; training
again would reproduce nothing and cost a whole job. The card step already put the card and check on the new
head (`TrainResult.lock_commit`), so such a push needs nothing at all.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import PurePosixPath

from bot.core.models import CommitFacts

BOT_GIT_NAME = "mlops-bot"
BOT_GIT_EMAIL = "mlops-bot@users.noreply.github.com"
LOCK_COMMIT_PREFIX = "mlops-bot: dvc.lock of the trained "
LOCK_FILE_NAME = "dvc.lock"


def lock_commit_message(models: Sequence[str]) -> str:
    return LOCK_COMMIT_PREFIX + ", ".join(models)


def is_own_lock_commit(commit: CommitFacts, before: str) -> bool:
    """Whether `commit`, pushed on top of `before`, is the bot's `dvc.lock` commit and nothing else.

    Every part must hold: one parent, the commit the push started from (a force-push or a merge is a human's
    change); made by the bot's git identity; the bot's message; only `dvc.lock` files changed. The caller
    asks only for pushes whose sender is a bot, so a person cannot dress a code change up as one."""
    return (
        bool(before)
        and commit.parents == (before,)
        and commit.author_email == BOT_GIT_EMAIL
        and commit.committer_email == BOT_GIT_EMAIL
        and commit.message.startswith(LOCK_COMMIT_PREFIX)
        and bool(commit.files)
        and all(PurePosixPath(path).name == LOCK_FILE_NAME for path in commit.files)
    )
