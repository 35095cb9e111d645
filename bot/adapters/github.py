"""GitHub behind `bot.ports.RepoGitHub` / `GitHubFactory`, through PyGithub (imported lazily).

Two layers keep effects exactly-once under GitHub's failures:

* PyGithub's own transport retries are off (`retry=None`): a replayed POST after a lost response
  would create a second comment. Instead every port method runs as a whole inside `_retrying`, which
  re-runs the keyed find-then-write on 5xx, dropped connections, primary rate limits (`Retry-After`
  or `x-ratelimit-reset`) and secondary rate limits (`Retry-After`, else a minute), within a bounded
  total wait.
* every write is keyed: a comment by hidden marker and author, an issue by marker, a check run by
  name on the head sha, a pull request by head branch, a commit by its file contents. A re-run finds
  what the interrupted attempt made.

Credentials: a plain token (`GITHUB_TOKEN` in Actions, a PAT), or a GitHub App whose installation
tokens are minted once per installation and reused until shortly before they expire.
"""

from __future__ import annotations

import hashlib
import logging
import random
import re
import threading
import time
from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, TypeVar

from bot.core.models import CommentRef, IssueRef, PullFacts, PullRef
from bot.core.permissions import Permission
from bot.settings import Settings

if TYPE_CHECKING:
    from github import Github
    from github.Repository import Repository

log = logging.getLogger(__name__)

T = TypeVar("T")

MAX_COMMENT_CHARS = 65536  # GitHub rejects longer issue/PR comment and issue bodies
MAX_CHECK_TEXT_CHARS = 65535  # check run output.summary and output.text limit
MAX_DEPLOYMENT_DESCRIPTION = 140
TOKEN_REFRESH_MARGIN_S = 300  # mint a new installation token when the cached one has < 5 min left
SECONDARY_RATE_LIMIT_WAIT_S = 60.0  # GitHub: wait at least a minute when no Retry-After is given


class GitHubError(Exception):
    """A GitHub call failed in a way retrying will not fix; the message says what and what to do."""


class BodyTooLong(GitHubError):
    """A comment or issue body is over GitHub's limit: the caller must fold or split it."""

    def __init__(self, what: str, length: int, limit: int = MAX_COMMENT_CHARS) -> None:
        super().__init__(
            f"{what} is {length} characters; GitHub accepts at most {limit}. "
            "Fold long sections into <details> or split the text over several comments."
        )
        self.length = length
        self.limit = limit


# -------------------------------------------------------------------------------------------------------
# retries
# -------------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class RetryPolicy:
    """How hard to try: `attempts` in total, exponential backoff from `base_delay_s` (capped at
    `max_delay_s`, with jitter), and never more than `budget_s` of waiting in one operation."""

    attempts: int = 6
    base_delay_s: float = 1.0
    max_delay_s: float = 60.0
    budget_s: float = 300.0
    sleep: Callable[[float], None] = time.sleep
    clock: Callable[[], float] = time.time


def _header(headers: Mapping[str, Any] | None, name: str) -> str | None:
    if not headers:
        return None
    for key, value in headers.items():
        if key.lower() == name.lower():
            return str(value)
    return None


def retry_delay(exc: BaseException, attempt: int, policy: RetryPolicy) -> float | None:
    """Seconds to wait before retrying after `exc`, or None when `exc` is not worth retrying.

    GitHub's guidance: https://docs.github.com/en/rest/using-the-rest-api/rate-limits-for-the-rest-api
    """
    import requests
    from github import GithubException

    backoff = min(policy.max_delay_s, policy.base_delay_s * 2.0 ** (attempt - 1))
    backoff *= 0.5 + random.random() / 2  # noqa: S311 - jitter, not security
    if isinstance(exc, requests.exceptions.ConnectionError | requests.exceptions.Timeout):
        return backoff
    if not isinstance(exc, GithubException):
        return None
    status = exc.status
    headers = exc.headers
    message = str((exc.data or {}).get("message", "")) if isinstance(exc.data, dict) else str(exc.data or "")
    retry_after = _header(headers, "Retry-After")
    if retry_after is not None and retry_after.strip().isdigit() and status in (403, 429, 500, 502, 503, 504):
        return max(float(retry_after), 0.0)
    remaining = _header(headers, "X-RateLimit-Remaining")
    reset = _header(headers, "X-RateLimit-Reset")
    if status in (403, 429) and remaining == "0" and reset and reset.isdigit():
        return max(float(reset) - policy.clock(), 0.0) + 1.0  # the reset second itself is not precise
    lowered = message.lower()
    if status in (403, 429) and "secondary rate limit" in lowered:
        return SECONDARY_RATE_LIMIT_WAIT_S
    if status in (403, 429) and lowered.startswith("api rate limit exceeded"):
        return backoff
    if status == 429 or status >= 500:
        return backoff
    return None


