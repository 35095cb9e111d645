"""Pull requests and reviews."""

from __future__ import annotations

from typing import Any

from bot.standin.model import Issue, Label, Pull, Repo, Review, User
from bot.standin.shapes.common import Urls, node_id, user
from bot.standin.shapes.issues import label


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
