"""REST handlers: repositories, branches and collaborators."""

from __future__ import annotations

from bot.standin import shapes
from bot.standin.domain.state import StandInError
from bot.standin.model import ROLES
from bot.standin.rest.call import Call, Reply, op


@op("repos/get")
def get_repo(call: Call) -> Reply:
    repo = call.repo()
    viewer = call.token.login if call.token else None
    body = call.standin.repo_json(repo, full=True, viewer=viewer)
    return Reply(200, body, last_modified=max(repo.updated_at, repo.pushed_at))


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
