"""REST handlers: pull requests and reviews."""

from __future__ import annotations

from typing import Any

from bot.standin import shapes
from bot.standin.domain.state import StandInError
from bot.standin.model import Repo
from bot.standin.rest.call import AUTHOR_OR_ROLE, ROLE_NEEDED, Call, Reply, iso_now, op, sort_items


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
    pulls = sort_items(
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
    pull = _pull(repo, call.params["pull_number"])
    updated_at = repo.issues[pull.number].updated_at
    return Reply(200, call.standin.pull_json(repo, pull), last_modified=updated_at)


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
    issue.updated_at = iso_now()
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
