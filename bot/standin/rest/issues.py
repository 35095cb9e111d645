"""REST handlers: issues, labels, comments and reactions."""

from __future__ import annotations

from typing import Any

from bot.standin import shapes
from bot.standin.domain.state import StandInError
from bot.standin.model import Issue, Label, Repo
from bot.standin.rest.call import AUTHOR_OR_ROLE, ROLE_NEEDED, Call, Reply, iso_now, op, sort_items


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
    issues = sort_items(issues, call, lambda i: f"{i.created_at}{i.number:09d}", lambda i: i.updated_at)
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
    issue = _issue(repo, call.params["issue_number"])
    return Reply(200, call.standin.issue_json(repo, issue), last_modified=issue.updated_at)


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
    issue.updated_at = iso_now()
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
    issue.updated_at = iso_now()
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
    body = shapes.comment(s.urls, repo.full_name, comment, s.users, is_pull=is_pull)
    return Reply(200, body, last_modified=comment.updated_at)


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
