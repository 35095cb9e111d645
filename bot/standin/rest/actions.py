"""REST handlers: workflows and workflow dispatches."""

from __future__ import annotations

from typing import Any

from bot.standin import shapes
from bot.standin.domain.state import StandInError
from bot.standin.model import Dispatch, Repo
from bot.standin.rest.call import Call, Reply, op


def _workflows(call: Call, repo: Repo) -> list[dict[str, Any]]:
    """Workflow files on the default branch, as GitHub lists them (ids stable per path)."""
    import zlib

    sha = repo.git.branch_sha(repo.default_branch)
    entry = repo.git.entry_at(sha, ".github/workflows") if sha else None
    if entry is None or entry.type != "tree":
        return []
    found = []
    for child in repo.git.ls_tree(entry.sha):
        if not child.path.endswith((".yml", ".yaml")) or child.type != "blob":
            continue
        path = f".github/workflows/{child.path}"
        text = repo.git.read_blob(child.sha).decode(errors="replace")
        name = next(
            (
                line.split(":", 1)[1].strip().strip("'\"")
                for line in text.splitlines()
                if line.startswith("name:")
            ),
            path,
        )
        workflow_id = zlib.crc32(f"{repo.full_name}/{path}".encode())
        item = shapes.workflow(call.standin.urls, repo.full_name, workflow_id, path, name, repo.created_at)
        item["_text"] = text
        found.append(item)
    return found


def _find_workflow(call: Call, repo: Repo) -> dict[str, Any]:
    wanted = str(call.params["workflow_id"])
    for item in _workflows(call, repo):
        if wanted in (str(item["id"]), item["path"].rsplit("/", 1)[-1]):
            return item
    raise StandInError(404, "Not Found")


@op("actions/list-repo-workflows")
def list_workflows(call: Call) -> Reply:
    repo = call.repo()
    items = [{k: v for k, v in w.items() if k != "_text"} for w in _workflows(call, repo)]
    chunk, headers = call.page(items)
    return Reply(200, {"total_count": len(items), "workflows": chunk}, headers)


@op("actions/get-workflow")
def get_workflow(call: Call) -> Reply:
    repo = call.repo()
    item = _find_workflow(call, repo)
    return Reply(200, {k: v for k, v in item.items() if k != "_text"})


@op("actions/create-workflow-dispatch")
def dispatch_workflow(call: Call) -> Reply:
    repo = call.repo()
    call.require(repo, "write")
    item = _find_workflow(call, repo)
    if "workflow_dispatch" not in item["_text"]:
        raise StandInError(422, "Workflow does not have 'workflow_dispatch' trigger")
    ref = call.body["ref"]
    if repo.git.resolve_commit(ref) is None and repo.git.branch_sha(ref.removeprefix("refs/heads/")) is None:
        raise StandInError(422, f"No ref found for: {ref}")
    inputs = dict(call.body.get("inputs") or {})
    dispatch = Dispatch(item["path"], ref, inputs, call.login)
    repo.dispatches.append(dispatch)
    workflow = {k: v for k, v in item.items() if k != "_text"}
    run = call.standin.start_workflow_run(repo, workflow, item["_text"], ref, inputs, actor=call.login)
    dispatch.run_id = run.id
    return Reply(204)
