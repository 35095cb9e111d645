"""Who is calling: tokens and app JWTs, and what a narrowed installation token may touch."""

from __future__ import annotations

from typing import TYPE_CHECKING

from bot.standin.domain.state import StandInError
from bot.standin.model import Token
from bot.standin.rest.call import Call

if TYPE_CHECKING:
    from bot.standin.server import StandIn


# Operations that take the app's JWT, not a token.
JWT_OPERATIONS = {
    "apps/get-authenticated",
    "apps/create-installation-access-token",
    "apps/get-repo-installation",
}
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
LEVELS = {"read": 1, "write": 2, "admin": 3}


def check_token_scope(call: Call) -> None:
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
    if LEVELS.get(token.permissions.get(permission, ""), 0) < needed:
        raise StandInError(403, "Resource not accessible by integration")


def authenticate(standin: StandIn, operation: str, header: str) -> tuple[Token | None, int | None]:
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
