"""What every part of the per-repository adapter shares: the client, the lazy repository, retries, authorship."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from bot.adapters.github.errors import RetryPolicy, T, _retrying

if TYPE_CHECKING:
    from github import Github
    from github.Repository import Repository


class RepoBase:
    """The state of `GitHubRepo`; its parts (issues, checks, deployments, contents) are mixins over this."""

    def __init__(
        self,
        gh: Github,
        full_name: str,
        *,
        bot_login: str,
        retry: RetryPolicy | None = None,
    ) -> None:
        self.gh = gh
        self.full_name = full_name
        self.bot_login = bot_login
        self.retry = retry or RetryPolicy()
        self._repo: Repository | None = None

    def _call(self, what: str, fn: Callable[[], T]) -> T:
        return _retrying(self.retry, f"{what} on {self.full_name}", fn)

    @property
    def repo(self) -> Repository:
        # Lazy: no `GET /repos/{owner}/{repo}` until a value only that answer holds is asked for.
        if self._repo is None:
            self._repo = self.gh.get_repo(self.full_name, lazy=True)
        return self._repo

    def _mine(self, user: Any) -> bool:
        """Whether a GitHub object was authored by the bot: every marker look-up counts only those."""
        return user is not None and str(user.login) == self.bot_login

    def _my_app(self, app: Any) -> bool:
        """Whether a check run belongs to the bot's App (`<slug>[bot]` is the App's login)."""
        if not self.bot_login.endswith("[bot]"):
            return True  # a personal token cannot create check runs; nothing else to compare with
        return app is not None and str(app.slug) == self.bot_login.removesuffix("[bot]")
