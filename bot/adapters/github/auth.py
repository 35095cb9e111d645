"""Credentials: a plain token (`GITHUB_TOKEN` in Actions, a PAT), or a GitHub App whose installation tokens
are minted once per installation and reused until shortly before they expire; `GitHubFactory` builds the
per-repository adapter with them."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from bot.adapters.github.errors import GitHubError, RetryPolicy, _retrying, _status
from bot.adapters.github.memory import ConditionalCache, KnownIds
from bot.adapters.github.repo import GitHubRepo
from bot.settings import Settings

if TYPE_CHECKING:
    from github import Github

IDS_FILE = "github-ids.sqlite"
TOKEN_REFRESH_MARGIN_S = 300  # mint a new installation token when the cached one has < 5 min left


@dataclass(frozen=True)
class TokenScope:
    """What a job's token may reach: repository names (without owner) and App permissions."""

    repositories: tuple[str, ...]
    permissions: tuple[tuple[str, str], ...]

    @classmethod
    def of(cls, full_name: str, permissions: Mapping[str, str]) -> TokenScope:
        return cls((full_name.split("/", 1)[1],), tuple(sorted(permissions.items())))


def _parse_time(text: str) -> datetime | None:
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None


class InstallationTokens:
    """Installation tokens of one GitHub App, minted on first use and reused until shortly before expiry.

    Thread-safe: concurrent jobs for the same installation share one mint.
    """

    def __init__(
        self,
        app_id: int,
        private_key: str,
        base_url: str,
        *,
        clock: Callable[[], float] = time.time,
        margin_s: float = TOKEN_REFRESH_MARGIN_S,
    ) -> None:
        self.app_id = app_id
        self._private_key = private_key
        self.base_url = base_url
        self._clock = clock
        self._margin_s = margin_s
        self._lock = threading.Lock()
        self._tokens: dict[tuple[int, TokenScope | None], tuple[str, float]] = {}
        self._installations: dict[str, int] = {}
        self._slug: str | None = None
        self.mints = 0  # how many tokens were minted (observability and tests)

    def _integration(self) -> Any:
        from github import Auth, GithubIntegration

        auth = Auth.AppAuth(self.app_id, self._private_key)
        return GithubIntegration(base_url=self.base_url, auth=auth, retry=None)

    def token(self, installation_id: int, scope: TokenScope | None = None) -> str:
        """An installation token; with `scope`, one narrowed to those repositories and permissions
        (https://docs.github.com/en/rest/apps/apps#create-an-installation-access-token-for-an-app)."""
        key = (installation_id, scope)
        with self._lock:
            cached = self._tokens.get(key)
            if cached is not None and cached[1] - self._clock() > self._margin_s:
                return cached[0]
            integration = self._integration()
            if scope is None:
                grant = integration.get_access_token(installation_id)
                value, expires_at = str(grant.token), grant.expires_at
            else:
                # PyGithub's get_access_token cannot name repositories: post the documented body ourselves.
                _, data = integration.requester.requestJsonAndCheck(
                    "POST",
                    f"/app/installations/{installation_id}/access_tokens",
                    input={"repositories": list(scope.repositories), "permissions": dict(scope.permissions)},
                )
                value = str(data["token"])
                expires_at = _parse_time(str(data.get("expires_at") or ""))
            expiry = expires_at.timestamp() if isinstance(expires_at, datetime) else self._clock() + 3600
            self._tokens[key] = (value, expiry)
            self.mints += 1
            return value

    def installation_for(self, full_name: str) -> int:
        with self._lock:
            if full_name not in self._installations:
                owner, repo = full_name.split("/", 1)
                try:
                    inst = self._integration().get_repo_installation(owner, repo)
                except Exception as exc:
                    if _status(exc) == 404:
                        raise GitHubError(
                            f"The GitHub App {self.app_id} is not installed on {full_name}: install it on "
                            "the repository (Settings > GitHub Apps) and try again."
                        ) from exc
                    raise
                self._installations[full_name] = int(inst.id)
            return self._installations[full_name]

    def forget(self, installation_id: int, repositories: Collection[str] | None = None) -> None:
        """Drop what is cached for an installation that was deleted (`repositories` None) or for repositories
        removed from it: its tokens (those scoped to a removed repository) and the repositories' installation."""
        names = {r.rsplit("/", 1)[-1] for r in repositories or ()}  # a scope names repositories without owner
        with self._lock:
            for key in list(self._tokens):
                inst, scope = key
                if inst == installation_id and (
                    repositories is None or (scope is not None and names & set(scope.repositories))
                ):
                    del self._tokens[key]
            for name, inst in list(self._installations.items()):
                if inst == installation_id and (repositories is None or name in repositories):
                    del self._installations[name]

    def slug(self) -> str:
        with self._lock:
            if self._slug is None:
                self._slug = str(self._integration().get_app().slug)
            return self._slug


def _private_key(settings: Settings) -> str | None:
    if settings.private_key is not None and settings.private_key.get_secret_value():
        return settings.private_key.get_secret_value()
    if settings.private_key_path is not None:
        try:
            return settings.private_key_path.read_text()
        except OSError as exc:
            raise GitHubError(
                f"Cannot read the GitHub App private key at {settings.private_key_path}: {exc.strerror}. "
                "Set MLOPS_BOT_PRIVATE_KEY_PATH to the .pem file GitHub gave you."
            ) from exc
    return None


