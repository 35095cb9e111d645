"""The stand-in's REST surface: an ASGI app that validates each request, injects faults, and dispatches.

Routing uses GitHub's own description: a request is matched to an operation of the REST subset, its
path, query and body are validated, and the handler registered for that `operationId` runs under the
stand-in's lock. Unknown routes and invalid requests get GitHub's 404/422 answers and are recorded as
violations.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import json
import time
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs, urlencode

import anyio

from bot.standin import shapes
from bot.standin.domain.state import API_PREFIX, GIT_HOOK_PATH, RequestLog, StandInError, Violation
from bot.standin.faults import Fault
from bot.standin.gitstore import GitError, Signature
from bot.standin.model import (
    ROLES,
    DeploymentStatus,
    Dispatch,
    Environment,
    Issue,
    Label,
    Repo,
    Status,
    Token,
)
from bot.standin.server import StandIn

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

DOCS = "https://docs.github.com/rest"
JWT_OPERATIONS = {
    "apps/get-authenticated",
    "apps/create-installation-access-token",
    "apps/get-repo-installation",
}
# Minimum collaborator role per write operation; writes not listed need "write".
ROLE_NEEDED = {
    "issues/create": "read",
    "issues/create-comment": "read",
    "reactions/create-for-issue-comment": "read",
    "pulls/create": "read",
    "pulls/create-review": "read",
    "issues/add-labels": "triage",
}
AUTHOR_OR_ROLE = {  # the author may always change their own object; others need the role
    "issues/update": "triage",
    "pulls/update": "triage",
    "issues/update-comment": "maintain",
    "issues/delete-comment": "maintain",
}


@dataclass
class Reply:
    status: int
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class Call:
    """One validated REST request."""

    standin: StandIn
    method: str
    path: str
    operation: str
    params: dict[str, Any]
    query: dict[str, Any]
    body: Any
    token: Token | None
    jwt_app_id: int | None
    url: str  # the full request URL without query, for Link headers

    @property
    def login(self) -> str:
        if self.token is None:
            raise StandInError(401, "Requires authentication")
        return self.token.login

    def repo(self) -> Repo:
        repo = self.standin.repo(f"{self.params['owner']}/{self.params['repo']}")
        if repo.private and (self.token is None or not self._may_see(repo)):
            raise StandInError(404, "Not Found")
        return repo

    def _may_see(self, repo: Repo) -> bool:
        assert self.token is not None
        if self.token.installation_id is not None:  # an installation sees its own repositories, no others
            inst = self.standin.installations.get(self.token.installation_id)
            return inst is not None and repo.full_name in inst.repos
        return self.standin.role(repo, self.token.login) != "none"

    def require(self, repo: Repo, role: str, *, author: str | None = None) -> None:
        """Refuse unless the caller may do this on `repo` (GitHub: 403 for known callers, 401 for none)."""
        if self.token is None:
            raise StandInError(401, "Requires authentication")
        if self.token.installation_id is not None:
            inst = self.standin.installations.get(self.token.installation_id)
            if inst is None or repo.full_name not in inst.repos:
                raise StandInError(403, "Resource not accessible by integration")
            return
        if author is not None and author == self.token.login:
            return
        have = self.standin.role(repo, self.token.login)
        if ROLES.index(have) < ROLES.index(role):
            raise StandInError(403, f"Must have {role} access to repository")

    def page(self, items: list[Any]) -> tuple[list[Any], dict[str, str]]:
        """One page of `items` and the Link header GitHub sends (per_page default 30, max 100)."""
        per_page = max(1, min(int(self.query.get("per_page", 30)), 100))
        page = max(1, int(self.query.get("page", 1)))
        last = max(1, -(-len(items) // per_page))
        chunk = items[(page - 1) * per_page : page * per_page]
        links = []
        others = {k: v for k, v in self.query.items() if k not in ("page", "per_page")}

        def link(number: int, rel: str) -> str:
            query = urlencode({**others, "per_page": per_page, "page": number}, doseq=True)
            return f'<{self.url}?{query}>; rel="{rel}"'

        if page < last:
            links += [link(page + 1, "next"), link(last, "last")]
        if page > 1:
            links += [link(1, "first"), link(page - 1, "prev")]
        return chunk, ({"Link": ", ".join(links)} if links else {})


Handler = Callable[[Call], Reply]
HANDLERS: dict[str, Handler] = {}


def op(operation_id: str) -> Callable[[Handler], Handler]:
    def register(fn: Handler) -> Handler:
        HANDLERS[operation_id] = fn
        return fn

    return register


def _error(status: int, message: str, errors: list[dict[str, Any]] | None = None) -> Reply:
    body: dict[str, Any] = {"message": message, "documentation_url": DOCS, "status": str(status)}
    if errors:
        body["errors"] = errors
    return Reply(status, body)


# ---------------------------------------------------------------------------------------------------------
# ASGI plumbing
# ---------------------------------------------------------------------------------------------------------


def _git_pushed(standin: StandIn, body: bytes) -> None:
    try:
        event = json.loads(body)
        full_name = str(event["repository"])
        lines = [str(line) for line in event["updates"]]
    except (ValueError, KeyError, TypeError):
        return
    for line in lines:
        parts = line.split()
        if len(parts) == 3 and parts[2].startswith("refs/heads/"):
            branch = parts[2].removeprefix("refs/heads/")
            standin.notify_push(
                full_name, branch, pusher=str(event.get("pusher") or standin.default_app.bot_login)
            )


def build_app(standin: StandIn) -> Callable[[Scope, Receive, Send], Awaitable[None]]:
    """The ASGI application serving `standin`."""

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        chunks = []
        while True:
            message = await receive()
            chunks.append(message.get("body", b""))
            if not message.get("more_body"):
                break
        body = b"".join(chunks)
        method = scope["method"]
        path = scope["path"]
        headers = {k.decode().lower(): v.decode() for k, v in scope["headers"]}
        query = parse_qs(scope.get("query_string", b"").decode(), keep_blank_values=True)
        if path == GIT_HOOK_PATH and method == "POST":
            # A `git push` straight into a bare repository (what a CI job or the bot's executor does) is
            # announced by the repository's post-receive hook, as GitHub announces pushes it receives.
            await anyio.to_thread.run_sync(lambda: _git_pushed(standin, body))
            await _send(send, Reply(204, None))
            return
        if not path.startswith(API_PREFIX):
            await _send(send, _error(404, "Not Found"))
            return
        relative = path[len(API_PREFIX) :] or "/"
        fault = standin.faults.pick(method, relative)
        if standin.faults.delay_seconds:
            await asyncio.sleep(standin.faults.delay_seconds)
        if fault is not None and fault.kind != "lost_response":
            standin.requests.append(RequestLog(method, relative, 0, None, f"fault:{fault.kind}"))
            if fault.kind == "drop":
                _abort(send)
                return
            await _send(send, _fault_reply(fault))
            return
        url = f"{standin.html_url}{path}"
        reply = await anyio.to_thread.run_sync(
            lambda: handle(standin, method, relative, query, headers, body, url)
        )
        if fault is not None:  # lost_response: the write happened, the answer never arrives
            _abort(send)
            return
        await _send(send, reply)

    return app


def _abort(send: Send) -> None:
    """Drop the TCP connection without an answer (uvicorn keeps the transport on the bound `send`)."""
    cycle = getattr(send, "__self__", None)
    transport = getattr(cycle, "transport", None)
    if transport is None:
        raise ConnectionAbortedError("stand-in fault: dropped connection")
    transport.abort()


def _fault_reply(fault: Fault) -> Reply:
    now = int(time.time())
    if fault.kind in ("500", "502"):
        status = int(fault.kind)
        message = "Server Error" if status == 500 else "Bad Gateway"
        return Reply(status, {"message": message})
    if fault.kind == "429":
        return Reply(
            429,
            {
                "message": "API rate limit exceeded for installation.",
                "documentation_url": DOCS,
                "status": "429",
            },
            {
                "Retry-After": str(fault.retry_after),
                "X-RateLimit-Limit": "5000",
                "X-RateLimit-Remaining": "0",
                "X-RateLimit-Used": "5000",
                "X-RateLimit-Reset": str(now + fault.retry_after),
                "X-RateLimit-Resource": "core",
            },
        )
    return Reply(
        403,
        {
            "message": "You have exceeded a secondary rate limit. Please wait a few minutes before you try "
            "again. If you reach out to GitHub Support for help, please include the request ID.",
            "documentation_url": DOCS,
            "status": "403",
        },
        {"Retry-After": str(fault.retry_after)},
    )


async def _send(send: Send, reply: Reply) -> None:
    data = b"" if reply.body is None else json.dumps(reply.body).encode()
    headers = {
        "content-type": "application/json; charset=utf-8",
        "content-length": str(len(data)),
        "x-github-media-type": "github.v3; format=json",
        "x-ratelimit-limit": "5000",
        "x-ratelimit-remaining": "4999",
    }
    headers.update({k.lower(): v for k, v in reply.headers.items()})
    raw = [(k.encode(), v.encode()) for k, v in headers.items()]
    await send({"type": "http.response.start", "status": reply.status, "headers": raw})
    await send({"type": "http.response.body", "body": data})


def handle(
    standin: StandIn,
    method: str,
    path: str,
    query: dict[str, list[str]],
    headers: dict[str, str],
    body: bytes,
    url: str,
) -> Reply:
    """Validate, authenticate and dispatch one REST request (runs in a worker thread)."""
    match = standin.spec.match(method, path)
    if match is None or match.operation.operation_id not in HANDLERS:
        reason = (
            "no such route in GitHub's REST description"
            if match is None
            else "route not served by the stand-in"
        )
        standin.violations.append(Violation(method, path, reason))
        standin.requests.append(RequestLog(method, path, 404, None, None))
        return _error(404, "Not Found")
    operation = match.operation.operation_id
    checked = standin.spec.validate(match, query, body)
    if checked.problems:
        reasons = "; ".join(f"{p.field}: {p.message}" for p in checked.problems)
        standin.violations.append(Violation(method, path, reasons))
        bad_json = any(p.message == "Problems parsing JSON" for p in checked.problems)
        status = (
            400 if bad_json else 404 if any(p.field in match.path_params for p in checked.problems) else 422
        )
        message = (
            "Problems parsing JSON"
            if bad_json
            else "Invalid request.\n\n" + "\n".join(p.message for p in checked.problems)
        )
        standin.requests.append(RequestLog(method, path, status, None, operation))
        return _error(status, message, [p.as_error(operation.split("/")[0]) for p in checked.problems])
    try:
        token, app_id = _authenticate(standin, operation, headers.get("authorization", ""))
        call = Call(
            standin,
            method,
            path,
            operation,
            checked.path_params,
            checked.query,
            checked.body,
            token,
            app_id,
            url,
        )
        with standin.lock:
            _check_token_scope(call)
            reply = HANDLERS[operation](call)
    except StandInError as exc:
        reply = _error(exc.status, exc.message, exc.errors)
        token = None
    except GitError as exc:
        reply = _error(422, f"git: {exc.stderr.strip()[:200]}")
        token = None
    standin.requests.append(RequestLog(method, path, reply.status, token.login if token else None, operation))
    if standin.validate_responses and reply.status < 300:
        try:
            problems = standin.spec.response_errors(method, path, reply.status, reply.body)
        except Exception as exc:  # a broken check must be reported, not turn the answer into a 500
            problems = [f"response check failed: {type(exc).__name__}: {str(exc)[:200]}"]
        for problem in problems[:5]:
            standin.response_problems.append(Violation(method, path, f"response {reply.status}: {problem}"))
    return reply


# The GitHub App permission each served operation needs ("Permissions required for GitHub Apps" in GitHub's
# REST docs). `metadata` (read) is granted to every installation token.
_OPERATION_PERMISSION = {
    "repos/get-content": "contents",
    "repos/create-or-update-file-contents": "contents",
    "repos/get-commit": "contents",
    "repos/create-commit-status": "statuses",
    "repos/list-commit-statuses-for-ref": "statuses",
    "repos/get-combined-status-for-ref": "statuses",
    "repos/list-deployments": "deployments",
    "repos/create-deployment": "deployments",
    "repos/get-deployment": "deployments",
    "repos/list-deployment-statuses": "deployments",
    "repos/create-deployment-status": "deployments",
    "repos/get-environment": "actions",
    "repos/create-or-update-environment": "administration",
}
_CATEGORY_PERMISSION = {
    "git": "contents",
    "pulls": "pull_requests",
    "issues": "issues",
    "reactions": "issues",
    "checks": "checks",
    "actions": "actions",
}
_LEVELS = {"read": 1, "write": 2, "admin": 3}


def _check_token_scope(call: Call) -> None:
    """Refuse what a narrowed installation token was not granted: a repository outside its `repositories`
    (404, as GitHub hides it) or an operation outside its `permissions` (403)."""
    token = call.token
    if token is None or token.installation_id is None:
        return
    owner, name = call.params.get("owner"), call.params.get("repo")
    full_name = f"{owner}/{name}".lower()
    if token.repositories is not None and owner and name and full_name not in token.repositories:
        repo = call.standin.repos.get(full_name)
        if repo is None or repo.private or call.method != "GET":
            raise StandInError(404 if call.method == "GET" else 403, "Resource not accessible by integration")
    if token.permissions is None:
        return
    operation = call.operation
    permission = _OPERATION_PERMISSION.get(operation) or _CATEGORY_PERMISSION.get(operation.split("/")[0])
    if permission is None:
        return  # metadata: repos/get, branches, collaborator permission
    needed = 1 if call.method == "GET" else 2
    if _LEVELS.get(token.permissions.get(permission, ""), 0) < needed:
        raise StandInError(403, "Resource not accessible by integration")


def _authenticate(standin: StandIn, operation: str, header: str) -> tuple[Token | None, int | None]:
    scheme, _, credential = header.partition(" ")
    if operation in JWT_OPERATIONS:
        if scheme.lower() != "bearer" or credential.count(".") != 2:
            raise StandInError(401, "A JSON web token could not be decoded")
        return None, _verify_jwt(standin, credential)
    if not header:
        return None, None
    if scheme.lower() not in ("token", "bearer"):
        raise StandInError(401, "Bad credentials")
    token = standin.token_for(credential.strip())
    if token is None:
        raise StandInError(401, "Bad credentials")
    return token, None


def _verify_jwt(standin: StandIn, credential: str) -> int:
    """The app id of a valid RS256 app JWT: https://docs.github.com/en/apps/creating-github-apps/authenticating-with-a-github-app/generating-a-json-web-token-jwt-for-a-github-app"""
    import jwt

    try:
        claims = jwt.decode(credential, options={"verify_signature": False})
        app = standin.apps.get(int(claims.get("iss", 0)))
        if app is None or not app.public_key_pem:
            raise StandInError(401, "Integration not found")
        jwt.decode(
            credential, app.public_key_pem, algorithms=["RS256"], options={"require": ["exp", "iat", "iss"]}
        )
        if int(claims["exp"]) - int(claims["iat"]) > 600 + 60:
            raise StandInError(401, "'Expiration time' claim ('exp') is too far in the future")
    except (jwt.PyJWTError, ValueError) as exc:
        raise StandInError(401, "A JSON web token could not be decoded") from exc
    return app.id


