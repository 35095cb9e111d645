"""Repositories and branches."""

from __future__ import annotations

from typing import Any

from bot.standin.gitstore import CommitInfo
from bot.standin.model import Repo, User
from bot.standin.shapes.common import Urls, node_id, user
from bot.standin.shapes.git import commit


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
