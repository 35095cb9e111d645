"""JSON shapes of GitHub objects, copied from the REST description's examples, with the stand-in's URLs.

The same builders feed REST responses and webhook payloads; a webhook payload is then trimmed to the
properties its schema allows (see `webhooks.conform`).
"""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass
from typing import Any

from bot.standin.gitstore import CommitInfo, GitRepo
from bot.standin.model import (
    App,
    CheckRun,
    Comment,
    Deployment,
    DeploymentStatus,
    Environment,
    Installation,
    Issue,
    Label,
    Pull,
    Reaction,
    Repo,
    Review,
    Status,
    User,
    WorkflowRun,
)

APP_PERMISSIONS = {
    "checks": "write",
    "contents": "write",
    "deployments": "write",
    "issues": "write",
    "metadata": "read",
    "pull_requests": "write",
    "statuses": "write",
    "actions": "write",
}
APP_EVENTS = ["issue_comment", "issues", "pull_request", "push", "workflow_run"]


def node_id(kind: str, ident: int | str) -> str:
    return base64.b64encode(f"{kind}:{ident}".encode()).decode().rstrip("=")


@dataclass(frozen=True)
class Urls:
    """Where the stand-in lives: `api` ends in /api/v3, `html` is the web root."""

    api: str
    html: str

    def repo(self, full_name: str) -> str:
        return f"{self.api}/repos/{full_name}"


def user(urls: Urls, u: User) -> dict[str, Any]:
    api = f"{urls.api}/users/{u.login}"
    return {
        "login": u.login,
        "id": u.id,
        "node_id": node_id("User", u.id),
        "avatar_url": f"{urls.html}/avatars/u/{u.id}?v=4",
        "gravatar_id": "",
        "url": api,
        "html_url": f"{urls.html}/{u.login}",
        "followers_url": f"{api}/followers",
        "following_url": f"{api}/following{{/other_user}}",
        "gists_url": f"{api}/gists{{/gist_id}}",
        "starred_url": f"{api}/starred{{/owner}}{{/repo}}",
        "subscriptions_url": f"{api}/subscriptions",
        "organizations_url": f"{api}/orgs",
        "repos_url": f"{api}/repos",
        "events_url": f"{api}/events{{/privacy}}",
        "received_events_url": f"{api}/received_events",
        "type": u.type,
        "user_view_type": "public",
        "site_admin": False,
    }


def private_user(urls: Urls, u: User) -> dict[str, Any]:
    return {
        **user(urls, u),
        "name": u.login,
        "company": None,
        "blog": "",
        "location": None,
        "email": None,
        "hireable": None,
        "bio": None,
        "twitter_username": None,
        "public_repos": 0,
        "public_gists": 0,
        "followers": 0,
        "following": 0,
        "created_at": u.created_at,
        "updated_at": u.created_at,
        "private_gists": 0,
        "total_private_repos": 0,
        "owned_private_repos": 0,
        "disk_usage": 0,
        "collaborators": 0,
        "two_factor_authentication": True,
    }