def _b64(text: str) -> bytes:
    try:
        return base64.b64decode(text, validate=False)
    except binascii.Error as exc:
        raise StandInError(422, "content is not valid Base64") from exc


def _iso_now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


# ---------------------------------------------------------------------------------------------------------
# apps and users
# ---------------------------------------------------------------------------------------------------------
@op("apps/get-authenticated")
def get_app(call: Call) -> Reply:
    s = call.standin
    app = s.apps[call.jwt_app_id or 0]
    return Reply(200, shapes.integration(s.urls, app, s.ensure_owner(app.owner)))


@op("apps/get-repo-installation")
def get_repo_installation(call: Call) -> Reply:
    s = call.standin
    repo = s.repo(f"{call.params['owner']}/{call.params['repo']}")
    inst = s.installation_of(repo.full_name)
    if inst is None:
        raise StandInError(404, "Not Found")
    return Reply(200, shapes.installation(s.urls, inst, s.apps[inst.app_id], s.ensure_owner(inst.account)))


@op("apps/create-installation-access-token")
def create_access_token(call: Call) -> Reply:
    s = call.standin
    inst = s.installations.get(call.params["installation_id"])
    if inst is None or inst.app_id != call.jwt_app_id:
        raise StandInError(404, "Not Found")
    body = call.body if isinstance(call.body, dict) else {}
    repositories: frozenset[str] | None = None
    names = [f"{inst.account}/{n}" for n in body.get("repositories") or []]
    names += [r.full_name for r in s.repos.values() if r.id in set(body.get("repository_ids") or [])]
    if body.get("repositories") or body.get("repository_ids"):
        known = {n.lower() for n in inst.repos}
        if len(names) != len(body.get("repositories") or []) + len(body.get("repository_ids") or []) or any(
            n.lower() not in known for n in names
        ):
            raise StandInError(
                422,
                "There is at least one repository that does not exist or is not accessible to the parent "
                "installation.",
            )
        repositories = frozenset(n.lower() for n in names)
    permissions: dict[str, str] | None = None
    if body.get("permissions"):
        permissions = {str(k): str(v) for k, v in body["permissions"].items()}
        for key, level in permissions.items():
            granted = shapes.APP_PERMISSIONS.get(key, "")
            if _LEVELS.get(level, 9) > _LEVELS.get(granted, 0):
                raise StandInError(422, "The permissions requested are not granted to this installation.")
    token = s.installation_token(inst.id, repositories=repositories, permissions=permissions)
    expires = datetime.fromtimestamp(s.tokens[token].expires_at or 0, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    answer: dict[str, Any] = {
        "token": token,
        "expires_at": expires,
        "permissions": permissions or dict(shapes.APP_PERMISSIONS),
        "repository_selection": "selected",
    }
    if repositories is not None:
        answer["repositories"] = [s.repo_json(s.repos[n]) for n in sorted(repositories)]
    return Reply(201, answer)


@op("users/get-authenticated")
def get_user(call: Call) -> Reply:
    if call.token is None:
        raise StandInError(401, "Requires authentication")
    if call.token.installation_id is not None:
        raise StandInError(403, "Resource not accessible by integration")
    return Reply(200, shapes.private_user(call.standin.urls, call.standin.users[call.login]))


# ---------------------------------------------------------------------------------------------------------
# repositories, branches, collaborators
# ---------------------------------------------------------------------------------------------------------
@op("repos/get")
def get_repo(call: Call) -> Reply:
    repo = call.repo()
    viewer = call.token.login if call.token else None
    return Reply(200, call.standin.repo_json(repo, full=True, viewer=viewer))


@op("repos/list-branches")
def list_branches(call: Call) -> Reply:
    repo = call.repo()
    heads = repo.git.refs("refs/heads/")
    items = [
        shapes.branch_short(call.standin.urls, repo.full_name, ref.removeprefix("refs/heads/"), sha)
        for ref, sha in sorted(heads.items())
    ]
    if call.query.get("protected") is True:
        items = []
    chunk, headers = call.page(items)
    return Reply(200, chunk, headers)


@op("repos/get-branch")
def get_branch(call: Call) -> Reply:
    repo = call.repo()
    sha = repo.git.branch_sha(call.params["branch"])
    if sha is None:
        raise StandInError(404, "Branch not found")
    info = repo.git.commit_info(sha)
    return Reply(200, shapes.branch_full(call.standin.urls, repo.full_name, call.params["branch"], info))


@op("repos/get-collaborator-permission-level")
def get_permission(call: Call) -> Reply:
    s = call.standin
    repo = call.repo()
    login = call.params["username"]
    user = s.users.get(login)
    if user is None:
        raise StandInError(404, f"{login} is not a user")
    role = s.role(repo, login)
    collaborator = {
        **shapes.user(s.urls, user),
        "role_name": role,
        "permissions": {
            "admin": role == "admin",
            "maintain": role in ("admin", "maintain"),
            "push": ROLES.index(role) >= 3,
            "triage": ROLES.index(role) >= 2,
            "pull": ROLES.index(role) >= 1,
        },
    }
    return Reply(200, {"permission": s.legacy_permission(role), "role_name": role, "user": collaborator})


# ---------------------------------------------------------------------------------------------------------
# git data: refs, blobs, trees, commits
# ---------------------------------------------------------------------------------------------------------
def _full_ref(ref: str) -> str:
    return ref if ref.startswith("refs/") else f"refs/{ref}"


@op("git/get-ref")
def get_ref(call: Call) -> Reply:
    repo = call.repo()
    name = _full_ref(call.params["ref"])
    sha = repo.git.refs(name).get(name)
    if sha is None:
        raise StandInError(404, "Not Found")
    kind = repo.git.object_type(sha) or "commit"
    return Reply(200, shapes.git_ref(call.standin.urls, repo.full_name, name, sha, kind))


@op("git/list-matching-refs")
def list_matching_refs(call: Call) -> Reply:
    repo = call.repo()
    prefix = _full_ref(call.params.get("ref", "")) if call.params.get("ref") else "refs/"
    refs = {
        name: sha
        for name, sha in repo.git.refs("refs/").items()
        if name.startswith(prefix) and not name.startswith("refs/pull/")
    }
    items = [
        shapes.git_ref(call.standin.urls, repo.full_name, name, sha) for name, sha in sorted(refs.items())
    ]
    chunk, headers = call.page(items)
    return Reply(200, chunk, headers)


@op("git/create-ref")
def create_ref(call: Call) -> Reply:
    repo = call.repo()
    call.require(repo, "write")
    ref, sha = call.body["ref"], call.body["sha"]
    if not ref.startswith("refs/") or ref.count("/") < 2:
        raise StandInError(422, "Reference name must start with 'refs/' and have at least two slashes.")
    if repo.git.refs(ref).get(ref):
        raise StandInError(422, "Reference already exists")
    if repo.git.object_type(sha) is None:
        raise StandInError(422, "Object does not exist")
    if ref.startswith("refs/heads/"):
        call.standin.update_branch_ref(repo, ref.removeprefix("refs/heads/"), sha, by=call.login)
    else:
        repo.git.update_ref(ref, sha)
    return Reply(201, shapes.git_ref(call.standin.urls, repo.full_name, ref, sha))


@op("git/update-ref")
def update_ref(call: Call) -> Reply:
    repo = call.repo()
    call.require(repo, "write")
    name = _full_ref(call.params["ref"])
    current = repo.git.refs(name).get(name)
    if current is None:
        raise StandInError(422, "Reference does not exist")
    sha = call.body["sha"]
    if repo.git.object_type(sha) is None:
        raise StandInError(422, "Object does not exist")
    if not call.body.get("force") and not repo.git.is_ancestor(current, sha):
        raise StandInError(422, "Update is not a fast forward")
    if name.startswith("refs/heads/"):
        call.standin.update_branch_ref(repo, name.removeprefix("refs/heads/"), sha, by=call.login)
    else:
        repo.git.update_ref(name, sha)
    return Reply(200, shapes.git_ref(call.standin.urls, repo.full_name, name, sha))


@op("git/delete-ref")
def delete_ref(call: Call) -> Reply:
    repo = call.repo()
    call.require(repo, "write")
    name = _full_ref(call.params["ref"])
    if repo.git.refs(name).get(name) is None:
        raise StandInError(422, "Reference does not exist")
    repo.git.delete_ref(name)
    if name.startswith("refs/heads/"):
        call.standin.notify_push(repo.full_name, name.removeprefix("refs/heads/"), pusher=call.login)
    return Reply(204)


@op("git/create-blob")
def create_blob(call: Call) -> Reply:
    repo = call.repo()
    call.require(repo, "write")
    content = call.body["content"]
    data = _b64(content) if call.body.get("encoding") == "base64" else content.encode()
    sha = repo.git.write_blob(data)
    return Reply(201, {"url": f"{call.standin.urls.repo(repo.full_name)}/git/blobs/{sha}", "sha": sha})


@op("git/get-blob")
def get_blob(call: Call) -> Reply:
    repo = call.repo()
    sha = call.params["file_sha"]
    if repo.git.object_type(sha) != "blob":
        raise StandInError(404, "Not Found")
    data = repo.git.read_blob(sha)
    return Reply(
        200,
        {
            "sha": sha,
            "node_id": shapes.node_id("Blob", sha),
            "size": len(data),
            "url": f"{call.standin.urls.repo(repo.full_name)}/git/blobs/{sha}",
            "content": base64.encodebytes(data).decode(),
            "encoding": "base64",
        },
    )


@op("git/create-tree")
def create_tree(call: Call) -> Reply:
    repo = call.repo()
    call.require(repo, "write")
    base_tree = call.body.get("base_tree")
    if base_tree and repo.git.object_type(base_tree) not in ("tree", "commit"):
        raise StandInError(422, "base_tree is not a valid tree oid")
    changes: dict[str, tuple[str, str] | None] = {}
    for entry in call.body["tree"]:
        path = entry["path"]
        if "content" in entry and entry["content"] is not None:
            changes[path] = (entry.get("mode", "100644"), repo.git.write_blob(entry["content"].encode()))
        elif entry.get("sha") is None:
            changes[path] = None
        else:
            if repo.git.object_type(entry["sha"]) is None:
                raise StandInError(422, f"tree.sha {entry['sha']} is not a valid blob")
            changes[path] = (entry.get("mode", "100644"), entry["sha"])
    tree = repo.git.build_tree(f"{base_tree}^{{tree}}" if base_tree else None, changes)
    return Reply(201, _tree_json(call, repo, tree, recursive=False))


def _tree_json(call: Call, repo: Repo, tree: str, *, recursive: bool) -> dict[str, Any]:
    api = call.standin.urls.repo(repo.full_name)
    entries = []
    for e in repo.git.ls_tree(tree, recursive=recursive):
        item: dict[str, Any] = {
            "path": e.path,
            "mode": e.mode,
            "type": e.type,
            "sha": e.sha,
            "url": f"{api}/git/{e.type}s/{e.sha}",
        }
        if e.size is not None:
            item["size"] = e.size
        entries.append(item)
    return {"sha": tree, "url": f"{api}/git/trees/{tree}", "tree": entries, "truncated": False}


@op("git/get-tree")
def get_tree(call: Call) -> Reply:
    repo = call.repo()
    sha = repo.git.resolve(f"{call.params['tree_sha']}^{{tree}}")
    if sha is None:
        raise StandInError(404, "Not Found")
    return Reply(200, _tree_json(call, repo, sha, recursive="recursive" in call.query))


def _signature(value: dict[str, Any] | None, fallback: Signature) -> Signature:
    if not value:
        return fallback
    return Signature(
        value.get("name", fallback.name),
        value.get("email", fallback.email),
        value.get("date") or fallback.date,
    )


@op("git/create-commit")
def create_commit(call: Call) -> Reply:
    repo = call.repo()
    call.require(repo, "write")
    tree = call.body["tree"]
    if repo.git.object_type(tree) != "tree":
        raise StandInError(422, "Tree SHA does not exist")
    parents = call.body.get("parents", [])
    for parent in parents:
        if repo.git.object_type(parent) != "commit":
            raise StandInError(422, "Parent SHA does not exist or is not a commit object")
    default = call.standin.signature(call.login)
    author = _signature(call.body.get("author"), default)
    committer = _signature(call.body.get("committer"), author if call.body.get("author") else default)
    sha = repo.git.commit_tree(tree, parents, call.body["message"], author, committer)
    return Reply(201, shapes.git_commit(call.standin.urls, repo.full_name, repo.git.commit_info(sha)))


@op("git/get-commit")
def get_git_commit(call: Call) -> Reply:
    repo = call.repo()
    sha = call.params["commit_sha"]
    if repo.git.object_type(sha) != "commit":
        raise StandInError(404, "Not Found")
    return Reply(200, shapes.git_commit(call.standin.urls, repo.full_name, repo.git.commit_info(sha)))


@op("repos/get-commit")
def get_commit(call: Call) -> Reply:
    repo = call.repo()
    sha = repo.git.resolve_commit(call.params["ref"])
    if sha is None:
        raise StandInError(422, f"No commit found for SHA: {call.params['ref']}")
    info = repo.git.commit_info(sha)
    files = []
    if info.parents:
        for status, path, added, deleted in repo.git.changed_files(info.parents[0], sha):
            files.append(
                shapes.diff_entry(
                    call.standin.urls,
                    repo.full_name,
                    sha,
                    status,
                    path,
                    added,
                    deleted,
                    shapes.file_sha(repo.git, sha, path),
                )
            )
    return Reply(200, shapes.commit(call.standin.urls, repo.full_name, info, files))


# ---------------------------------------------------------------------------------------------------------
# contents
# ---------------------------------------------------------------------------------------------------------
@op("repos/get-content")
def get_content(call: Call) -> Reply:
    repo = call.repo()
    ref = call.query.get("ref") or repo.default_branch
    path = call.params.get("path", "").strip("/")
    sha = repo.git.resolve_commit(ref)
    entry = repo.git.entry_at(sha, path) if sha else None
    if entry is None:
        raise StandInError(404, "Not Found")
    urls = call.standin.urls
    if entry.type == "blob":
        return Reply(
            200,
            shapes.content_file(urls, repo.full_name, path, entry.sha, repo.git.read_blob(entry.sha), ref),
        )
    items = []
    for child in repo.git.ls_tree(entry.sha):
        child_path = f"{path}/{child.path}" if path else child.path
        kind = {"blob": "file", "tree": "dir", "commit": "submodule"}[child.type]
        items.append(
            shapes.content_entry(urls, repo.full_name, child_path, kind, child.sha, child.size or 0, ref)
        )
    return Reply(200, items)


@op("repos/create-or-update-file-contents")
def put_content(call: Call) -> Reply:
    s = call.standin
    repo = call.repo()
    call.require(repo, "write")
    path = call.params["path"].strip("/")
    branch = call.body.get("branch") or repo.default_branch
    parent = repo.git.branch_sha(branch)
    existing = repo.git.entry_at(parent, path) if parent else None
    if existing is not None and call.body.get("sha") != existing.sha:
        if call.body.get("sha") is None:
            raise StandInError(422, 'Invalid request.\n\n"sha" wasn\'t supplied.')
        raise StandInError(409, f"{path} does not match {call.body.get('sha')}")
    blob = repo.git.write_blob(_b64(call.body["content"]))
    tree = repo.git.build_tree(f"{parent}^{{tree}}" if parent else None, {path: ("100644", blob)})
    default = s.signature(call.login)
    author = _signature(call.body.get("author"), default)
    committer = _signature(call.body.get("committer"), default)
    sha = repo.git.commit_tree(tree, [parent] if parent else [], call.body["message"], author, committer)
    s.update_branch_ref(repo, branch, sha, by=call.login)
    content = shapes.content_file(s.urls, repo.full_name, path, blob, repo.git.read_blob(blob), branch)
    content.pop("content")
    content.pop("encoding")
    body = {
        "content": content,
        "commit": shapes.git_commit(s.urls, repo.full_name, repo.git.commit_info(sha)),
    }
    return Reply(200 if existing else 201, body)


# ---------------------------------------------------------------------------------------------------------
# pull requests
# ---------------------------------------------------------------------------------------------------------
def _sorted(
    items: list[Any], call: Call, created: Callable[[Any], str], updated: Callable[[Any], str]
) -> list[Any]:
    key = updated if call.query.get("sort") == "updated" else created
    return sorted(items, key=key, reverse=call.query.get("direction", "desc") == "desc")


@op("pulls/list")
def list_pulls(call: Call) -> Reply:
    s = call.standin
    repo = call.repo()
    state = call.query.get("state", "open")
    head = call.query.get("head")
    base = call.query.get("base")
    pulls = []
    for pull in repo.pulls.values():
        issue = repo.issues[pull.number]
        if state != "all" and issue.state != state:
            continue
        if base and pull.base_ref != base:
            continue
        if head:
            owner, _, branch = head.rpartition(":")
            head_owner = pull.head_repo.split("/")[0]
            if branch != pull.head_ref or (owner and owner.lower() != head_owner.lower()):
                continue
        pulls.append(pull)
    pulls = _sorted(
        pulls,
        call,
        lambda p: f"{repo.issues[p.number].created_at}{p.number:09d}",
        lambda p: repo.issues[p.number].updated_at,
    )
    chunk, headers = call.page(pulls)
    return Reply(200, [s.pull_json(repo, p, detailed=False) for p in chunk], headers)


@op("pulls/create")
def create_pull(call: Call) -> Reply:
    s = call.standin
    repo = call.repo()
    call.require(repo, ROLE_NEEDED["pulls/create"])
    body = call.body
    if "title" not in body:
        raise StandInError(
            422, "Validation Failed", [{"resource": "PullRequest", "field": "title", "code": "missing_field"}]
        )
    pull = s.create_pull(
        repo.full_name,
        head=body["head"],
        base=body["base"],
        title=body["title"],
        body=body.get("body"),
        author=call.login,
        draft=bool(body.get("draft")),
        maintainer_can_modify=bool(body.get("maintainer_can_modify")),
    )
    return Reply(201, s.pull_json(repo, pull))


def _pull(repo: Repo, number: int) -> Any:
    pull = repo.pulls.get(number)
    if pull is None:
        raise StandInError(404, "Not Found")
    return pull


@op("pulls/get")
def get_pull(call: Call) -> Reply:
    repo = call.repo()
    return Reply(200, call.standin.pull_json(repo, _pull(repo, call.params["pull_number"])))


@op("pulls/update")
def update_pull(call: Call) -> Reply:
    s = call.standin
    repo = call.repo()
    pull = _pull(repo, call.params["pull_number"])
    issue = repo.issues[pull.number]
    call.require(repo, AUTHOR_OR_ROLE["pulls/update"], author=issue.user)
    body = call.body or {}
    if "title" in body:
        issue.title = body["title"]
    if "body" in body:
        issue.body = body["body"]
    if "base" in body:
        if repo.git.branch_sha(body["base"]) is None:
            raise StandInError(
                422, "Validation Failed", [{"resource": "PullRequest", "field": "base", "code": "invalid"}]
            )
        pull.base_ref = body["base"]
    if "maintainer_can_modify" in body:
        pull.maintainer_can_modify = bool(body["maintainer_can_modify"])
    issue.updated_at = _iso_now()
    if body.get("state") in ("open", "closed") and body["state"] != issue.state:
        if pull.merged:
            raise StandInError(
                422,
                "Validation Failed",
                [
                    {
                        "resource": "PullRequest",
                        "code": "custom",
                        "message": "Cannot reopen a merged pull request",
                    }
                ],
            )
        s.set_issue_state(repo.full_name, pull.number, body["state"], by=call.login)
    return Reply(200, s.pull_json(repo, pull))


@op("pulls/list-files")
def list_pull_files(call: Call) -> Reply:
    repo = call.repo()
    pull = _pull(repo, call.params["pull_number"])
    base = pull.base_sha if pull.merged else (repo.git.branch_sha(pull.base_ref) or pull.base_sha)
    items = [
        shapes.diff_entry(
            call.standin.urls,
            repo.full_name,
            pull.head_sha,
            status,
            path,
            added,
            deleted,
            shapes.file_sha(repo.git, pull.head_sha, path),
        )
        for status, path, added, deleted in repo.git.changed_files(base, pull.head_sha)
    ]
    chunk, headers = call.page(items)
    return Reply(200, chunk, headers)


@op("pulls/list-commits")
def list_pull_commits(call: Call) -> Reply:
    repo = call.repo()
    pull = _pull(repo, call.params["pull_number"])
    base = pull.base_sha if pull.merged else (repo.git.branch_sha(pull.base_ref) or pull.base_sha)
    merge_base = repo.git.text("merge-base", base, pull.head_sha)
    shas = repo.git.commits_between(merge_base, pull.head_sha)
    chunk, headers = call.page(shas)
    return Reply(
        200,
        [shapes.commit(call.standin.urls, repo.full_name, repo.git.commit_info(sha)) for sha in chunk],
        headers,
    )


@op("pulls/check-if-merged")
def check_merged(call: Call) -> Reply:
    repo = call.repo()
    pull = _pull(repo, call.params["pull_number"])
    return Reply(204) if pull.merged else Reply(404)


@op("pulls/merge")
def merge_pull(call: Call) -> Reply:
    repo = call.repo()
    call.require(repo, "write")
    body = call.body or {}
    sha = call.standin.merge_pull(
        repo.full_name,
        call.params["pull_number"],
        by=call.login,
        method=body.get("merge_method", "merge"),
        title=body.get("commit_title"),
        message=body.get("commit_message"),
        sha=body.get("sha"),
    )
    return Reply(200, {"sha": sha, "merged": True, "message": "Pull Request successfully merged"})


@op("pulls/list-reviews")
def list_reviews(call: Call) -> Reply:
    repo = call.repo()
    pull = _pull(repo, call.params["pull_number"])
    chunk, headers = call.page(pull.reviews)
    return Reply(
        200,
        [shapes.review(call.standin.urls, repo.full_name, pull.number, r, call.standin.users) for r in chunk],
        headers,
    )


@op("pulls/create-review")
def create_review(call: Call) -> Reply:
    repo = call.repo()
    call.require(repo, ROLE_NEEDED["pulls/create-review"])
    pull = _pull(repo, call.params["pull_number"])
    event = (call.body or {}).get("event", "PENDING")
    state = {"APPROVE": "APPROVED", "REQUEST_CHANGES": "CHANGES_REQUESTED", "COMMENT": "COMMENTED"}.get(
        event, "PENDING"
    )
    review = call.standin.add_review(
        repo.full_name, pull.number, by=call.login, state=state, body=(call.body or {}).get("body", "")
    )
    return Reply(
        200, shapes.review(call.standin.urls, repo.full_name, pull.number, review, call.standin.users)
    )


# ---------------------------------------------------------------------------------------------------------
# issues, labels, comments, reactions
# ---------------------------------------------------------------------------------------------------------
@op("issues/list-for-repo")
def list_issues(call: Call) -> Reply:
    s = call.standin
    repo = call.repo()
    state = call.query.get("state", "open")
    wanted = [name.strip().lower() for name in call.query.get("labels", "").split(",") if name.strip()]
    creator = call.query.get("creator")
    since = call.query.get("since")
    issues = []
    for issue in repo.issues.values():
        if state != "all" and issue.state != state:
            continue
        if creator and issue.user != creator:
            continue
        if wanted and not set(wanted) <= {name.lower() for name in issue.labels}:
            continue
        if since and issue.updated_at < since:
            continue
        issues.append(issue)
    issues = _sorted(issues, call, lambda i: f"{i.created_at}{i.number:09d}", lambda i: i.updated_at)
    chunk, headers = call.page(issues)
    return Reply(200, [s.issue_json(repo, i) for i in chunk], headers)


@op("issues/create")
def create_issue(call: Call) -> Reply:
    s = call.standin
    repo = call.repo()
    call.require(repo, ROLE_NEEDED["issues/create"])
    labels = [lb if isinstance(lb, str) else lb.get("name", "") for lb in call.body.get("labels") or []]
    issue = s.create_issue(
        repo.full_name,
        title=str(call.body["title"]),
        body=call.body.get("body"),
        author=call.login,
        labels=labels,
    )
    return Reply(201, s.issue_json(repo, issue))


def _issue(repo: Repo, number: int) -> Issue:
    issue = repo.issues.get(number)
    if issue is None:
        raise StandInError(404, "Not Found")
    return issue


@op("issues/get")
def get_issue(call: Call) -> Reply:
    repo = call.repo()
    return Reply(200, call.standin.issue_json(repo, _issue(repo, call.params["issue_number"])))


@op("issues/update")
def update_issue(call: Call) -> Reply:
    s = call.standin
    repo = call.repo()
    issue = _issue(repo, call.params["issue_number"])
    call.require(repo, AUTHOR_OR_ROLE["issues/update"], author=issue.user)
    body = call.body or {}
    if "title" in body and body["title"] is not None:
        issue.title = str(body["title"])
    if "body" in body:
        issue.body = body["body"]
    if "labels" in body and body["labels"] is not None:
        issue.labels = [
            s.ensure_label(repo, lb if isinstance(lb, str) else lb.get("name", "")).name
            for lb in body["labels"]
        ]
    issue.updated_at = _iso_now()
    if body.get("state") in ("open", "closed"):
        if issue.is_pull and repo.pulls[issue.number].merged and body["state"] == "open":
            raise StandInError(422, "Cannot reopen a merged pull request")
        s.set_issue_state(
            repo.full_name, issue.number, body["state"], by=call.login, reason=body.get("state_reason")
        )
    return Reply(200, s.issue_json(repo, issue))


@op("issues/list-labels-on-issue")
def list_issue_labels(call: Call) -> Reply:
    s = call.standin
    repo = call.repo()
    issue = _issue(repo, call.params["issue_number"])
    chunk, headers = call.page(s.labels_of(repo, issue))
    return Reply(200, [shapes.label(s.urls, repo.full_name, lb) for lb in chunk], headers)


@op("issues/add-labels")
def add_labels(call: Call) -> Reply:
    s = call.standin
    repo = call.repo()
    call.require(repo, ROLE_NEEDED["issues/add-labels"])
    issue = _issue(repo, call.params["issue_number"])
    body = call.body
    names: list[Any] = body if isinstance(body, list) else (body or {}).get("labels", [])
    for name in names:
        name = name if isinstance(name, str) else name.get("name", "")
        label = s.ensure_label(repo, name)
        if label.name not in issue.labels:
            issue.labels.append(label.name)
    issue.updated_at = _iso_now()
    return Reply(200, [shapes.label(s.urls, repo.full_name, lb) for lb in s.labels_of(repo, issue)])


@op("issues/list-labels-for-repo")
def list_labels(call: Call) -> Reply:
    repo = call.repo()
    chunk, headers = call.page(sorted(repo.labels.values(), key=lambda lb: lb.name.lower()))
    return Reply(200, [shapes.label(call.standin.urls, repo.full_name, lb) for lb in chunk], headers)


@op("issues/create-label")
def create_label(call: Call) -> Reply:
    repo = call.repo()
    call.require(repo, "write")
    name = call.body["name"]
    if name.lower() in repo.labels:
        raise StandInError(
            422, "Validation Failed", [{"resource": "Label", "code": "already_exists", "field": "name"}]
        )
    label = Label(
        call.standin.ids(),
        name,
        (call.body.get("color") or "ededed").lstrip("#"),
        call.body.get("description"),
    )
    repo.labels[name.lower()] = label
    return Reply(201, shapes.label(call.standin.urls, repo.full_name, label))


@op("issues/get-label")
def get_label(call: Call) -> Reply:
    repo = call.repo()
    label = repo.labels.get(call.params["name"].lower())
    if label is None:
        raise StandInError(404, "Not Found")
    return Reply(200, shapes.label(call.standin.urls, repo.full_name, label))


@op("issues/list-comments")
def list_comments(call: Call) -> Reply:
    s = call.standin
    repo = call.repo()
    issue = _issue(repo, call.params["issue_number"])
    since = call.query.get("since")
    comments = [c for c in issue.comments if not since or c.updated_at >= since]
    chunk, headers = call.page(comments)
    return Reply(
        200,
        [shapes.comment(s.urls, repo.full_name, c, s.users, is_pull=issue.is_pull) for c in chunk],
        headers,
    )


MAX_COMMENT_CHARS = 65536


def _check_body_size(body: str) -> None:
    if len(body) > MAX_COMMENT_CHARS:
        raise StandInError(
            422,
            "Validation Failed",
            [
                {
                    "resource": "IssueComment",
                    "code": "unprocessable",
                    "field": "data",
                    "message": f"Body is too long (maximum is {MAX_COMMENT_CHARS} characters)",
                }
            ],
        )


@op("issues/create-comment")
def create_comment(call: Call) -> Reply:
    s = call.standin
    repo = call.repo()
    call.require(repo, ROLE_NEEDED["issues/create-comment"])
    issue = _issue(repo, call.params["issue_number"])
    _check_body_size(call.body["body"])
    comment = s.add_comment(repo.full_name, issue.number, call.body["body"], author=call.login)
    return Reply(201, shapes.comment(s.urls, repo.full_name, comment, s.users, is_pull=issue.is_pull))


def _comment(repo: Repo, comment_id: int) -> Any:
    comment = repo.comment(comment_id)
    if comment is None:
        raise StandInError(404, "Not Found")
    return comment


@op("issues/get-comment")
def get_comment(call: Call) -> Reply:
    s = call.standin
    repo = call.repo()
    comment = _comment(repo, call.params["comment_id"])
    is_pull = repo.issues[comment.issue_number].is_pull
    return Reply(200, shapes.comment(s.urls, repo.full_name, comment, s.users, is_pull=is_pull))


@op("issues/update-comment")
def update_comment(call: Call) -> Reply:
    s = call.standin
    repo = call.repo()
    comment = _comment(repo, call.params["comment_id"])
    call.require(repo, AUTHOR_OR_ROLE["issues/update-comment"], author=comment.user)
    _check_body_size(call.body["body"])
    s.edit_comment(repo.full_name, comment.id, call.body["body"], by=call.login)
    is_pull = repo.issues[comment.issue_number].is_pull
    return Reply(200, shapes.comment(s.urls, repo.full_name, comment, s.users, is_pull=is_pull))


@op("issues/delete-comment")
def delete_comment(call: Call) -> Reply:
    repo = call.repo()
    comment = _comment(repo, call.params["comment_id"])
    call.require(repo, AUTHOR_OR_ROLE["issues/delete-comment"], author=comment.user)
    call.standin.delete_comment(repo.full_name, comment.id)
    return Reply(204)


@op("reactions/list-for-issue-comment")
def list_reactions(call: Call) -> Reply:
    s = call.standin
    repo = call.repo()
    comment = _comment(repo, call.params["comment_id"])
    content = call.query.get("content")
    items = [r for r in comment.reactions if not content or r.content == content]
    chunk, headers = call.page(items)
    return Reply(200, [shapes.reaction(s.urls, r, s.users) for r in chunk], headers)


@op("reactions/create-for-issue-comment")
def create_reaction(call: Call) -> Reply:
    s = call.standin
    repo = call.repo()
    call.require(repo, ROLE_NEEDED["reactions/create-for-issue-comment"])
    reaction, created = s.react(
        repo.full_name, call.params["comment_id"], call.body["content"], by=call.login
    )
    return Reply(201 if created else 200, shapes.reaction(s.urls, reaction, s.users))


# ---------------------------------------------------------------------------------------------------------
# checks and statuses
# ---------------------------------------------------------------------------------------------------------
def _require_app(call: Call, repo: Repo) -> None:
    # Check runs are an Apps-only API: https://docs.github.com/en/rest/checks/runs#create-a-check-run
    if call.token is None or call.token.installation_id is None:
        raise StandInError(403, "You must authenticate via a GitHub App.")
    call.require(repo, "write")


def _check_run_json(call: Call, repo: Repo, run: Any) -> dict[str, Any]:
    s = call.standin
    app = s.apps.get(run.app_id or 0)
    app_json = shapes.integration(s.urls, app, s.ensure_owner(app.owner)) if app else None
    pulls = []
    for pull in repo.pulls.values():
        if pull.head_sha == run.head_sha and repo.issues[pull.number].state == "open":
            api = s.urls.repo(repo.full_name)
            pulls.append(
                {
                    "id": pull.id,
                    "number": pull.number,
                    "url": f"{api}/pulls/{pull.number}",
                    "head": {
                        "ref": pull.head_ref,
                        "sha": pull.head_sha,
                        "repo": {
                            "id": s.repo(pull.head_repo).id,
                            "url": s.urls.repo(pull.head_repo),
                            "name": pull.head_repo.split("/")[1],
                        },
                    },
                    "base": {
                        "ref": pull.base_ref,
                        "sha": pull.base_sha,
                        "repo": {"id": repo.id, "url": api, "name": repo.name},
                    },
                }
            )
    return shapes.check_run(s.urls, repo.full_name, run, app_json, pulls)


def _apply_check_fields(run: Any, body: dict[str, Any]) -> None:
    for key in ("name", "details_url", "external_id", "started_at"):
        if key in body:
            setattr(run, key, body[key])
    if "output" in body:
        run.output = {**run.output, **body["output"]}
    if "status" in body:
        run.status = body["status"]
    if body.get("conclusion"):
        run.conclusion = body["conclusion"]
        run.status = "completed"
    if run.status == "completed":
        run.completed_at = body.get("completed_at") or run.completed_at or _iso_now()
        if run.conclusion is None:
            raise StandInError(422, 'Invalid request.\n\n"conclusion" wasn\'t supplied.')


@op("checks/create")
def create_check_run(call: Call) -> Reply:
    s = call.standin
    repo = call.repo()
    _require_app(call, repo)
    if repo.git.object_type(call.body["head_sha"]) != "commit":
        raise StandInError(422, "No commit found for SHA: " + call.body["head_sha"])
    run = s.new_check_run(
        repo,
        head_sha=call.body["head_sha"],
        name=call.body["name"],
        status="queued",
        conclusion=None,
        started_at=_iso_now(),
        completed_at=None,
        output={},
        details_url=None,
        external_id=None,
        app_id=s.installations[call.token.installation_id].app_id
        if call.token and call.token.installation_id
        else None,
    )
    _apply_check_fields(run, call.body)
    return Reply(201, _check_run_json(call, repo, run))


@op("checks/update")
def update_check_run(call: Call) -> Reply:
    repo = call.repo()
    _require_app(call, repo)
    run = repo.check_runs.get(call.params["check_run_id"])
    if run is None:
        raise StandInError(404, "Not Found")
    _apply_check_fields(run, call.body or {})
    return Reply(200, _check_run_json(call, repo, run))


@op("checks/get")
def get_check_run(call: Call) -> Reply:
    repo = call.repo()
    run = repo.check_runs.get(call.params["check_run_id"])
    if run is None:
        raise StandInError(404, "Not Found")
    return Reply(200, _check_run_json(call, repo, run))


@op("checks/list-for-ref")
def list_check_runs(call: Call) -> Reply:
    repo = call.repo()
    sha = repo.git.resolve_commit(call.params["ref"])
    if sha is None:
        raise StandInError(422, f"No commit found for SHA: {call.params['ref']}")
    runs = [r for r in repo.check_runs.values() if r.head_sha == sha]
    if "check_name" in call.query:
        runs = [r for r in runs if r.name == call.query["check_name"]]
    if "status" in call.query:
        runs = [r for r in runs if r.status == call.query["status"]]
    if call.query.get("filter", "latest") == "latest":
        latest: dict[str, Any] = {}
        for run in runs:
            latest[run.name] = run
        runs = list(latest.values())
    runs.sort(key=lambda r: -r.id)
    chunk, headers = call.page(runs)
    return Reply(
        200,
        {"total_count": len(runs), "check_runs": [_check_run_json(call, repo, r) for r in chunk]},
        headers,
    )


@op("repos/create-commit-status")
def create_status(call: Call) -> Reply:
    s = call.standin
    repo = call.repo()
    call.require(repo, "write")
    sha = call.params["sha"]
    if repo.git.object_type(sha) != "commit":
        raise StandInError(422, f"No commit found for SHA: {sha}")
    status = Status(
        s.ids(),
        sha,
        call.body["state"],
        call.body.get("context") or "default",
        call.body.get("description"),
        call.body.get("target_url"),
        call.login,
    )
    repo.statuses.append(status)
    return Reply(201, shapes.status(s.urls, repo.full_name, status, s.users))


def _statuses_for(call: Call, repo: Repo) -> tuple[str, list[Status]]:
    sha = repo.git.resolve_commit(call.params["ref"])
    if sha is None:
        raise StandInError(404, "Not Found")
    return sha, sorted((st for st in repo.statuses if st.sha == sha), key=lambda st: -st.id)


@op("repos/list-commit-statuses-for-ref")
def list_statuses(call: Call) -> Reply:
    s = call.standin
    repo = call.repo()
    _, statuses = _statuses_for(call, repo)
    chunk, headers = call.page(statuses)
    return Reply(200, [shapes.status(s.urls, repo.full_name, st, s.users) for st in chunk], headers)


@op("repos/get-combined-status-for-ref")
def combined_status(call: Call) -> Reply:
    s = call.standin
    repo = call.repo()
    sha, statuses = _statuses_for(call, repo)
    latest: dict[str, Status] = {}
    for st in statuses:
        latest.setdefault(st.context, st)
    states = {st.state for st in latest.values()}
    state = (
        "failure"
        if states & {"failure", "error"}
        else "pending"
        if "pending" in states or not states
        else "success"
    )
    items = [
        {k: v for k, v in shapes.status(s.urls, repo.full_name, st, s.users).items() if k != "creator"}
        for st in latest.values()
    ]
    api = s.urls.repo(repo.full_name)
    minimal = s.repo_json(repo)
    return Reply(
        200,
        {
            "state": state,
            "statuses": items,
            "sha": sha,
            "total_count": len(items),
            "repository": minimal,
            "commit_url": f"{api}/commits/{sha}",
            "url": f"{api}/commits/{sha}/status",
        },
    )


# ---------------------------------------------------------------------------------------------------------
# deployments and environments
# ---------------------------------------------------------------------------------------------------------
@op("repos/list-deployments")
def list_deployments(call: Call) -> Reply:
    s = call.standin
    repo = call.repo()
    items = sorted(repo.deployments.values(), key=lambda d: -d.id)
    for key in ("sha", "ref", "task", "environment"):
        if key in call.query and call.query[key] not in (None, "none"):
            items = [d for d in items if getattr(d, key) == call.query[key]]
    chunk, headers = call.page(items)
    return Reply(200, [shapes.deployment(s.urls, repo.full_name, d, s.users) for d in chunk], headers)


@op("repos/create-deployment")
def create_deployment(call: Call) -> Reply:
    s = call.standin
    repo = call.repo()
    call.require(repo, "write")
    body = call.body
    sha = repo.git.resolve_commit(body["ref"])
    if sha is None:
        raise StandInError(422, f"No ref found for: {body['ref']}")
    environment = body.get("environment", "production")
    payload = body.get("payload", {})
    if isinstance(payload, str):
        with contextlib.suppress(ValueError):  # GitHub keeps a non-JSON string payload as it is
            payload = json.loads(payload) if payload else {}
    deployment = s.new_deployment(
        repo,
        ref=body["ref"],
        sha=sha,
        task=body.get("task", "deploy"),
        environment=environment,
        payload=payload,
        description=body.get("description"),
        creator=call.login,
        transient_environment=bool(body.get("transient_environment", False)),
        production_environment=bool(body.get("production_environment", environment == "production")),
    )
    if environment not in repo.environments:
        repo.environments[environment] = Environment(s.ids(), environment)
    return Reply(201, shapes.deployment(s.urls, repo.full_name, deployment, s.users))


def _deployment(repo: Repo, deployment_id: int) -> Any:
    deployment = repo.deployments.get(deployment_id)
    if deployment is None:
        raise StandInError(404, "Not Found")
    return deployment


@op("repos/get-deployment")
def get_deployment(call: Call) -> Reply:
    s = call.standin
    repo = call.repo()
    deployment = _deployment(repo, call.params["deployment_id"])
    return Reply(200, shapes.deployment(s.urls, repo.full_name, deployment, s.users))


@op("repos/list-deployment-statuses")
def list_deployment_statuses(call: Call) -> Reply:
    s = call.standin
    repo = call.repo()
    deployment = _deployment(repo, call.params["deployment_id"])
    chunk, headers = call.page(sorted(deployment.statuses, key=lambda st: -st.id))
    return Reply(
        200,
        [shapes.deployment_status(s.urls, repo.full_name, deployment, st, s.users) for st in chunk],
        headers,
    )


@op("repos/create-deployment-status")
def create_deployment_status(call: Call) -> Reply:
    s = call.standin
    repo = call.repo()
    call.require(repo, "write")
    deployment = _deployment(repo, call.params["deployment_id"])
    body = call.body
    status = DeploymentStatus(
        s.ids(),
        body["state"],
        body.get("description", ""),
        body.get("log_url") or body.get("target_url", ""),
        body.get("environment_url", ""),
        body.get("environment") or deployment.environment,
        call.login,
    )
    deployment.statuses.append(status)
    deployment.updated_at = status.created_at
    # auto_inactive (default true): earlier successful deployments to the environment become inactive.
    if status.state == "success" and body.get("auto_inactive", True):
        for other in repo.deployments.values():
            if other is deployment or other.environment != deployment.environment or not other.statuses:
                continue
            if max(other.statuses, key=lambda st: st.id).state == "success":
                other.statuses.append(
                    DeploymentStatus(s.ids(), "inactive", "", "", "", other.environment, call.login)
                )
    return Reply(201, shapes.deployment_status(s.urls, repo.full_name, deployment, status, s.users))


@op("repos/get-environment")
def get_environment(call: Call) -> Reply:
    repo = call.repo()
    env = repo.environments.get(call.params["environment_name"])
    if env is None:
        raise StandInError(404, "Not Found")
    return Reply(200, shapes.environment(call.standin.urls, repo.full_name, env))


@op("repos/create-or-update-environment")
def put_environment(call: Call) -> Reply:
    repo = call.repo()
    call.require(repo, "admin")
    name = call.params["environment_name"]
    env = repo.environments.get(name)
    if env is None:
        env = Environment(call.standin.ids(), name)
        repo.environments[name] = env
    env.updated_at = _iso_now()
    return Reply(200, shapes.environment(call.standin.urls, repo.full_name, env))


# ---------------------------------------------------------------------------------------------------------
# workflows
# ---------------------------------------------------------------------------------------------------------
def _workflows(call: Call, repo: Repo) -> list[dict[str, Any]]:
    """Workflow files on the default branch, as GitHub lists them (ids stable per path)."""
    import zlib

    sha = repo.git.branch_sha(repo.default_branch)
    entry = repo.git.entry_at(sha, ".github/workflows") if sha else None
    if entry is None or entry.type != "tree":
        return []
    found = []
    for child in repo.git.ls_tree(entry.sha):
        if not child.path.endswith((".yml", ".yaml")) or child.type != "blob":
            continue
        path = f".github/workflows/{child.path}"
        text = repo.git.read_blob(child.sha).decode(errors="replace")
        name = next(
            (
                line.split(":", 1)[1].strip().strip("'\"")
                for line in text.splitlines()
                if line.startswith("name:")
            ),
            path,
        )
        workflow_id = zlib.crc32(f"{repo.full_name}/{path}".encode())
        item = shapes.workflow(call.standin.urls, repo.full_name, workflow_id, path, name, repo.created_at)
        item["_text"] = text
        found.append(item)
    return found


def _find_workflow(call: Call, repo: Repo) -> dict[str, Any]:
    wanted = str(call.params["workflow_id"])
    for item in _workflows(call, repo):
        if wanted in (str(item["id"]), item["path"].rsplit("/", 1)[-1]):
            return item
    raise StandInError(404, "Not Found")


@op("actions/list-repo-workflows")
def list_workflows(call: Call) -> Reply:
    repo = call.repo()
    items = [{k: v for k, v in w.items() if k != "_text"} for w in _workflows(call, repo)]
    chunk, headers = call.page(items)
    return Reply(200, {"total_count": len(items), "workflows": chunk}, headers)


@op("actions/get-workflow")
def get_workflow(call: Call) -> Reply:
    repo = call.repo()
    item = _find_workflow(call, repo)
    return Reply(200, {k: v for k, v in item.items() if k != "_text"})


@op("actions/create-workflow-dispatch")
def dispatch_workflow(call: Call) -> Reply:
    repo = call.repo()
    call.require(repo, "write")
    item = _find_workflow(call, repo)
    if "workflow_dispatch" not in item["_text"]:
        raise StandInError(422, "Workflow does not have 'workflow_dispatch' trigger")
    ref = call.body["ref"]
    if repo.git.resolve_commit(ref) is None and repo.git.branch_sha(ref.removeprefix("refs/heads/")) is None:
        raise StandInError(422, f"No ref found for: {ref}")
    inputs = dict(call.body.get("inputs") or {})
    dispatch = Dispatch(item["path"], ref, inputs, call.login)
    repo.dispatches.append(dispatch)
    workflow = {k: v for k, v in item.items() if k != "_text"}
    run = call.standin.start_workflow_run(repo, workflow, item["_text"], ref, inputs, actor=call.login)
    dispatch.run_id = run.id
    return Reply(204)
