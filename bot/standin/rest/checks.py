"""REST handlers: check runs and commit statuses."""

from __future__ import annotations

from typing import Any

from bot.standin import shapes
from bot.standin.domain.state import StandInError
from bot.standin.model import Repo, Status
from bot.standin.rest.call import Call, Reply, iso_now, op


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
        run.completed_at = body.get("completed_at") or run.completed_at or iso_now()
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
        started_at=iso_now(),
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