class GitHubFactory:
    """Builds `RepoGitHub` adapters with a token or as a GitHub App installation."""

    def __init__(
        self,
        settings: Settings,
        *,
        retry: RetryPolicy | None = None,
        clock: Callable[[], float] = time.time,
        throttle: bool | None = None,
    ) -> None:
        self.settings = settings
        self.base_url = settings.github_base_url.rstrip("/")
        self.retry = retry or RetryPolicy()
        # PyGithub waits 1 s between writes to respect GitHub's secondary limits; tests and the
        # stand-in switch that off explicitly.
        self.throttle = bool(getattr(settings, "github_throttle", True)) if throttle is None else throttle
        key = _private_key(settings)
        self.app: InstallationTokens | None = None
        if settings.app_id is not None and key:
            self.app = InstallationTokens(settings.app_id, key, self.base_url, clock=clock)
        elif settings.github_token is None or not settings.github_token.get_secret_value():
            raise GitHubError(
                "No GitHub credentials: set MLOPS_BOT_GITHUB_TOKEN (or GITHUB_TOKEN), or MLOPS_BOT_APP_ID "
                "with MLOPS_BOT_PRIVATE_KEY / MLOPS_BOT_PRIVATE_KEY_PATH for a GitHub App."
            )
        # Comment and check run ids, shared by every adapter this factory makes and, where the bot was given its
        # work dir (the bot and the jobs it runs), by the next process too.
        ids_file = settings.work_dir / IDS_FILE if "work_dir" in settings.model_fields_set else None
        self.known = KnownIds(path=ids_file)
        self.etags = ConditionalCache(
            path=ids_file
        )  # ETags and answers of what is re-read (config, comment pages)
        self._login_lock = threading.Lock()
        self._token_login: str | None = None

    def client(self, token: str) -> Github:
        from github import Auth, Github

        options: dict[str, Any] = {}
        if not self.throttle:
            options = {"seconds_between_requests": 0, "seconds_between_writes": 0}
        return Github(
            base_url=self.base_url, auth=Auth.Token(token), retry=None, timeout=30, per_page=100, **options
        )

    def for_repo(
        self,
        full_name: str,
        installation_id: int | None = None,
        *,
        repository: Mapping[str, Any] | None = None,
    ) -> GitHubRepo:
        if self.app is not None:
            inst = installation_id if installation_id is not None else self._installation(full_name)
            token = _retrying(self.retry, "minting an installation token", lambda: self.app_token(inst))
            login = f"{_retrying(self.retry, 'reading the app', self.app.slug)}[bot]"
        else:
            assert self.settings.github_token is not None
            token = self.settings.github_token.get_secret_value()
            login = self._login_for_token(token)
        return GitHubRepo(
            self.client(token),
            full_name,
            bot_login=login,
            retry=self.retry,
            known=self.known,
            etags=self.etags,
            repository=repository,
        )

    def forget(self, installation_id: int, repositories: Collection[str] | None = None) -> None:
        if self.app is not None:
            self.app.forget(installation_id, repositories)

    def app_token(self, installation_id: int, scope: TokenScope | None = None) -> str:
        assert self.app is not None
        return self.app.token(installation_id, scope)

    def token(
        self,
        installation_id: int | None = None,
        full_name: str | None = None,
        *,
        permissions: Mapping[str, str] | None = None,
    ) -> str:
        """A token for a job's own GitHub calls and git: the installation's, or the configured token.

        With `permissions` (and `full_name`), an App token is minted for that one repository with only those
        permissions, so a job can never reach another repository of the installation.
        """
        if self.app is not None:
            if installation_id is None and full_name is None:
                raise GitHubError("a GitHub App job needs the installation id or the repository it serves")
            inst = installation_id if installation_id is not None else self._installation(str(full_name))
            scope = TokenScope.of(full_name, permissions) if permissions and full_name else None
            return _retrying(self.retry, "minting an installation token", lambda: self.app_token(inst, scope))
        assert self.settings.github_token is not None
        return self.settings.github_token.get_secret_value()

    def _installation(self, full_name: str) -> int:
        assert self.app is not None
        app = self.app
        return _retrying(
            self.retry, f"finding the installation on {full_name}", lambda: app.installation_for(full_name)
        )

    def _login_for_token(self, token: str) -> str:
        """Who the token acts as; an installation token (GITHUB_TOKEN) cannot read /user, so settings say."""
        with self._login_lock:
            # An installation token (`ghs_`, GITHUB_TOKEN) is refused `GET /user` every time, and a job is told
            # its login (MLOPS_BOT_BOT_LOGIN): ask only for a personal token nobody named.
            if self._token_login is None and (
                token.startswith("ghs_") or "bot_login" in self.settings.model_fields_set
            ):
                self._token_login = self.settings.bot_login
            if self._token_login is None:
                try:
                    user = _retrying(
                        self.retry, "reading the token's user", lambda: self.client(token).get_user()
                    )
                    self._token_login = str(user.login)
                except Exception as exc:
                    if _status(exc) not in (401, 403):
                        raise
                    if _status(exc) == 401:
                        raise GitHubError(
                            "GitHub refused the token (401 Bad credentials): check MLOPS_BOT_GITHUB_TOKEN."
                        ) from exc
                    self._token_login = self.settings.bot_login
            return self._token_login
