"""What every part of the per-repository adapter shares: the client, the lazy repository, retries, authorship."""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, Self

from bot.adapters.github.errors import RetryPolicy, T, _retrying
from bot.adapters.github.memory import ConditionalCache, KnownIds

if TYPE_CHECKING:
    from github import Github
    from github.Repository import Repository


REPOSITORY_FACTS = ("default_branch", "clone_url")


class RepoBase:
    """The state of `GitHubRepo`; its parts (issues, checks, deployments, contents) are mixins over this."""

    def __init__(
        self,
        gh: Github,
        full_name: str,
        *,
        bot_login: str,
        retry: RetryPolicy | None = None,
        known: KnownIds | None = None,
        etags: ConditionalCache | None = None,
        repository: Mapping[str, Any] | None = None,
    ) -> None:
        self.gh = gh
        self.full_name = full_name
        self.bot_login = bot_login
        self.retry = retry or RetryPolicy()
        # Ids of the comments and check runs the bot made or found, shared by the factory's adapters and
        # verified on use (memory.py).
        self.known = known if known is not None else KnownIds()
        self.etags = etags if etags is not None else ConditionalCache()
        # What the webhook payload's `repository` already says (default branch, clone URL): not asked again.
        self.facts = {k: str(v) for k, v in (repository or {}).items() if k in REPOSITORY_FACTS and v}
        self._repo: Repository | None = None

    def beside(self) -> Self:
        """This repository on a GitHub client of its own (same token and manners), sharing the remembered ids
        and ETags: PyGithub's client keeps one request's state on its connection, so two threads need two."""
        twin = copy.copy(self)
        twin.gh = self.gh.withLazy(self.gh.requester.is_lazy)  # a new Github of identical configuration
        twin.facts = dict(self.facts)
        twin._repo = None
        return twin

    def _call(self, what: str, fn: Callable[[], T]) -> T:
        return _retrying(self.retry, f"{what} on {self.full_name}", fn)

    @property
    def repo(self) -> Repository:
        # Lazy: no `GET /repos/{owner}/{repo}` until a value only that answer holds is asked for.
        if self._repo is None:
            self._repo = self.gh.get_repo(self.full_name, lazy=True)
        return self._repo

    def _fact(self, name: str) -> str:
        """A repository value: from the payload when it carried it, else from one `GET /repos/{o}/{r}`
        (the lazy repository completes once and keeps every value of the answer)."""
        if name not in self.facts:
            self.facts[name] = self._call(
                f"reading the {name.replace('_', ' ')}", lambda: str(getattr(self.repo, name))
            )
        return self.facts[name]

    def _get_conditional(self, url: str, parameters: dict[str, Any] | None = None) -> tuple[Any, str]:
        """The JSON answer of `GET url` and its Link header, asked with the ETag of the last answer when there
        is one: a 304 (free of rate limit on GitHub) returns the copy kept. HTTP errors raise as PyGithub's."""
        import json
        from urllib.parse import urlencode

        requester = self.repo.requester
        key = url + ("?" + urlencode(sorted(parameters.items())) if parameters else "")
        cached = self.etags.get(self.full_name, key)
        headers = {"If-None-Match": cached[0]} if cached is not None else {}
        status, answer_headers, output = requester.requestJson("GET", url, parameters, headers)
        if status == 304 and cached is not None:
            return cached[1]["data"], str(cached[1]["link"])
        data = json.loads(output) if output else None
        if status >= 400:
            raise requester.createException(status, answer_headers, data if isinstance(data, dict) else {})
        found = {k.lower(): str(v) for k, v in answer_headers.items()}
        if found.get("etag"):
            self.etags.put(self.full_name, key, found["etag"], {"data": data, "link": found.get("link", "")})
        return data, found.get("link", "")

    def _mine(self, user: Any) -> bool:
        """Whether a GitHub object was authored by the bot: every marker look-up counts only those."""
        return user is not None and str(user.login) == self.bot_login

    def _my_app(self, app: Any) -> bool:
        """Whether a check run belongs to the bot's App (`<slug>[bot]` is the App's login)."""
        if not self.bot_login.endswith("[bot]"):
            return True  # a personal token cannot create check runs; nothing else to compare with
        return app is not None and str(app.slug) == self.bot_login.removesuffix("[bot]")
