"""The GitHub stand-in: state, domain operations, webhooks, and the test-facing API.

`StandIn` is what tests and `mlops-bot demo` hold. REST handlers (bot/standin/api.py) and the test API
call the same domain operations, so a PR opened by a test and one opened over REST behave alike.
"""

from __future__ import annotations

import secrets
import socket
import sys
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

from bot.standin import runs, shapes
from bot.standin.faults import Faults
from bot.standin.gitstore import GitRepo, MergeConflict, Signature
from bot.standin.model import (
    LEGACY_PERMISSION,
    ROLES,
    App,
    CheckRun,
    Comment,
    Deployment,
    DeploymentStatus,
    Ids,
    Installation,
    Issue,
    Label,
    Pull,
    Reaction,
    Repo,
    Review,
    Token,
    User,
    WorkflowRun,
    now_iso,
)
from bot.standin.spec import rest_spec, webhook_schemas
from bot.standin.webhooks import DeliveryRecord, WebhookSender, conform

API_PREFIX = "/api/v3"
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
    method: str
    path: str
    status: int
    actor: str | None
    operation: str | None


@dataclass
class Violation:
    """A request that does not follow GitHub's REST description."""

    method: str
    path: str
    reason: str


class StandIn:
    """A stateful GitHub on 127.0.0.1 backed by real git repositories.

    Use as a context manager or call `start()`/`stop()`. Every REST request is validated against
    GitHub's OpenAPI description; in strict mode `check()` raises when any request did not validate.
    """

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
        self.violations: list[Violation] = []
        # Tests switch this on to check every 2xx answer against the description's response schema.
        self.validate_responses = False
        self.response_problems: list[Violation] = []
        self.base_url = ""
        self.html_url = ""
        self.token_lifetime_s = TOKEN_LIFETIME_S
        self._sender = WebhookSender(webhook_url, webhook_secret)
        self._server: Any = None
        self._thread: threading.Thread | None = None
        self.spec = rest_spec()
        self.hook_schemas = webhook_schemas()
        # The app the stand-in hosts: its bot user exists from the start so tokens can act as it.
        self.default_app = App(id=self.ids(), slug=app_slug, owner=self._ensure_owner("standin-apps").login)
        self.apps[self.default_app.id] = self.default_app
        self._ensure_user(self.default_app.bot_login, "Bot")

    # -- lifecycle -------------------------------------------------------------------------------------------
    def start(self, host: str = "127.0.0.1", port: int = 0) -> str:
        """Serve on `host:port` (0 picks a free port) from a background thread; returns `base_url`."""
        import uvicorn

        from bot.standin.api import build_app

        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        bound_port = sock.getsockname()[1]
        self.html_url = f"http://{host}:{bound_port}"
        self.base_url = f"{self.html_url}{API_PREFIX}"
        config = uvicorn.Config(build_app(self), log_level="warning", access_log=False, lifespan="off")
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [sock]}, name="standin-http", daemon=True
        )
        self._thread.start()
        self._sender.start()
        for repo in list(self.repos.values()):
            self._install_push_hook(repo)  # hooks written before start() did not know the URL
        deadline = time.monotonic() + 10
        while not self._server.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise RuntimeError("the GitHub stand-in did not start within 10 s")
            time.sleep(0.005)
        return self.base_url

    def stop(self) -> None:
        """Stop serving and flush webhooks."""
        self._sender.wait(5)
        self._sender.stop()
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._server = None
        self._thread = None

    def __enter__(self) -> StandIn:
        if not self.base_url:
            self.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

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

    # -- users, apps, tokens ---------------------------------------------------------------------------------
    def _ensure_user(self, login: str, type: str = "User") -> User:
        found = self.users.get(login)
        if found is None:
            found = User(self.ids(), login, type)
            self.users[login] = found
        return found

    def _ensure_owner(self, login: str) -> User:
        return self._ensure_user(login, "Organization" if login == "standin-apps" else "User")

    def create_user(self, login: str, *, type: str = "User") -> str:
        """Create a user (or bot) and return a personal token acting as it."""
        with self.lock:
            self._ensure_user(login, type)
            return self._mint(login)

    def _mint(
        self,
        login: str,
        *,
        installation_id: int | None = None,
        lifetime: float | None = None,
        repositories: frozenset[str] | None = None,
        permissions: dict[str, str] | None = None,
    ) -> str:
        prefix = "ghs_" if installation_id is not None else "ghp_"
        value = prefix + secrets.token_hex(18)
        expires = time.time() + lifetime if lifetime is not None else None
        self.tokens[value] = Token(value, login, installation_id, expires, repositories, permissions)
        return value

    def token_for(self, value: str) -> Token | None:
        token = self.tokens.get(value)
        if token is None or (token.expires_at is not None and token.expires_at < time.time()):
            return None
        return token

    def register_app(self, app_id: int, public_key_pem: str) -> None:
        """Give the hosted app the id and RSA public key that its JWTs are verified with."""
        with self.lock:
            app = self.default_app
            self.apps.pop(app.id, None)
            app.id = app_id
            app.public_key_pem = public_key_pem
            self.apps[app_id] = app
            for inst in self.installations.values():
                inst.app_id = app_id

    def install_app(self, full_name: str) -> int:
        """Install the app on a repository (one installation per account); returns the installation id."""
        with self.lock:
            repo = self._repo(full_name)
            for inst in self.installations.values():
                if inst.account == repo.owner:
                    inst.repos.add(full_name)
                    return inst.id
            inst = Installation(self.ids(), self.default_app.id, repo.owner, {full_name})
            self.installations[inst.id] = inst
            return inst.id

    def installation_token(
        self,
        installation_id: int,
        *,
        repositories: frozenset[str] | None = None,
        permissions: dict[str, str] | None = None,
    ) -> str:
        """A token acting as `<slug>[bot]` for that installation (what the access_tokens endpoint mints),
        optionally narrowed to some of its repositories (full names) and permissions."""
        with self.lock:
            if installation_id not in self.installations:
                raise KeyError(f"no installation {installation_id}")
            return self._mint(
                self.default_app.bot_login,
                installation_id=installation_id,
                lifetime=self.token_lifetime_s,
                repositories=repositories,
                permissions=permissions,
            )

    def installation_of(self, full_name: str) -> Installation | None:
        for inst in self.installations.values():
            if full_name in inst.repos:
                return inst
        return None

    # -- repositories ----------------------------------------------------------------------------------------
    def _repo(self, full_name: str) -> Repo:
        repo = self.repos.get(full_name.lower())
        if repo is None:
            raise StandInError(404, "Not Found")
        return repo

    def repo(self, full_name: str) -> Repo:
        """The stand-in's record of a repository (for assertions)."""
        with self.lock:
            return self._repo(full_name)

    def create_repo(
        self,
        full_name: str,
        *,
        source: Path | None = None,
        default_branch: str = "main",
        private: bool = False,
    ) -> Path:
        """Create a repository; `source` files become its first commit. Returns the bare repository path."""
        owner, name = full_name.split("/", 1)
        with self.lock:
            if full_name.lower() in self.repos:
                raise StandInError(422, f"Repository creation failed: {full_name} already exists")
            self._ensure_owner(owner)
            git = GitRepo.init(self.data_dir / "repos" / owner / f"{name}.git", default_branch)
            repo = Repo(self.ids(), owner, name, git, default_branch, private=private)
            repo.permissions[owner] = "admin"
            self.repos[full_name.lower()] = repo
            self._install_push_hook(repo)
            if source is not None:
                tree = git.tree_of_directory(Path(source))
                sig = self._signature(owner)
                sha = git.commit_tree(tree, [], "Initial commit", sig, sig)
                git.update_ref(f"refs/heads/{default_branch}", sha)
                repo.known_heads[default_branch] = sha
            return git.path

    def fork(self, full_name: str, owner: str) -> str:
        """Fork a repository to `owner`; returns the fork's full name."""
        with self.lock:
            source = self._repo(full_name)
            self._ensure_owner(owner)
            fork_name = f"{owner}/{source.name}"
            git = GitRepo.clone_bare(source.git, self.data_dir / "repos" / owner / f"{source.name}.git")
            repo = Repo(self.ids(), owner, source.name, git, source.default_branch, fork_of=source.full_name)
            repo.permissions[owner] = "admin"
            self._install_push_hook(repo)
            repo.known_heads = {
                ref.removeprefix("refs/heads/"): sha for ref, sha in git.refs("refs/heads/").items()
            }
            self.repos[fork_name.lower()] = repo
            return fork_name

    def set_permission(self, full_name: str, login: str, permission: str) -> None:
        """Make `login` a collaborator with role admin|maintain|write|triage|read (or none to remove)."""
        if permission not in ROLES:
            raise ValueError(f"permission must be one of {ROLES}")
        with self.lock:
            repo = self._repo(full_name)
            self._ensure_user(login)
            repo.permissions[login] = permission

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

    def _signature(self, login: str) -> Signature:
        user = self.users.get(login)
        email = f"{user.id if user else 0}+{login}@users.noreply.standin.invalid"
        return Signature(login, email, now_iso())

    # -- git changes (test API) ------------------------------------------------------------------------------
    def commit(
        self,
        full_name: str,
        branch: str,
        files: Mapping[str, str | bytes | None],
        message: str,
        *,
        author: str,
        base: str | None = None,
    ) -> str:
        """Commit `files` to `branch` (created from `base` or the default branch); None deletes a file.

        Emits `push` and, for open pull requests from that branch, `pull_request.synchronize`.
        """
        with self.lock:
            repo = self._repo(full_name)
            git = repo.git
            parent = git.branch_sha(branch)
            if parent is None:
                start = base or repo.default_branch
                parent = git.resolve_commit(start)
            changes: dict[str, tuple[str, str] | None] = {}
            for path, content in files.items():
                if content is None:
                    changes[path] = None
                else:
                    data = content.encode() if isinstance(content, str) else content
                    changes[path] = ("100644", git.write_blob(data))
            base_tree = git.resolve(f"{parent}^{{tree}}") if parent else None
            tree = git.build_tree(base_tree, changes)
            sig = self._signature(author)
            self._ensure_user(author)
            sha = git.commit_tree(tree, [parent] if parent else [], message, sig, sig)
            git.update_ref(f"refs/heads/{branch}", sha)
        self.notify_push(full_name, branch, pusher=author)
        return sha

    def _install_push_hook(self, repo: Repo) -> None:
        """A post-receive hook that tells the stand-in about a direct `git push`, so it sends push and
        synchronize webhooks as GitHub would. The pusher is `STANDIN_PUSHER` from the pusher's environment,
        or the hosted app's bot."""
        from bot.standin.api import GIT_HOOK_PATH

        hook = repo.path / "hooks" / "post-receive"
        hook.parent.mkdir(parents=True, exist_ok=True)
        hook.write_text(
            f"#!{sys.executable}\n"
            "import json, os, sys, urllib.request\n"
            f"url = {self.html_url + GIT_HOOK_PATH!r}\n"
            f"body = json.dumps({{'repository': {repo.full_name!r}, 'pusher': os.environ.get('STANDIN_PUSHER'),\n"
            "                   'updates': sys.stdin.read().splitlines()}).encode()\n"
            "req = urllib.request.Request(url, data=body, headers={'Content-Type': 'application/json'})\n"
            "try:\n"
            "    urllib.request.urlopen(req, timeout=10).read()\n"
            "except OSError as exc:\n"
            "    print(f'stand-in not told about this push: {exc}', file=sys.stderr)\n"
        )
        hook.chmod(0o755)

    def notify_push(self, full_name: str, branch: str, *, pusher: str, before: str | None = None) -> None:
        """Announce that `branch` moved (after a direct `git push` into the bare repo): push + synchronize."""
        with self.lock:
            repo = self._repo(full_name)
            after = repo.git.branch_sha(branch) or "0" * 40
            previous = before if before is not None else repo.known_heads.get(branch, "0" * 40)
            if previous == after:
                return
            repo.known_heads[branch] = after
            repo.pushed_at = now_iso()
            self._ensure_user(pusher)
            self._emit_push(repo, branch, previous, after, pusher)
            self._sync_pulls(repo, branch, pusher)

    def _sync_pulls(self, head_repo: Repo, branch: str, sender: str) -> None:
        """Pull requests whose head is `head_repo:branch` follow the new head (GitHub's synchronize)."""
        sha = head_repo.git.branch_sha(branch)
        for base_repo in list(self.repos.values()):
            for pull in base_repo.pulls.values():
                issue = base_repo.issues[pull.number]
                if pull.head_repo.lower() != head_repo.full_name.lower() or pull.head_ref != branch:
                    continue
                if issue.state != "open" or sha is None or sha == pull.head_sha:
                    continue
                before = pull.head_sha
                self._update_pull_head(base_repo, pull, sha)
                issue.updated_at = now_iso()
                self._emit_pull(base_repo, pull, "synchronize", sender, before=before, after=sha)

    def _update_pull_head(self, base_repo: Repo, pull: Pull, sha: str) -> None:
        head_repo = self._repo(pull.head_repo)
        if head_repo is base_repo:
            base_repo.git.update_ref(f"refs/pull/{pull.number}/head", sha)
        else:
            base_repo.git.fetch(head_repo.git, f"refs/heads/{pull.head_ref}", f"refs/pull/{pull.number}/head")
        pull.head_sha = sha

    # -- issues and comments ---------------------------------------------------------------------------------
    def create_issue(
        self, full_name: str, *, title: str, body: str | None, author: str, labels: list[str] | None = None
    ) -> Issue:
        """Open an issue (emits issues.opened)."""
        with self.lock:
            repo = self._repo(full_name)
            self._ensure_user(author)
            issue = Issue(self.ids(), repo.take_number(), title, body, author)
            issue.labels = [self._label(repo, name).name for name in labels or []]
            repo.issues[issue.number] = issue
            self._emit_issue(repo, issue, "opened", author)
            return issue

    def _label(self, repo: Repo, name: str) -> Label:
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

    def comment(self, full_name: str, number: int, body: str, *, author: str) -> int:
        """Comment on an issue or pull request as `author` (emits issue_comment.created); returns its id."""
        return self.add_comment(full_name, number, body, author=author).id

    def add_comment(self, full_name: str, number: int, body: str, *, author: str) -> Comment:
        with self.lock:
            repo = self._repo(full_name)
            issue = self._issue(repo, number)
            self._ensure_user(author)
            comment = Comment(self.ids(), number, body, author)
            issue.comments.append(comment)
            issue.updated_at = now_iso()
            self._emit_comment(repo, issue, comment, "created", author)
            return comment

    def edit_comment(self, full_name: str, comment_id: int, body: str, *, by: str) -> Comment:
        with self.lock:
            repo = self._repo(full_name)
            comment = repo.comment(comment_id)
            if comment is None:
                raise StandInError(404, "Not Found")
            old = comment.body
            comment.body = body
            comment.updated_at = now_iso()
            issue = repo.issues[comment.issue_number]
            self._emit_comment(repo, issue, comment, "edited", by, changes={"body": {"from": old}})
            return comment

    def delete_comment(self, full_name: str, comment_id: int) -> None:
        with self.lock:
            repo = self._repo(full_name)
            comment = repo.comment(comment_id)
            if comment is None:
                raise StandInError(404, "Not Found")
            repo.issues[comment.issue_number].comments.remove(comment)

    def react(self, full_name: str, comment_id: int, content: str, *, by: str) -> tuple[Reaction, bool]:
        """Add a reaction; GitHub answers the existing one (200) when the same user already reacted so."""
        with self.lock:
            repo = self._repo(full_name)
            comment = repo.comment(comment_id)
            if comment is None:
                raise StandInError(404, "Not Found")
            for existing in comment.reactions:
                if existing.user == by and existing.content == content:
                    return existing, False
            reaction = Reaction(self.ids(), content, by)
            comment.reactions.append(reaction)
            return reaction, True

    def set_issue_state(
        self, full_name: str, number: int, state: str, *, by: str, reason: str | None = None
    ) -> None:
        with self.lock:
            repo = self._repo(full_name)
            issue = self._issue(repo, number)
            if issue.state == state:
                return
            issue.state = state
            issue.updated_at = now_iso()
            if state == "closed":
                issue.closed_at = now_iso()
                issue.closed_by = by
                issue.state_reason = reason or "completed"
            else:
                issue.closed_at = None
                issue.closed_by = None
                issue.state_reason = "reopened"
            if issue.is_pull:
                pull = repo.pulls[number]
                if state == "open":
                    head = self._repo(pull.head_repo).git.branch_sha(pull.head_ref)
                    if head and head != pull.head_sha:
                        self._update_pull_head(repo, pull, head)
                self._emit_pull(repo, pull, "closed" if state == "closed" else "reopened", by)

    # -- pull requests ---------------------------------------------------------------------------------------
    def open_pull(
        self,
        full_name: str,
        *,
        head: str,
        base: str = "main",
        title: str,
        body: str = "",
        author: str,
        draft: bool = False,
    ) -> int:
        """Open a pull request from `head` ("branch" or "owner:branch") into `base` (pull_request.opened)."""
        return self.create_pull(
            full_name, head=head, base=base, title=title, body=body, author=author, draft=draft
        ).number

    def create_pull(
        self,
        full_name: str,
        *,
        head: str,
        base: str,
        title: str,
        body: str | None,
        author: str,
        draft: bool = False,
        maintainer_can_modify: bool = False,
    ) -> Pull:
        with self.lock:
            repo = self._repo(full_name)
            head_owner, _, head_ref = head.rpartition(":")
            head_repo = repo
            if head_owner and head_owner.lower() != repo.owner.lower():
                head_repo = self._repo(f"{head_owner}/{repo.name}")
            head_sha = head_repo.git.branch_sha(head_ref)
            base_sha = repo.git.branch_sha(base)
            errors = []
            if head_sha is None:
                errors.append({"resource": "PullRequest", "field": "head", "code": "invalid"})
            if base_sha is None:
                errors.append({"resource": "PullRequest", "field": "base", "code": "invalid"})
            if errors:
                raise StandInError(422, "Validation Failed", errors)
            assert head_sha is not None and base_sha is not None
            for pull in repo.pulls.values():
                if (pull.head_repo.lower(), pull.head_ref, pull.base_ref) == (
                    head_repo.full_name.lower(),
                    head_ref,
                    base,
                ) and repo.issues[pull.number].state == "open":
                    raise StandInError(
                        422,
                        "Validation Failed",
                        [
                            {
                                "resource": "PullRequest",
                                "code": "custom",
                                "message": f"A pull request already exists for {head_repo.owner}:{head_ref}.",
                            }
                        ],
                    )
            if head_sha == base_sha or repo.git.is_ancestor(head_sha, base_sha):
                raise StandInError(
                    422,
                    "Validation Failed",
                    [
                        {
                            "resource": "PullRequest",
                            "code": "custom",
                            "message": f"No commits between {base} and {head_ref}",
                        }
                    ],
                )
            self._ensure_user(author)
            number = repo.take_number()
            issue = Issue(self.ids(), number, title, body, author, is_pull=True)
            pull = Pull(
                self.ids(),
                number,
                head_repo.full_name,
                head_ref,
                base,
                head_sha,
                base_sha,
                draft=draft,
                maintainer_can_modify=maintainer_can_modify,
            )
            repo.issues[number] = issue
            repo.pulls[number] = pull
            self._update_pull_head(repo, pull, head_sha)
            self._emit_pull(repo, pull, "opened", author)
            return pull

    def approve(self, full_name: str, number: int, *, by: str) -> None:
        """Submit an approving review as `by`."""
        self.add_review(full_name, number, by=by, state="APPROVED", body="")

    def add_review(self, full_name: str, number: int, *, by: str, state: str, body: str) -> Review:
        with self.lock:
            repo = self._repo(full_name)
            pull = repo.pulls.get(number)
            if pull is None:
                raise StandInError(404, "Not Found")
            self._ensure_user(by)
            review = Review(self.ids(), by, state, body, pull.head_sha)
            pull.reviews.append(review)
            return review

    def merge_pull(
        self,
        full_name: str,
        number: int,
        *,
        by: str,
        method: str = "merge",
        title: str | None = None,
        message: str | None = None,
        sha: str | None = None,
    ) -> str:
        """Merge with merge|squash|rebase using real git; emits push and pull_request.closed (merged)."""
        with self.lock:
            repo = self._repo(full_name)
            pull = repo.pulls.get(number)
            if pull is None:
                raise StandInError(404, "Not Found")
            issue = repo.issues[number]
            if pull.merged or issue.state != "open":
                raise StandInError(405, "Pull Request is not mergeable")
            if sha is not None and sha != pull.head_sha:
                raise StandInError(409, "Head branch was modified. Review and try the merge again.")
            git = repo.git
            base_sha = git.branch_sha(pull.base_ref)
            if base_sha is None:
                raise StandInError(422, "Base branch was deleted")
            head = pull.head_sha
            self._ensure_user(by)
            sig = self._signature(by)
            try:
                if method == "rebase":
                    new_tip = git.rebase(base_sha, git.commits_between(base_sha, head), sig)
                else:
                    tree = git.merge_trees(base_sha, head)
                    if method == "squash":
                        text = f"{title or issue.title} (#{number})\n\n{message or ''}".rstrip() + "\n"
                        author = self._signature(issue.user)
                        new_tip = git.commit_tree(tree, [base_sha], text, author, sig)
                    else:
                        head_label = f"{self._repo(pull.head_repo).owner}/{pull.head_ref}"
                        text = title or f"Merge pull request #{number} from {head_label}"
                        text = f"{text}\n\n{message if message is not None else issue.title}\n"
                        new_tip = git.commit_tree(tree, [base_sha, head], text, sig, sig)
            except MergeConflict as exc:
                raise StandInError(405, "Pull Request is not mergeable") from exc
            git.update_ref(f"refs/heads/{pull.base_ref}", new_tip, base_sha)
            pull.merged = True
            pull.merged_at = now_iso()
            pull.merged_by = by
            pull.merge_commit_sha = new_tip
            pull.base_sha = base_sha
            issue.state = "closed"
            issue.closed_at = pull.merged_at
            issue.closed_by = by
            issue.updated_at = pull.merged_at
        self.notify_push(full_name, pull.base_ref, pusher=by)
        with self.lock:
            self._emit_pull(repo, pull, "closed", by)
        return new_tip

    def update_branch_ref(self, repo: Repo, branch: str, sha: str, *, by: str) -> None:
        """A ref moved through the REST API: the same push + synchronize as a git push."""
        repo.git.update_ref(f"refs/heads/{branch}", sha)
        self.notify_push(repo.full_name, branch, pusher=by)

    # -- checks, statuses, deployments (read-back helpers for tests) -----------------------------------------
    def comments(self, full_name: str, number: int) -> list[Comment]:
        """Comments on an issue or pull request, oldest first."""
        with self.lock:
            return list(self._issue(self._repo(full_name), number).comments)

    def check_runs(self, full_name: str, sha: str | None = None) -> list[CheckRun]:
        with self.lock:
            runs = self._repo(full_name).check_runs.values()
            return [r for r in runs if sha is None or r.head_sha == sha]

    def deployments(self, full_name: str) -> list[Deployment]:
        with self.lock:
            return list(self._repo(full_name).deployments.values())

    def deployment_statuses(self, full_name: str, deployment_id: int) -> list[DeploymentStatus]:
        with self.lock:
            return list(self._repo(full_name).deployments[deployment_id].statuses)

    def issues(self, full_name: str) -> list[Issue]:
        """Issues only (pull requests excluded)."""
        with self.lock:
            return [i for i in self._repo(full_name).issues.values() if not i.is_pull]

    def pulls(self, full_name: str) -> list[Pull]:
        with self.lock:
            return list(self._repo(full_name).pulls.values())

    def pull(self, full_name: str, number: int) -> Pull:
        with self.lock:
            return self._repo(full_name).pulls[number]

    def reactions(self, full_name: str, comment_id: int) -> list[Reaction]:
        with self.lock:
            comment = self._repo(full_name).comment(comment_id)
            return list(comment.reactions) if comment else []

    def dispatches(self, full_name: str) -> list[Any]:
        with self.lock:
            return list(self._repo(full_name).dispatches)

    def workflow_runs(self, full_name: str) -> list[WorkflowRun]:
        """Runs started by dispatches, oldest first."""
        with self.lock:
            return list(self._repo(full_name).workflow_runs.values())

    def labels(self, full_name: str) -> list[str]:
        with self.lock:
            return [lb.name for lb in self._repo(full_name).labels.values()]

    @property
    def deliveries(self) -> list[DeliveryRecord]:
        """Every webhook sent so far (id, event, action, payload, receiver status)."""
        return list(self._sender.deliveries)

    def wait_for_deliveries(self, timeout: float = 10.0) -> bool:
        """Wait until every queued webhook was delivered (or failed); False on timeout."""
        return self._sender.wait(timeout)

    # -- JSON of repositories and users (shared by REST and webhooks) ----------------------------------------
    def repo_json(self, repo: Repo, *, full: bool = False, viewer: str | None = None) -> dict[str, Any]:
        owner = self._ensure_owner(repo.owner)
        parent = None
        if repo.fork_of and full:
            source = self._repo(repo.fork_of)
            parent = shapes.repository(self.urls, source, self._ensure_owner(source.owner))
        if full:
            role = self.role(repo, viewer) if viewer else None
            return shapes.full_repository(self.urls, repo, owner, role, parent)
        return shapes.repository(self.urls, repo, owner)

    def user_json(self, login: str) -> dict[str, Any]:
        return shapes.user(self.urls, self._ensure_user(login))

    def labels_of(self, repo: Repo, issue: Issue) -> list[Label]:
        return [self._label(repo, name) for name in issue.labels]

    def pull_json(self, repo: Repo, pull: Pull, *, detailed: bool = True) -> dict[str, Any]:
        issue = repo.issues[pull.number]
        head_repo = self._repo(pull.head_repo)
        base_sha = repo.git.branch_sha(pull.base_ref) or pull.base_sha
        if not pull.merged:
            pull.base_sha = base_sha
        stats = (0, 0, 0, 0)
        mergeable: bool | None = None
        if detailed:
            compare_base = pull.base_sha if pull.merged else base_sha
            commits = repo.git.commits_between(compare_base, pull.head_sha) if not pull.merged else []
            if pull.merged:
                merge_base = repo.git.text("merge-base", pull.base_sha, pull.head_sha)
                commits = repo.git.commits_between(merge_base, pull.head_sha)
            files = repo.git.changed_files(compare_base, pull.head_sha)
            stats = (len(commits), sum(f[2] for f in files), sum(f[3] for f in files), len(files))
            if not pull.merged and issue.state == "open":
                try:
                    repo.git.merge_trees(base_sha, pull.head_sha)
                    mergeable = True
                except MergeConflict:
                    mergeable = False
        return shapes.pull_request(
            self.urls,
            repo,
            head_repo,
            pull,
            issue,
            self.users,
            self.labels_of(repo, issue),
            repo_json=self.repo_json(repo),
            head_repo_json=self.repo_json(head_repo),
            stats=stats,
            mergeable=mergeable,
        )

    def issue_json(self, repo: Repo, issue: Issue) -> dict[str, Any]:
        out = shapes.issue(self.urls, repo.full_name, issue, self.users, self.labels_of(repo, issue))
        if issue.is_pull:
            out["pull_request"]["merged_at"] = repo.pulls[issue.number].merged_at
        return out

    # -- webhooks --------------------------------------------------------------------------------------------
    def _emit(self, event: str, action: str | None, repo: Repo, sender: str, body: dict[str, Any]) -> None:
        payload: dict[str, Any] = {}
        if action is not None:
            payload["action"] = action
        payload.update(body)
        payload["repository"] = self.repo_json(repo)
        payload["sender"] = self.user_json(sender)
        target = repo
        if repo.fork_of and event == "push":
            target = repo
        inst = self.installation_of(target.full_name)
        if inst is not None:
            payload["installation"] = {"id": inst.id, "node_id": shapes.node_id("Installation", inst.id)}
        schema = {"$ref": f"#/definitions/{self.hook_schemas.definition_name(event, action)}"}
        self._sender.send(event, action, conform(payload, schema, self.hook_schemas))

    def _emit_issue(self, repo: Repo, issue: Issue, action: str, sender: str) -> None:
        self._emit("issues", action, repo, sender, {"issue": self.issue_json(repo, issue)})

    def _emit_comment(
        self,
        repo: Repo,
        issue: Issue,
        comment: Comment,
        action: str,
        sender: str,
        changes: dict[str, Any] | None = None,
    ) -> None:
        body: dict[str, Any] = {}
        if changes is not None:
            body["changes"] = changes
        body["issue"] = self.issue_json(repo, issue)
        body["comment"] = shapes.comment(
            self.urls, repo.full_name, comment, self.users, is_pull=issue.is_pull
        )
        self._emit("issue_comment", action, repo, sender, body)

    def _emit_pull(
        self,
        repo: Repo,
        pull: Pull,
        action: str,
        sender: str,
        *,
        before: str | None = None,
        after: str | None = None,
    ) -> None:
        body: dict[str, Any] = {"number": pull.number, "pull_request": self.pull_json(repo, pull)}
        if action == "synchronize":
            body["before"] = before
            body["after"] = after
        self._emit("pull_request", action, repo, sender, body)

    def _emit_push(self, repo: Repo, branch: str, before: str, after: str, pusher: str) -> None:
        git = repo.git
        zero = "0" * 40
        created, deleted = before == zero, after == zero
        shas: list[str] = []
        if not deleted:
            if created:
                others = [
                    sha for name, sha in git.refs("refs/heads/").items() if name != f"refs/heads/{branch}"
                ]
                shas = git.text("rev-list", "--reverse", after, *[f"^{s}" for s in others]).split()
            elif git.object_type(before):
                shas = git.commits_between(before, after)
        forced = (
            not created
            and not deleted
            and bool(git.object_type(before))
            and not git.is_ancestor(before, after)
        )
        commits = [self._push_commit(repo, sha) for sha in shas[-20:]]
        head_commit = self._push_commit(repo, after) if not deleted else None
        user = self._ensure_user(pusher)
        self._emit(
            "push",
            None,
            repo,
            pusher,
            {
                "ref": f"refs/heads/{branch}",
                "before": before,
                "after": after,
                "created": created,
                "deleted": deleted,
                "forced": forced,
                "base_ref": None,
                "compare": f"{self.html_url}/{repo.full_name}/compare/{before[:12]}...{after[:12]}",
                "commits": commits,
                "head_commit": head_commit,
                "pusher": {
                    "name": user.login,
                    "email": f"{user.id}+{user.login}@users.noreply.standin.invalid",
                },
            },
        )

    def _push_commit(self, repo: Repo, sha: str) -> dict[str, Any]:
        info = repo.git.commit_info(sha)
        added: list[str] = []
        removed: list[str] = []
        modified: list[str] = []
        parent = info.parents[0] if info.parents else None
        diff = (
            repo.git.text("diff-tree", "-r", "--no-commit-id", "--name-status", "--root", sha)
            if parent is None
            else repo.git.text("diff", "--name-status", "--no-renames", parent, sha)
        )
        for line in diff.splitlines():
            status, _, path = line.partition("\t")
            {"A": added, "D": removed}.get(status[:1], modified).append(path)
        return {
            "id": sha,
            "tree_id": info.tree,
            "distinct": True,
            "message": info.message.removesuffix("\n"),
            "timestamp": info.committer.date,
            "url": f"{self.html_url}/{repo.full_name}/commit/{sha}",
            "author": {"name": info.author.name, "email": info.author.email, "username": info.author.name},
            "committer": {
                "name": info.committer.name,
                "email": info.committer.email,
                "username": info.committer.name,
            },
            "added": added,
            "removed": removed,
            "modified": modified,
        }

    # -- workflow runs ---------------------------------------------------------------------------------------
    def start_workflow_run(
        self,
        repo: Repo,
        workflow: Mapping[str, Any],
        text: str,
        ref: str,
        inputs: Mapping[str, Any],
        *,
        actor: str,
    ) -> WorkflowRun:
        """What a workflow_dispatch starts: a queued run titled by the workflow's `run-name`.

        `workflow` is the REST shape of the workflow, `text` its file. Emits `workflow_run.requested`.
        """
        branch = ref.removeprefix("refs/heads/")
        sha = repo.git.branch_sha(branch) or repo.git.resolve_commit(ref) or ""
        doc = runs.workflow_document(text)
        typed = runs.typed_inputs(runs.declared_inputs(doc), inputs)
        context = {
            "inputs": typed,
            "github": {
                "event_name": "workflow_dispatch",
                "event": {"inputs": dict(inputs), "ref": ref},
                "ref": ref if ref.startswith("refs/") else f"refs/heads/{ref}",
                "ref_name": branch,
                "sha": sha,
                "repository": repo.full_name,
                "actor": actor,
            },
        }
        run = WorkflowRun(
            id=self.ids(),
            run_number=1 + sum(1 for r in repo.workflow_runs.values() if r.workflow_id == workflow["id"]),
            workflow_id=int(workflow["id"]),
            workflow_name=str(workflow["name"]),
            path=str(workflow["path"]),
            display_title=runs.display_title(doc, workflow_name=str(workflow["name"]), context=context),
            event="workflow_dispatch",
            head_branch=branch,
            head_sha=sha,
            actor=actor,
        )
        repo.workflow_runs[run.id] = run
        self._emit_workflow_run(repo, run, "requested")
        return run

    def finish_workflow_run(self, full_name: str, run_id: int, conclusion: str = "success") -> WorkflowRun:
        """Test API: the run ends with `conclusion` (success, failure, cancelled, ...); emits
        `workflow_run.completed`. Finishing a finished run changes nothing and sends nothing."""
        with self.lock:
            repo = self._repo(full_name)
            run = repo.workflow_runs.get(run_id)
            if run is None:
                raise StandInError(404, "Not Found")
            if run.status == "completed":
                return run
            run.status = "completed"
            run.conclusion = conclusion
            run.updated_at = now_iso()
            self._emit_workflow_run(repo, run, "completed")
            return run

    def redeliver(self, delivery_id: str, *, new_guid: bool = False) -> DeliveryRecord:
        """Send an earlier webhook again with the same payload: GitHub's "Redeliver" keeps the GUID;
        `new_guid` models an at-least-once resend the receiver cannot deduplicate by GUID."""
        previous = next((d for d in self._sender.deliveries if d.id == delivery_id), None)
        if previous is None:
            raise KeyError(f"no delivery {delivery_id}")
        return self._sender.send(
            previous.event, previous.action, previous.payload, delivery_id=None if new_guid else delivery_id
        )

    def workflow_run_json(self, repo: Repo, run: WorkflowRun) -> dict[str, Any]:
        info = repo.git.commit_info(run.head_sha) if run.head_sha else None
        head_commit: dict[str, Any] = {}
        if info is not None:
            head_commit = {
                "id": run.head_sha,
                "tree_id": info.tree,
                "message": info.message.removesuffix("\n"),
                "timestamp": info.committer.date,
                "author": {"name": info.author.name, "email": info.author.email},
                "committer": {"name": info.committer.name, "email": info.committer.email},
            }
        return shapes.workflow_run(
            self.urls,
            repo.full_name,
            run,
            repository=self.repo_json(repo),
            actor=self.user_json(run.actor),
            head_commit=head_commit,
        )

    def _emit_workflow_run(self, repo: Repo, run: WorkflowRun, action: str) -> None:
        workflow = shapes.workflow(
            self.urls, repo.full_name, run.workflow_id, run.path, run.workflow_name, repo.created_at
        )
        body = {"workflow": workflow, "workflow_run": self.workflow_run_json(repo, run)}
        self._emit("workflow_run", action, repo, run.actor, body)

    # -- misc ------------------------------------------------------------------------------------------------
    @contextmanager
    def locked(self) -> Iterator[None]:
        with self.lock:
            yield

    def new_check_run(self, repo: Repo, **fields: Any) -> CheckRun:
        run = CheckRun(id=self.ids(), **fields)
        repo.check_runs[run.id] = run
        return run

    def new_deployment(self, repo: Repo, **fields: Any) -> Deployment:
        deployment = Deployment(id=self.ids(), **fields)
        repo.deployments[deployment.id] = deployment
        return deployment