def repository(urls: Urls, r: Repo, owner: User, *, parent: dict[str, Any] | None = None) -> dict[str, Any]:
    api = urls.repo(r.full_name)
    html = f"{urls.html}/{r.full_name}"
    out: dict[str, Any] = {
        "id": r.id,
        "node_id": node_id("Repository", r.id),
        "name": r.name,
        "full_name": r.full_name,
        "private": r.private,
        "owner": user(urls, owner),
        "html_url": html,
        "description": None,
        "fork": r.fork_of is not None,
        "url": api,
        "forks_url": f"{api}/forks",
        "keys_url": f"{api}/keys{{/key_id}}",
        "collaborators_url": f"{api}/collaborators{{/collaborator}}",
        "teams_url": f"{api}/teams",
        "hooks_url": f"{api}/hooks",
        "issue_events_url": f"{api}/issues/events{{/number}}",
        "events_url": f"{api}/events",
        "assignees_url": f"{api}/assignees{{/user}}",
        "branches_url": f"{api}/branches{{/branch}}",
        "tags_url": f"{api}/tags",
        "blobs_url": f"{api}/git/blobs{{/sha}}",
        "git_tags_url": f"{api}/git/tags{{/sha}}",
        "git_refs_url": f"{api}/git/refs{{/sha}}",
        "trees_url": f"{api}/git/trees{{/sha}}",
        "statuses_url": f"{api}/statuses/{{sha}}",
        "languages_url": f"{api}/languages",
        "stargazers_url": f"{api}/stargazers",
        "contributors_url": f"{api}/contributors",
        "subscribers_url": f"{api}/subscribers",
        "subscription_url": f"{api}/subscription",
        "commits_url": f"{api}/commits{{/sha}}",
        "git_commits_url": f"{api}/git/commits{{/sha}}",
        "comments_url": f"{api}/comments{{/number}}",
        "issue_comment_url": f"{api}/issues/comments{{/number}}",
        "contents_url": f"{api}/contents/{{+path}}",
        "compare_url": f"{api}/compare/{{base}}...{{head}}",
        "merges_url": f"{api}/merges",
        "archive_url": f"{api}/{{archive_format}}{{/ref}}",
        "downloads_url": f"{api}/downloads",
        "issues_url": f"{api}/issues{{/number}}",
        "pulls_url": f"{api}/pulls{{/number}}",
        "milestones_url": f"{api}/milestones{{/number}}",
        "notifications_url": f"{api}/notifications{{?since,all,participating}}",
        "labels_url": f"{api}/labels{{/name}}",
        "releases_url": f"{api}/releases{{/id}}",
        "deployments_url": f"{api}/deployments",
        "created_at": r.created_at,
        "updated_at": r.updated_at,
        "pushed_at": r.pushed_at,
        # The bot clones and pushes over this URL: a real repository on disk.
        "git_url": r.path.as_uri(),
        "ssh_url": r.path.as_uri(),
        "clone_url": r.path.as_uri(),
        "svn_url": html,
        "homepage": None,
        "size": 0,
        "stargazers_count": 0,
        "watchers_count": 0,
        "language": None,
        "has_issues": True,
        "has_projects": True,
        "has_downloads": True,
        "has_wiki": True,
        "has_pages": False,
        "has_discussions": False,
        "forks_count": 0,
        "mirror_url": None,
        "archived": False,
        "disabled": False,
        "open_issues_count": sum(1 for i in r.issues.values() if i.state == "open"),
        "license": None,
        "allow_forking": True,
        "is_template": False,
        "web_commit_signoff_required": False,
        "topics": [],
        "visibility": "private" if r.private else "public",
        "forks": 0,
        "open_issues": sum(1 for i in r.issues.values() if i.state == "open"),
        "watchers": 0,
        "default_branch": r.default_branch,
        "custom_properties": {},
    }
    if parent is not None:
        out["parent"] = parent
        out["source"] = parent
    return out


def full_repository(
    urls: Urls, r: Repo, owner: User, permission: str | None, parent: dict[str, Any] | None
) -> dict[str, Any]:
    out = repository(urls, r, owner, parent=parent)
    out.update(
        {
            "allow_squash_merge": True,
            "allow_merge_commit": True,
            "allow_rebase_merge": True,
            "allow_auto_merge": False,
            "delete_branch_on_merge": False,
            "network_count": 0,
            "subscribers_count": 0,
        }
    )
    if permission is not None:
        ranks = ["none", "read", "triage", "write", "maintain", "admin"]
        level = ranks.index(permission)
        out["permissions"] = {
            "admin": level >= 5,
            "maintain": level >= 4,
            "push": level >= 3,
            "triage": level >= 2,
            "pull": level >= 1,
        }
    return out


def label(urls: Urls, full_name: str, lb: Label) -> dict[str, Any]:
    return {
        "id": lb.id,
        "node_id": node_id("Label", lb.id),
        "url": f"{urls.repo(full_name)}/labels/{lb.name}",
        "name": lb.name,
        "color": lb.color,
        "default": lb.default,
        "description": lb.description,
    }


def reactions_rollup(urls: Urls, url: str, reactions: list[Reaction]) -> dict[str, Any]:
    counts = dict.fromkeys(["+1", "-1", "laugh", "confused", "heart", "hooray", "eyes", "rocket"], 0)
    for reaction in reactions:
        counts[reaction.content] += 1
    return {"url": f"{url}/reactions", "total_count": len(reactions), **counts}