def _retrying(policy: RetryPolicy, what: str, fn: Callable[[], T]) -> T:
    waited = 0.0
    for attempt in range(1, policy.attempts + 1):
        try:
            return fn()
        except Exception as exc:
            delay = retry_delay(exc, attempt, policy)
            if delay is None:
                raise
            if attempt == policy.attempts or waited + delay > policy.budget_s:
                raise GitHubError(
                    f"{what}: GitHub kept failing after {attempt} attempt(s) and {waited:.0f}s of waiting "
                    f"({_describe(exc)}). Try again later; the operation is safe to repeat."
                ) from exc
            log.warning("%s failed (%s); retry %d in %.1fs", what, _describe(exc), attempt, delay)
            policy.sleep(delay)
            waited += delay
    raise AssertionError("unreachable")


def _describe(exc: BaseException) -> str:
    status = getattr(exc, "status", None)
    return f"HTTP {status}" if status is not None else type(exc).__name__


def _status(exc: BaseException) -> int | None:
    status = getattr(exc, "status", None)
    return status if isinstance(status, int) else None


def git_blob_sha(data: bytes) -> str:
    """The object id git gives `data` as a blob (lets us see that a file already has these contents)."""
    return hashlib.sha1(b"blob %d\0" % len(data) + data, usedforsecurity=False).hexdigest()


def check_body(what: str, body: str, limit: int = MAX_COMMENT_CHARS) -> None:
    """Raise BodyTooLong before sending a body GitHub would reject with 422."""
    if len(body) > limit:
        raise BodyTooLong(what, len(body), limit)


# -------------------------------------------------------------------------------------------------------
# credentials
# -------------------------------------------------------------------------------------------------------
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

    def for_repo(self, full_name: str, installation_id: int | None = None) -> GitHubRepo:
        if self.app is not None:
            inst = installation_id if installation_id is not None else self._installation(full_name)
            token = _retrying(self.retry, "minting an installation token", lambda: self.app_token(inst))
            login = f"{_retrying(self.retry, 'reading the app', self.app.slug)}[bot]"
        else:
            assert self.settings.github_token is not None
            token = self.settings.github_token.get_secret_value()
            login = self._login_for_token(token)
        return GitHubRepo(self.client(token), full_name, bot_login=login, retry=self.retry)

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


