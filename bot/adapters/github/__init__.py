"""GitHub behind `bot.ports.RepoGitHub` / `GitHubFactory`, through PyGithub (imported lazily).

Two layers keep effects exactly-once under GitHub's failures:

* PyGithub's own transport retries are off (`retry=None`): every port method runs as a whole inside
  `_retrying` (errors.py), which re-runs the keyed find-then-write on 5xx, dropped connections and rate limits,
  within a bounded total wait.
* every write is keyed: a comment by hidden marker and author, an issue by marker, a check run by name on
  the head sha, a pull request by head branch, a commit by its file contents. A re-run finds what the
  interrupted attempt made.

The parts: errors.py (errors, limits, retries), auth.py (tokens, App installations, the factory), repo.py
(the per-repository adapter, composed of issues.py, checks.py, deployments.py and contents.py).
"""

from bot.adapters.github.auth import (
    TOKEN_REFRESH_MARGIN_S,
    GitHubFactory,
    InstallationTokens,
    TokenScope,
)
from bot.adapters.github.errors import (
    MAX_CHECK_TEXT_CHARS,
    MAX_COMMENT_CHARS,
    MAX_DEPLOYMENT_DESCRIPTION,
    SECONDARY_RATE_LIMIT_WAIT_S,
    BodyTooLong,
    GitHubError,
    RetryPolicy,
    _retrying,
    check_body,
    git_blob_sha,
    retry_delay,
)
from bot.adapters.github.repo import GitHubRepo

__all__ = [
    "MAX_CHECK_TEXT_CHARS",
    "MAX_COMMENT_CHARS",
    "MAX_DEPLOYMENT_DESCRIPTION",
    "SECONDARY_RATE_LIMIT_WAIT_S",
    "TOKEN_REFRESH_MARGIN_S",
    "BodyTooLong",
    "GitHubError",
    "GitHubFactory",
    "GitHubRepo",
    "InstallationTokens",
    "RetryPolicy",
    "TokenScope",
    "_retrying",
    "check_body",
    "git_blob_sha",
    "retry_delay",
]