def issue(
    urls: Urls, full_name: str, i: Issue, users: dict[str, User], labels: list[Label]
) -> dict[str, Any]:
    api = f"{urls.repo(full_name)}/issues/{i.number}"
    kind = "pull" if i.is_pull else "issues"
    out: dict[str, Any] = {
        "id": i.id,
        "node_id": node_id("Issue", i.id),
        "url": api,
        "repository_url": urls.repo(full_name),
        "labels_url": f"{api}/labels{{/name}}",
        "comments_url": f"{api}/comments",
        "events_url": f"{api}/events",
        "html_url": f"{urls.html}/{full_name}/{kind}/{i.number}",
        "number": i.number,
        "state": i.state,
        "state_reason": i.state_reason,
        "title": i.title,
        "body": i.body,
        "user": user(urls, users[i.user]),
        "labels": [label(urls, full_name, lb) for lb in labels],
        "assignee": None,
        "assignees": [],
        "milestone": None,
        "locked": False,
        "active_lock_reason": None,
        "comments": len(i.comments),
        "closed_at": i.closed_at,
        "created_at": i.created_at,
        "updated_at": i.updated_at,
        "closed_by": user(urls, users[i.closed_by]) if i.closed_by else None,
        "author_association": "OWNER" if full_name.split("/")[0] == i.user else "CONTRIBUTOR",
        "timeline_url": f"{api}/timeline",
        "performed_via_github_app": None,
        "reactions": reactions_rollup(urls, api, []),
    }
    if i.is_pull:
        pull_api = f"{urls.repo(full_name)}/pulls/{i.number}"
        html = f"{urls.html}/{full_name}/pull/{i.number}"
        out["pull_request"] = {
            "url": pull_api,
            "html_url": html,
            "diff_url": f"{html}.diff",
            "patch_url": f"{html}.patch",
            "merged_at": None,
        }
        out["draft"] = False
    return out


def comment(
    urls: Urls, full_name: str, c: Comment, users: dict[str, User], *, is_pull: bool
) -> dict[str, Any]:
    api = f"{urls.repo(full_name)}/issues/comments/{c.id}"
    kind = "pull" if is_pull else "issues"
    return {
        "id": c.id,
        "node_id": node_id("IssueComment", c.id),
        "url": api,
        "html_url": f"{urls.html}/{full_name}/{kind}/{c.issue_number}#issuecomment-{c.id}",
        "body": c.body,
        "user": user(urls, users[c.user]),
        "created_at": c.created_at,
        "updated_at": c.updated_at,
        "issue_url": f"{urls.repo(full_name)}/issues/{c.issue_number}",
        "author_association": "OWNER" if full_name.split("/")[0] == c.user else "CONTRIBUTOR",
        "performed_via_github_app": None,
        "reactions": reactions_rollup(urls, api, c.reactions),
    }


def reaction(urls: Urls, r: Reaction, users: dict[str, User]) -> dict[str, Any]:
    return {
        "id": r.id,
        "node_id": node_id("Reaction", r.id),
        "user": user(urls, users[r.user]),
        "content": r.content,
        "created_at": r.created_at,
    }