# -------------------------------------------------------------------------------------------------------
# one repository
# -------------------------------------------------------------------------------------------------------
class GitHubRepo:
    """`RepoGitHub` for one repository. Every method is safe to repeat."""

    def __init__(
        self, gh: Github, full_name: str, *, bot_login: str, retry: RetryPolicy | None = None
    ) -> None:
        self.gh = gh
        self.full_name = full_name
        self.bot_login = bot_login
        self.retry = retry or RetryPolicy()
        self._repo: Repository | None = None

    # -- helpers ---------------------------------------------------------------------------------------
    def _call(self, what: str, fn: Callable[[], T]) -> T:
        return _retrying(self.retry, f"{what} on {self.full_name}", fn)

    @property
    def repo(self) -> Repository:
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

    # -- reads -----------------------------------------------------------------------------------------
    def default_branch(self) -> str:
        return self._call(
            "reading the default branch", lambda: str(self.gh.get_repo(self.full_name).default_branch)
        )

    def read_file(self, path: str, ref: str | None = None) -> str | None:
        from github import UnknownObjectException

        def read() -> str | None:
            try:
                content = self.repo.get_contents(path, ref=ref) if ref else self.repo.get_contents(path)
            except UnknownObjectException:
                return None
            if isinstance(content, list):
                return None  # a directory
            if content.encoding != "base64":  # files over 1 MB come without content: read the blob
                return _decode_blob(self.repo.get_git_blob(content.sha).content)
            return content.decoded_content.decode("utf-8", errors="replace")

        return self._call(f"reading {path}", read)

    def pull(self, number: int) -> PullFacts:
        def read() -> PullFacts:
            pr = self.repo.get_pull(number)
            latest: dict[str, str] = {}
            for review in pr.get_reviews():
                if review.user is not None and review.state in ("APPROVED", "CHANGES_REQUESTED", "DISMISSED"):
                    latest[review.user.login] = review.state
            head_repo = pr.head.repo.full_name if pr.head.repo is not None else ""
            return PullFacts(
                number=pr.number,
                title=pr.title,
                author=pr.user.login,
                state=pr.state,
                merged=bool(pr.merged),
                head_sha=pr.head.sha,
                head_ref=pr.head.ref,
                head_repo=head_repo,
                base_ref=pr.base.ref,
                base_sha=pr.base.sha,
                base_repo=pr.base.repo.full_name,
                merge_commit_sha=pr.merge_commit_sha,
                html_url=pr.html_url,
                approvals=sum(1 for state in latest.values() if state == "APPROVED"),
            )

        return self._call(f"reading pull request #{number}", read)

    def permission(self, login: str) -> Permission:
        def read() -> Permission:
            try:
                return Permission.parse(self.repo.get_collaborator_role_name(login))
            except Exception as exc:
                if _status(exc) == 404:  # not a user (or not visible): no permission
                    return Permission.NONE
                raise

        return self._call(f"reading {login}'s permission", read)

    # -- comments --------------------------------------------------------------------------------------
    def react(self, comment_id: int, content: str) -> None:
        # One POST without fetching the comment first; GitHub answers 200 for a repeated reaction.
        url = f"{self.repo.url}/issues/comments/{comment_id}/reactions"
        self._call(
            "reacting to a comment",
            lambda: self.repo.requester.requestJsonAndCheck("POST", url, input={"content": content}),
        )

    def clone_url(self) -> str:
        return self._call("reading the clone URL", lambda: str(self.gh.get_repo(self.full_name).clone_url))

    def find_bot_comment(self, issue_number: int, marker: str) -> CommentRef | None:
        def find() -> CommentRef | None:
            for c in self.repo.get_issue(issue_number).get_comments():
                if c.user is not None and c.user.login == self.bot_login and marker in (c.body or ""):
                    return CommentRef(c.id, c.html_url)
            return None

        return self._call(f"reading the comments of #{issue_number}", find)

    def upsert_comment(self, issue_number: int, marker: str, body: str) -> CommentRef:
        if marker not in body:
            body = f"{marker}\n{body}"
        check_body("The comment", body)

        def upsert() -> CommentRef:
            issue = self.repo.get_issue(issue_number)
            mine = [
                c
                for c in issue.get_comments()
                if c.user is not None and c.user.login == self.bot_login and marker in (c.body or "")
            ]
            if not mine:
                made = issue.create_comment(body)
                return CommentRef(made.id, made.html_url)
            keep, extra = mine[0], mine[1:]
            if keep.body != body:
                keep.edit(body)
            for duplicate in extra:  # left by an earlier lost response: one comment per marker
                duplicate.delete()
            return CommentRef(keep.id, keep.html_url)

        return self._call(f"updating the comment on #{issue_number}", upsert)

    # -- checks ----------------------------------------------------------------------------------------
    def upsert_check_run(
        self,
        head_sha: str,
        name: str,
        *,
        status: str,
        conclusion: str | None = None,
        title: str = "",
        summary: str = "",
        text: str = "",
        details_url: str | None = None,
    ) -> int:
        check_body("The check run summary", summary, MAX_CHECK_TEXT_CHARS)
        check_body("The check run text", text, MAX_CHECK_TEXT_CHARS)
        fields: dict[str, Any] = {"status": status}
        if conclusion is not None:
            fields["conclusion"] = conclusion
            fields["status"] = "completed"
            fields["completed_at"] = datetime.now(UTC)
        if summary or title or text:
            output = {"title": title or name, "summary": summary or title or name}
            if text:
                output["text"] = text
            fields["output"] = output
        if details_url:
            fields["details_url"] = details_url

        def upsert() -> int:
            from github.CheckRun import CheckRun
            from github.PaginatedList import PaginatedList

            runs = PaginatedList(
                CheckRun,
                self.repo.requester,
                f"{self.repo.url}/commits/{head_sha}/check-runs",
                {"check_name": name, "filter": "latest"},
                list_item="check_runs",
            )
            # A check run of the same name made by another App is not ours to edit or to trust.
            existing = next((r for r in runs if self._my_app(r.app)), None)
            if existing is None:
                return int(self.repo.create_check_run(name=name, head_sha=head_sha, **fields).id)
            existing.edit(**fields)
            return int(existing.id)

        return self._call(f"updating check run {name!r}", upsert)

    def check_conclusions(self, sha: str) -> dict[str, str]:
        def read() -> dict[str, str]:
            runs = self.repo.get_commit(sha).get_check_runs()
            # The newest run of a name wins, as in branch protection (a re-run replaces the earlier result).
            newest = sorted(runs, key=lambda r: (r.started_at is not None, r.started_at, r.id))
            return {str(r.name): str(r.conclusion or r.status) for r in newest}

        return self._call(f"reading the checks of {sha[:7]}", read)

    # -- deployments -----------------------------------------------------------------------------------
    def create_deployment(
        self, ref: str, environment: str, payload: Mapping[str, Any], description: str, *, key: str = ""
    ) -> int:
        def create() -> int:
            if key:
                for existing in self.repo.get_deployments(environment=environment):
                    if isinstance(existing.payload, dict) and existing.payload.get("key") == key:
                        return int(existing.id)
            deployment = self.repo.create_deployment(
                ref=ref,
                environment=environment,
                payload={**payload, **({"key": key} if key else {})},
                description=description[:MAX_DEPLOYMENT_DESCRIPTION],
                required_contexts=[],  # the bot's own gates decided; GitHub's status checks must not veto
                auto_merge=False,
                production_environment=environment == "production",
            )
            return int(deployment.id)

        return self._call(f"creating a deployment to {environment}", create)

    def set_deployment_status(
        self, deployment_id: int, state: str, *, description: str = "", log_url: str = ""
    ) -> None:
        def create() -> None:
            deployment = self.repo.get_deployment(deployment_id)
            options: dict[str, Any] = {"description": description[:MAX_DEPLOYMENT_DESCRIPTION]}
            if log_url:
                options["target_url"] = log_url  # PyGithub's name for it; GitHub stores it as log_url too
            deployment.create_status(state, **options)

        self._call(f"setting deployment {deployment_id} to {state}", create)

    # -- issues ----------------------------------------------------------------------------------------
    def _issues_with(self, marker: str, state: str) -> Iterable[Any]:
        from github.Issue import Issue
        from github.PaginatedList import PaginatedList

        # Listed by creator: the bot's own issues only, one page however many humans opened. Only the
        # bot's own count anyway: anyone who can open an issue could plant the marker with forged state
        # (a drift streak, a retrain PR) otherwise. A pull request is told by its `html_url` (`/pull/N`):
        # a listed issue lacks `pull_request`, and reading it makes PyGithub fetch the issue in full.
        listed = PaginatedList(
            Issue,
            self.repo.requester,
            f"{self.repo.url}/issues",
            {"state": state, "creator": self.bot_login},
        )
        for issue in listed:
            if marker not in (issue.body or "") or not self._mine(issue.user):
                continue
            if "/pull/" in str(issue.html_url):
                continue
            yield issue

    def find_issue(self, marker: str) -> IssueRef | None:
        def find() -> IssueRef | None:
            for state in ("open", "closed"):
                for issue in self._issues_with(marker, state):
                    return IssueRef(issue.number, issue.html_url, issue.state, issue.body or "")
            return None

        return self._call("finding an issue by marker", find)

    def upsert_issue(
        self, marker: str, title: str, body: str, labels: list[str], *, reopen: bool = True
    ) -> IssueRef:
        if marker not in body:
            body = f"{marker}\n{body}"
        check_body("The issue body", body)

        def upsert() -> IssueRef:
            found = next(iter(self._issues_with(marker, "open")), None)
            if found is None and reopen:
                found = next(iter(self._issues_with(marker, "closed")), None)
            if found is None:
                made = self.repo.create_issue(title=title, body=body, labels=list(labels))
                return IssueRef(made.number, made.html_url, made.state, body)
            changes: dict[str, Any] = {}
            if found.title != title:
                changes["title"] = title
            if (found.body or "") != body:
                changes["body"] = body
            have = sorted(label.name for label in found.labels)
            want = sorted(set(have) | set(labels))
            if want != have:
                changes["labels"] = want
            if found.state != "open":
                changes["state"] = "open"
            if changes:
                found.edit(**changes)
            return IssueRef(found.number, found.html_url, "open", body)

        return self._call("updating the issue", upsert)

    def close_issue(self, number: int) -> None:
        def close() -> None:
            issue = self.repo.get_issue(number)
            if issue.state != "closed":
                issue.edit(state="closed", state_reason="completed")

        self._call(f"closing issue #{number}", close)

    # -- commits and pull requests ---------------------------------------------------------------------
    def commit_files(self, branch: str, base_ref: str, files: Mapping[str, str], message: str) -> str:
        from github import InputGitTreeElement, UnknownObjectException

        def commit() -> str:
            try:
                ref = self.repo.get_git_ref(f"heads/{branch}")
                parent_sha = ref.object.sha
            except UnknownObjectException:
                ref = None
                parent_sha = self._resolve(base_ref)
            parent = self.repo.get_git_commit(parent_sha)
            present = {e.path: e.sha for e in self.repo.get_git_tree(parent.tree.sha, recursive=True).tree}
            wanted = {
                path: text for path, text in files.items() if present.get(path) != git_blob_sha(text.encode())
            }
            if not wanted:
                # Already there (e.g. our own commit whose response was lost): no empty second commit.
                if ref is None:
                    self.repo.create_git_ref(f"refs/heads/{branch}", parent_sha)
                return str(parent_sha)
            elements = [
                InputGitTreeElement(path, "100644", "blob", content=text) for path, text in wanted.items()
            ]
            tree = self.repo.create_git_tree(elements, base_tree=parent.tree)
            made = self.repo.create_git_commit(message, tree, [parent])
            if ref is None:
                self.repo.create_git_ref(f"refs/heads/{branch}", made.sha)
            else:
                ref.edit(made.sha)  # not forced: a concurrent push makes this 422 and we start over
            return str(made.sha)

        def commit_with_race_retry() -> str:
            for _ in range(3):
                try:
                    return commit()
                except Exception as exc:
                    if _status(exc) != 422:
                        raise
                    log.info("branch %s moved while committing; starting over", branch)
            return commit()

        return self._call(f"committing to {branch}", commit_with_race_retry)

    def _resolve(self, ref: str) -> str:
        """The commit sha of a branch name (or of a sha, which is returned as it is)."""
        if re.fullmatch(r"[0-9a-f]{40}", ref):
            return ref
        return str(self.repo.get_git_ref(f"heads/{ref.removeprefix('refs/heads/')}").object.sha)

    def upsert_pull(self, head: str, base: str, title: str, body: str) -> PullRef:
        check_body("The pull request body", body)
        owner = self.full_name.split("/", 1)[0]
        qualified = head if ":" in head else f"{owner}:{head}"

        def upsert() -> PullRef:
            found = next(
                (p for p in self.repo.get_pulls(state="open", head=qualified) if self._mine(p.user)), None
            )
            if found is None:
                try:
                    found = self.repo.create_pull(base=base, head=head, title=title, body=body)
                    return PullRef(found.number, found.html_url, found.head.sha)
                except Exception as exc:
                    if _status(exc) != 422:
                        raise
                    found = next(
                        (p for p in self.repo.get_pulls(state="open", head=qualified) if self._mine(p.user)),
                        None,
                    )
                    if found is None:
                        raise GitHubError(
                            f"GitHub refused to open a pull request from {head} into {base}: "
                            f"{getattr(exc, 'data', exc)}"
                        ) from exc
            if (found.title, found.body or "", found.base.ref) != (title, body, base):
                found.edit(title=title, body=body, base=base)
            return PullRef(found.number, found.html_url, found.head.sha)

        return self._call(f"opening the pull request from {head}", upsert)

    def dispatch_workflow(self, workflow: str, ref: str, inputs: Mapping[str, str]) -> None:
        def dispatch() -> None:
            try:
                self.repo.get_workflow(workflow).create_dispatch(ref, dict(inputs), throw=True)
            except Exception as exc:
                if _status(exc) == 404:
                    raise GitHubError(
                        f"No workflow {workflow!r} in {self.full_name} on the default branch: commit it "
                        "under .github/workflows/ (mlops-bot init writes one)."
                    ) from exc
                if _status(exc) == 422:
                    raise GitHubError(
                        f"GitHub refused to start {workflow!r} at {ref!r}: {getattr(exc, 'data', exc)}. The "
                        "workflow needs an `on: workflow_dispatch` trigger and the ref must exist."
                    ) from exc
                raise

        self._call(f"starting workflow {workflow}", dispatch)


def _decode_blob(content: str) -> str:
    import base64

    return base64.b64decode(content).decode("utf-8", errors="replace")
