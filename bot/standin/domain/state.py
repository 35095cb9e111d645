"""The stand-in's state and the look-ups shared by every resource."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bot.standin import shapes
from bot.standin.faults import Faults
from bot.standin.gitstore import Signature
from bot.standin.model import (
    LEGACY_PERMISSION,
    App,
    Ids,
    Installation,
    Issue,
    Label,
    Pull,
    Repo,
    Token,
    User,
    now_iso,
)
from bot.standin.ratelimit import RateLimits
from bot.standin.spec import rest_spec, webhook_schemas
from bot.standin.webhooks import WebhookSender

API_PREFIX = "/api/v3"
# Where a repository's post-receive hook announces a direct `git push` (see `Repos.install_push_hook`).
GIT_HOOK_PATH = "/_standin/git-pushed"
TOKEN_LIFETIME_S = 3600  # installation tokens expire after one hour on GitHub


class StandInError(Exception):
    """A domain rule refused an operation; `status` and `message` are what GitHub would answer."""

    def __init__(self, status: int, message: str, errors: list[dict[str, Any]] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.errors = errors or []


@dataclass
class RequestLog:
    """One REST request the stand-in received: answered, refused, or met by an injected fault (status 0).

    A 304 is a conditional GET whose copy was current; GitHub does not charge an authorized 304 against the
    primary rate limit, and `counts_toward_rate_limit` says so per request.
    """

    method: str
    path: str  # below /api/v3, without the query
    status: int
    actor: str | None  # the token's login; None for app JWTs and anonymous callers
    operation: str | None  # the operationId of GitHub's description, or "fault:<kind>"
    conditional: bool = False  # the request carried If-None-Match or If-Modified-Since
    authorized: bool = False  # it carried a valid token or app JWT
    etag: str | None = None  # the ETag answered (a GET answered 200 or 304)

    @property
    def not_modified(self) -> bool:
        return self.status == 304

    @property
    def counts_toward_rate_limit(self) -> bool:
        return not (self.not_modified and self.authorized)


@dataclass
class Violation:
    """A request that does not follow GitHub's REST description."""

    method: str
    path: str
    reason: str


class State:
    """What the stand-in knows, and the look-ups every resource shares. Each resource adds its operations
    in a subclass (bot/standin/domain/*.py); `StandIn` (bot/standin/server.py) composes them."""

    def __init__(
        self,
        data_dir: Path,
        *,
        webhook_url: str | None = None,
        webhook_secret: str | None = None,
        strict: bool = True,
        app_slug: str = "mlops-bot",
    ) -> None:
        self.data_dir = Path(data_dir).resolve()  # clone URLs are file:// URIs: they need an absolute path
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.strict = strict
        self.app_slug = app_slug
        self.faults = Faults()
        self.lock = threading.RLock()
        self.ids = Ids()
        self.users: dict[str, User] = {}
        self.tokens: dict[str, Token] = {}
        self.repos: dict[str, Repo] = {}
        self.apps: dict[int, App] = {}
        self.installations: dict[int, Installation] = {}
        self.requests: list[RequestLog] = []
        self.rate_limits = RateLimits()
        self.violations: list[Violation] = []
        # Tests switch this on to check every 2xx answer against the description's response schema.
        self.validate_responses = False
        self.response_problems: list[Violation] = []
        self.base_url = ""
        self.html_url = ""
        self.token_lifetime_s = TOKEN_LIFETIME_S
        self._sender = WebhookSender(webhook_url, webhook_secret)
        self.spec = rest_spec()
        self.hook_schemas = webhook_schemas()
        # The app the stand-in hosts: its bot user exists from the start so tokens can act as it.
        self.default_app = App(id=self.ids(), slug=app_slug, owner=self.ensure_owner("standin-apps").login)
        self.apps[self.default_app.id] = self.default_app
        self.ensure_user(self.default_app.bot_login, "Bot")

    def charged_requests(self, since: int = 0) -> list[RequestLog]:
        """Requests logged from index `since` of `requests` on that GitHub would charge against the primary
        rate limit: every one but an authorized 304 (take `since = len(standin.requests)` before a step)."""
        return [r for r in self.requests[since:] if r.counts_toward_rate_limit]

    def check(self) -> None:
        """Raise AssertionError listing the requests that did not follow GitHub's description."""
        if self.violations:
            lines = "\n".join(f"  {v.method} {v.path}: {v.reason}" for v in self.violations)
            raise AssertionError(
                f"{len(self.violations)} request(s) did not follow GitHub's REST description:\n{lines}"
            )

    @property
    def urls(self) -> shapes.Urls:
        return shapes.Urls(self.base_url, self.html_url)

    def ensure_user(self, login: str, type: str = "User") -> User:
        found = self.users.get(login)
        if found is None:
            found = User(self.ids(), login, type)
            self.users[login] = found
        return found

    def ensure_owner(self, login: str) -> User:
        return self.ensure_user(login, "Organization" if login == "standin-apps" else "User")

    def token_for(self, value: str) -> Token | None:
        token = self.tokens.get(value)
        if token is None or (token.expires_at is not None and token.expires_at < time.time()):
            return None
        return token

    def installation_of(self, full_name: str) -> Installation | None:
        for inst in self.installations.values():
            if full_name in inst.repos:
                return inst
        return None

    def _repo(self, full_name: str) -> Repo:
        repo = self.repos.get(full_name.lower())
        if repo is None:
            raise StandInError(404, "Not Found")
        return repo

    def repo(self, full_name: str) -> Repo:
        """The stand-in's record of a repository (for assertions)."""
        with self.lock:
            return self._repo(full_name)

    def role(self, repo: Repo, login: str) -> str:
        """The collaborator role GitHub would report for `login` on `repo`."""
        if login in repo.permissions:
            return repo.permissions[login]
        user = self.users.get(login)
        if (
            user is not None
            and user.login == self.default_app.bot_login
            and self.installation_of(repo.full_name)
        ):
            return "write"
        return "none" if repo.private else "read"

    def legacy_permission(self, role: str) -> str:
        return LEGACY_PERMISSION[role]

    def signature(self, login: str) -> Signature:
        user = self.users.get(login)
        email = f"{user.id if user else 0}+{login}@users.noreply.standin.invalid"
        return Signature(login, email, now_iso())

    def ensure_label(self, repo: Repo, name: str) -> Label:
        found = repo.labels.get(name.lower())
        if found is None:
            found = Label(self.ids(), name)
            repo.labels[name.lower()] = found
        return found

    def _issue(self, repo: Repo, number: int) -> Issue:
        issue = repo.issues.get(number)
        if issue is None:
            raise StandInError(404, "Not Found")
        return issue

    def move_pull_head(self, base_repo: Repo, pull: Pull, sha: str) -> None:
        head_repo = self._repo(pull.head_repo)
        if head_repo is base_repo:
            base_repo.git.update_ref(f"refs/pull/{pull.number}/head", sha)
        else:
            base_repo.git.fetch(head_repo.git, f"refs/heads/{pull.head_ref}", f"refs/pull/{pull.number}/head")
        pull.head_sha = sha

    @contextmanager
    def locked(self) -> Iterator[None]:
        with self.lock:
            yield