def pull_request(
    urls: Urls,
    base_repo: Repo,
    head_repo: Repo,
    p: Pull,
    i: Issue,
    users: dict[str, User],
    labels: list[Label],
    *,
    repo_json: dict[str, Any],
    head_repo_json: dict[str, Any],
    stats: tuple[int, int, int, int],  # commits, additions, deletions, changed files
    mergeable: bool | None,
) -> dict[str, Any]:
    full_name = base_repo.full_name
    api = f"{urls.repo(full_name)}/pulls/{p.number}"
    html = f"{urls.html}/{full_name}/pull/{p.number}"
    issue_api = f"{urls.repo(full_name)}/issues/{p.number}"
    commits, additions, deletions, changed = stats
    return {
        "url": api,
        "id": p.id,
        "node_id": node_id("PullRequest", p.id),
        "html_url": html,
        "diff_url": f"{html}.diff",
        "patch_url": f"{html}.patch",
        "issue_url": issue_api,
        "commits_url": f"{api}/commits",
        "review_comments_url": f"{api}/comments",
        "review_comment_url": f"{urls.repo(full_name)}/pulls/comments{{/number}}",
        "comments_url": f"{issue_api}/comments",
        "statuses_url": f"{urls.repo(full_name)}/statuses/{p.head_sha}",
        "number": p.number,
        "state": i.state,
        "locked": False,
        "title": i.title,
        "user": user(urls, users[i.user]),
        "body": i.body,
        "labels": [label(urls, full_name, lb) for lb in labels],
        "milestone": None,
        "active_lock_reason": None,
        "created_at": i.created_at,
        "updated_at": i.updated_at,
        "closed_at": i.closed_at,
        "merged_at": p.merged_at,
        "merge_commit_sha": p.merge_commit_sha,
        "assignee": None,
        "assignees": [],
        "requested_reviewers": [],
        "requested_teams": [],
        "head": {
            "label": f"{head_repo.owner}:{p.head_ref}",
            "ref": p.head_ref,
            "sha": p.head_sha,
            "user": user(urls, users[head_repo.owner]),
            "repo": head_repo_json,
        },
        "base": {
            "label": f"{base_repo.owner}:{p.base_ref}",
            "ref": p.base_ref,
            "sha": p.base_sha,
            "user": user(urls, users[base_repo.owner]),
            "repo": repo_json,
        },
        "_links": {
            "self": {"href": api},
            "html": {"href": html},
            "issue": {"href": issue_api},
            "comments": {"href": f"{issue_api}/comments"},
            "review_comments": {"href": f"{api}/comments"},
            "review_comment": {"href": f"{urls.repo(full_name)}/pulls/comments{{/number}}"},
            "commits": {"href": f"{api}/commits"},
            "statuses": {"href": f"{urls.repo(full_name)}/statuses/{p.head_sha}"},
        },
        "author_association": "OWNER" if base_repo.owner == i.user else "CONTRIBUTOR",
        "auto_merge": None,
        "draft": p.draft,
        "merged": p.merged,
        "mergeable": mergeable,
        "rebaseable": mergeable,
        "mergeable_state": "clean" if mergeable else ("dirty" if mergeable is False else "unknown"),
        "merged_by": user(urls, users[p.merged_by]) if p.merged_by else None,
        "comments": len(i.comments),
        "review_comments": 0,
        "maintainer_can_modify": p.maintainer_can_modify,
        "commits": commits,
        "additions": additions,
        "deletions": deletions,
        "changed_files": changed,
    }


def review(urls: Urls, full_name: str, number: int, rv: Review, users: dict[str, User]) -> dict[str, Any]:
    html = f"{urls.html}/{full_name}/pull/{number}"
    return {
        "id": rv.id,
        "node_id": node_id("PullRequestReview", rv.id),
        "user": user(urls, users[rv.user]),
        "body": rv.body,
        "state": rv.state,
        "html_url": f"{html}#pullrequestreview-{rv.id}",
        "pull_request_url": f"{urls.repo(full_name)}/pulls/{number}",
        "_links": {
            "html": {"href": f"{html}#pullrequestreview-{rv.id}"},
            "pull_request": {"href": f"{urls.repo(full_name)}/pulls/{number}"},
        },
        "submitted_at": rv.submitted_at,
        "commit_id": rv.commit_id,
        "author_association": "COLLABORATOR",
    }


def git_user(sig: Any) -> dict[str, str]:
    return {"name": sig.name, "email": sig.email, "date": sig.date}


def git_commit(urls: Urls, full_name: str, info: CommitInfo) -> dict[str, Any]:
    api = urls.repo(full_name)
    return {
        "sha": info.sha,
        "node_id": node_id("Commit", info.sha),
        "url": f"{api}/git/commits/{info.sha}",
        "html_url": f"{urls.html}/{full_name}/commit/{info.sha}",
        "author": git_user(info.author),
        "committer": git_user(info.committer),
        "tree": {"sha": info.tree, "url": f"{api}/git/trees/{info.tree}"},
        "message": info.message.removesuffix("\n"),
        "parents": [
            {"sha": p, "url": f"{api}/git/commits/{p}", "html_url": f"{urls.html}/{full_name}/commit/{p}"}
            for p in info.parents
        ],
        "verification": {
            "verified": False,
            "reason": "unsigned",
            "signature": None,
            "payload": None,
            "verified_at": None,
        },
    }


