"""Issues, labels, comments and reactions."""

from __future__ import annotations

from typing import Any

from bot.standin.model import Comment, Issue, Label, Reaction, User
from bot.standin.shapes.common import Urls, node_id, user


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
