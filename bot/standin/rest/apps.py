"""REST handlers: the GitHub App, its installations and tokens, and the authenticated user."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from bot.standin import shapes
from bot.standin.domain.state import StandInError
from bot.standin.rest.auth import LEVELS
from bot.standin.rest.call import Call, Reply, op


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
            if LEVELS.get(level, 9) > LEVELS.get(granted, 0):
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
    user = call.standin.users[call.login]
    return Reply(200, shapes.private_user(call.standin.urls, user), last_modified=user.created_at)