def commit(
    urls: Urls, full_name: str, info: CommitInfo, files: list[dict[str, Any]] | None = None
) -> dict[str, Any]:
    api = urls.repo(full_name)
    out: dict[str, Any] = {
        "url": f"{api}/commits/{info.sha}",
        "sha": info.sha,
        "node_id": node_id("Commit", info.sha),
        "html_url": f"{urls.html}/{full_name}/commit/{info.sha}",
        "comments_url": f"{api}/commits/{info.sha}/comments",
        "commit": {
            "url": f"{api}/git/commits/{info.sha}",
            "author": git_user(info.author),
            "committer": git_user(info.committer),
            "message": info.message.removesuffix("\n"),
            "tree": {"sha": info.tree, "url": f"{api}/git/trees/{info.tree}"},
            "comment_count": 0,
            "verification": {
                "verified": False,
                "reason": "unsigned",
                "signature": None,
                "payload": None,
                "verified_at": None,
            },
        },
        "author": None,
        "committer": None,
        "parents": [
            {"sha": p, "url": f"{api}/commits/{p}", "html_url": f"{urls.html}/{full_name}/commit/{p}"}
            for p in info.parents
        ],
    }
    if files is not None:
        additions = sum(f["additions"] for f in files)
        deletions = sum(f["deletions"] for f in files)
        out["stats"] = {"additions": additions, "deletions": deletions, "total": additions + deletions}
        out["files"] = files
    return out


def diff_entry(
    urls: Urls, full_name: str, ref: str, status: str, path: str, added: int, deleted: int, sha: str | None
) -> dict[str, Any]:
    names = {"A": "added", "D": "removed", "M": "modified", "R": "renamed", "C": "copied", "T": "changed"}
    return {
        "sha": sha,
        "filename": path,
        "status": names.get(status, "modified"),
        "additions": added,
        "deletions": deleted,
        "changes": added + deleted,
        "blob_url": f"{urls.html}/{full_name}/blob/{ref}/{path}",
        "raw_url": f"{urls.html}/{full_name}/raw/{ref}/{path}",
        "contents_url": f"{urls.repo(full_name)}/contents/{path}?ref={ref}",
    }


def git_ref(urls: Urls, full_name: str, ref: str, sha: str, kind: str = "commit") -> dict[str, Any]:
    api = urls.repo(full_name)
    return {
        "ref": ref,
        "node_id": node_id("Ref", f"{full_name}:{ref}"),
        "url": f"{api}/git/{ref}",
        "object": {"type": kind, "sha": sha, "url": f"{api}/git/{kind}s/{sha}"},
    }


def content_file(urls: Urls, full_name: str, path: str, sha: str, data: bytes, ref: str) -> dict[str, Any]:
    api = f"{urls.repo(full_name)}/contents/{path}"
    html = f"{urls.html}/{full_name}/blob/{ref}/{path}"
    git = f"{urls.repo(full_name)}/git/blobs/{sha}"
    encoded = base64.encodebytes(data).decode()  # GitHub wraps base64 content at 60 columns with newlines
    return {
        "type": "file",
        "encoding": "base64",
        "size": len(data),
        "name": path.rsplit("/", 1)[-1],
        "path": path,
        "content": encoded,
        "sha": sha,
        "url": f"{api}?ref={ref}",
        "git_url": git,
        "html_url": html,
        "download_url": f"{urls.html}/{full_name}/raw/{ref}/{path}",
        "_links": {"git": git, "self": f"{api}?ref={ref}", "html": html},
    }


def content_entry(
    urls: Urls, full_name: str, path: str, kind: str, sha: str, size: int, ref: str
) -> dict[str, Any]:
    api = f"{urls.repo(full_name)}/contents/{path}"
    git_kind = "trees" if kind == "dir" else "blobs"
    html = f"{urls.html}/{full_name}/{'tree' if kind == 'dir' else 'blob'}/{ref}/{path}"
    return {
        "type": kind,
        "size": size,
        "name": path.rsplit("/", 1)[-1],
        "path": path,
        "sha": sha,
        "url": f"{api}?ref={ref}",
        "git_url": f"{urls.repo(full_name)}/git/{git_kind}/{sha}",
        "html_url": html,
        "download_url": f"{urls.html}/{full_name}/raw/{ref}/{path}" if kind == "file" else None,
        "_links": {
            "git": f"{urls.repo(full_name)}/git/{git_kind}/{sha}",
            "self": f"{api}?ref={ref}",
            "html": html,
        },
    }


def branch_short(urls: Urls, full_name: str, name: str, sha: str) -> dict[str, Any]:
    return {
        "name": name,
        "commit": {"sha": sha, "url": f"{urls.repo(full_name)}/commits/{sha}"},
        "protected": False,
        "protection_url": f"{urls.repo(full_name)}/branches/{name}/protection",
    }


def branch_full(urls: Urls, full_name: str, name: str, info: CommitInfo) -> dict[str, Any]:
    return {
        "name": name,
        "commit": commit(urls, full_name, info),
        "_links": {
            "self": f"{urls.repo(full_name)}/branches/{name}",
            "html": f"{urls.html}/{full_name}/tree/{name}",
        },
        "protected": False,
        "protection": {
            "enabled": False,
            "required_status_checks": {"enforcement_level": "off", "contexts": [], "checks": []},
        },
        "protection_url": f"{urls.repo(full_name)}/branches/{name}/protection",
    }


def integration(urls: Urls, app: App, owner: User) -> dict[str, Any]:
    return {
        "id": app.id,
        "slug": app.slug,
        "node_id": node_id("App", app.id),
        "client_id": f"Iv1.{hashlib.sha256(str(app.id).encode()).hexdigest()[:16]}",
        "owner": user(urls, owner),
        "name": app.slug,
        "description": "",
        "external_url": f"{urls.html}/apps/{app.slug}",
        "html_url": f"{urls.html}/apps/{app.slug}",
        "created_at": app.created_at,
        "updated_at": app.created_at,
        "permissions": dict(APP_PERMISSIONS),
        "events": list(APP_EVENTS),
        "installations_count": 1,
    }


def installation(urls: Urls, inst: Installation, app: App, account: User) -> dict[str, Any]:
    return {
        "id": inst.id,
        "client_id": f"Iv1.{hashlib.sha256(str(app.id).encode()).hexdigest()[:16]}",
        "account": user(urls, account),
        "repository_selection": "selected",
        "access_tokens_url": f"{urls.api}/app/installations/{inst.id}/access_tokens",
        "repositories_url": f"{urls.api}/installation/repositories",
        "html_url": f"{urls.html}/settings/installations/{inst.id}",
        "app_id": app.id,
        "app_slug": app.slug,
        "target_id": account.id,
        "target_type": "User",
        "permissions": dict(APP_PERMISSIONS),
        "events": list(APP_EVENTS),
        "created_at": inst.created_at,
        "updated_at": inst.created_at,
        "single_file_name": None,
        "has_multiple_single_files": False,
        "single_file_paths": [],
        "suspended_by": None,
        "suspended_at": None,
    }


def check_run(
    urls: Urls, full_name: str, run: CheckRun, app_json: dict[str, Any] | None, pulls: list[dict[str, Any]]
) -> dict[str, Any]:
    api = f"{urls.repo(full_name)}/check-runs/{run.id}"
    return {
        "id": run.id,
        "head_sha": run.head_sha,
        "node_id": node_id("CheckRun", run.id),
        "external_id": run.external_id or "",
        "url": api,
        "html_url": f"{urls.html}/{full_name}/runs/{run.id}",
        "details_url": run.details_url or f"{urls.html}/{full_name}/runs/{run.id}",
        "status": run.status,
        "conclusion": run.conclusion,
        "started_at": run.started_at,
        "completed_at": run.completed_at,
        "output": {
            "title": run.output.get("title"),
            "summary": run.output.get("summary"),
            "text": run.output.get("text"),
            "annotations_count": len(run.output.get("annotations", [])),
            "annotations_url": f"{api}/annotations",
        },
        "name": run.name,
        "check_suite": {"id": run.id + 500_000},
        "app": app_json,
        "pull_requests": pulls,
    }


def status(urls: Urls, full_name: str, st: Status, users: dict[str, User]) -> dict[str, Any]:
    creator = user(urls, users[st.creator])
    return {
        "url": f"{urls.repo(full_name)}/statuses/{st.sha}",
        "avatar_url": creator["avatar_url"],
        "id": st.id,
        "node_id": node_id("StatusContext", st.id),
        "state": st.state,
        "description": st.description,
        "target_url": st.target_url,
        "context": st.context,
        "created_at": st.created_at,
        "updated_at": st.created_at,
        "creator": creator,
    }


def deployment(urls: Urls, full_name: str, d: Deployment, users: dict[str, User]) -> dict[str, Any]:
    api = f"{urls.repo(full_name)}/deployments/{d.id}"
    return {
        "url": api,
        "id": d.id,
        "node_id": node_id("Deployment", d.id),
        "sha": d.sha,
        "ref": d.ref,
        "task": d.task,
        "payload": d.payload,
        "original_environment": d.environment,
        "environment": d.environment,
        "description": d.description,
        "creator": user(urls, users[d.creator]),
        "created_at": d.created_at,
        "updated_at": d.updated_at,
        "statuses_url": f"{api}/statuses",
        "repository_url": urls.repo(full_name),
        "transient_environment": d.transient_environment,
        "production_environment": d.production_environment,
    }


def deployment_status(
    urls: Urls, full_name: str, d: Deployment, s: DeploymentStatus, users: dict[str, User]
) -> dict[str, Any]:
    api = f"{urls.repo(full_name)}/deployments/{d.id}"
    return {
        "url": f"{api}/statuses/{s.id}",
        "id": s.id,
        "node_id": node_id("DeploymentStatus", s.id),
        "state": s.state,
        "creator": user(urls, users[s.creator]),
        "description": s.description,
        "environment": s.environment,
        "target_url": s.log_url,
        "log_url": s.log_url,
        "environment_url": s.environment_url,
        "created_at": s.created_at,
        "updated_at": s.created_at,
        "deployment_url": api,
        "repository_url": urls.repo(full_name),
    }


def environment(urls: Urls, full_name: str, env: Environment) -> dict[str, Any]:
    return {
        "id": env.id,
        "node_id": node_id("Environment", env.id),
        "name": env.name,
        "url": f"{urls.repo(full_name)}/environments/{env.name}",
        "html_url": f"{urls.html}/{full_name}/deployments/activity_log?environments_filter={env.name}",
        "created_at": env.created_at,
        "updated_at": env.updated_at,
        "protection_rules": [],
        "deployment_branch_policy": None,
    }


def workflow(
    urls: Urls, full_name: str, workflow_id: int, path: str, name: str, created_at: str
) -> dict[str, Any]:
    return {
        "id": workflow_id,
        "node_id": node_id("Workflow", workflow_id),
        "name": name,
        "path": path,
        "state": "active",
        "created_at": created_at,
        "updated_at": created_at,
        "url": f"{urls.repo(full_name)}/actions/workflows/{workflow_id}",
        "html_url": f"{urls.html}/{full_name}/blob/HEAD/{path}",
        "badge_url": f"{urls.html}/{full_name}/workflows/{name}/badge.svg",
    }


def file_sha(git: GitRepo, rev: str, path: str) -> str | None:
    entry = git.entry_at(rev, path)
    return entry.sha if entry and entry.type == "blob" else None


def workflow_run(
    urls: Urls, full_name: str, run: WorkflowRun, *, repository: dict[str, Any], actor: dict[str, Any],
    head_commit: dict[str, Any],
) -> dict[str, Any]:  # fmt: skip
    api = f"{urls.repo(full_name)}/actions/runs/{run.id}"
    return {
        "id": run.id,
        "name": run.workflow_name,
        "node_id": node_id("WorkflowRun", run.id),
        "head_branch": run.head_branch,
        "head_sha": run.head_sha,
        "path": run.path,
        "display_title": run.display_title,
        "run_number": run.run_number,
        "run_attempt": 1,
        "event": run.event,
        "status": run.status,
        "conclusion": run.conclusion,
        "workflow_id": run.workflow_id,
        "check_suite_id": run.id + 1,
        "check_suite_node_id": node_id("CheckSuite", run.id + 1),
        "url": api,
        "html_url": f"{urls.html}/{full_name}/actions/runs/{run.id}",
        "pull_requests": [],
        "created_at": run.created_at,
        "updated_at": run.updated_at,
        "run_started_at": run.created_at,
        "actor": actor,
        "triggering_actor": actor,
        "jobs_url": f"{api}/jobs",
        "logs_url": f"{api}/logs",
        "check_suite_url": f"{urls.repo(full_name)}/check-suites/{run.id + 1}",
        "artifacts_url": f"{api}/artifacts",
        "cancel_url": f"{api}/cancel",
        "rerun_url": f"{api}/rerun",
        "previous_attempt_url": None,
        "workflow_url": f"{urls.repo(full_name)}/actions/workflows/{run.workflow_id}",
        "head_commit": head_commit,
        "repository": repository,
        "head_repository": repository,
    }
