"""REST handlers: git data (refs, blobs, trees, commits) and repository contents."""

from __future__ import annotations

import base64
from typing import Any

from bot.standin import shapes
from bot.standin.domain.state import StandInError
from bot.standin.gitstore import Signature
from bot.standin.model import Repo
from bot.standin.rest.call import Call, Reply, b64decode, op


def _full_ref(ref: str) -> str:
    return ref if ref.startswith("refs/") else f"refs/{ref}"


@op("git/get-ref")
def get_ref(call: Call) -> Reply:
    repo = call.repo()
    name = _full_ref(call.params["ref"])
    sha = repo.git.refs(name).get(name)
    if sha is None:
        raise StandInError(404, "Not Found")
    kind = repo.git.object_type(sha) or "commit"
    return Reply(200, shapes.git_ref(call.standin.urls, repo.full_name, name, sha, kind))


@op("git/list-matching-refs")
def list_matching_refs(call: Call) -> Reply:
    repo = call.repo()
    prefix = _full_ref(call.params.get("ref", "")) if call.params.get("ref") else "refs/"
    refs = {
        name: sha
        for name, sha in repo.git.refs("refs/").items()
        if name.startswith(prefix) and not name.startswith("refs/pull/")
    }
    items = [
        shapes.git_ref(call.standin.urls, repo.full_name, name, sha) for name, sha in sorted(refs.items())
    ]
    chunk, headers = call.page(items)
    return Reply(200, chunk, headers)


@op("git/create-ref")
def create_ref(call: Call) -> Reply:
    repo = call.repo()
    call.require(repo, "write")
    ref, sha = call.body["ref"], call.body["sha"]
    if not ref.startswith("refs/") or ref.count("/") < 2:
        raise StandInError(422, "Reference name must start with 'refs/' and have at least two slashes.")
    if repo.git.refs(ref).get(ref):
        raise StandInError(422, "Reference already exists")
    if repo.git.object_type(sha) is None:
        raise StandInError(422, "Object does not exist")
    if ref.startswith("refs/heads/"):
        call.standin.update_branch_ref(repo, ref.removeprefix("refs/heads/"), sha, by=call.login)
    else:
        repo.git.update_ref(ref, sha)
    return Reply(201, shapes.git_ref(call.standin.urls, repo.full_name, ref, sha))


@op("git/update-ref")
def update_ref(call: Call) -> Reply:
    repo = call.repo()
    call.require(repo, "write")
    name = _full_ref(call.params["ref"])
    current = repo.git.refs(name).get(name)
    if current is None:
        raise StandInError(422, "Reference does not exist")
    sha = call.body["sha"]
    if repo.git.object_type(sha) is None:
        raise StandInError(422, "Object does not exist")
    if not call.body.get("force") and not repo.git.is_ancestor(current, sha):
        raise StandInError(422, "Update is not a fast forward")
    if name.startswith("refs/heads/"):
        call.standin.update_branch_ref(repo, name.removeprefix("refs/heads/"), sha, by=call.login)
    else:
        repo.git.update_ref(name, sha)
    return Reply(200, shapes.git_ref(call.standin.urls, repo.full_name, name, sha))


@op("git/delete-ref")
def delete_ref(call: Call) -> Reply:
    repo = call.repo()
    call.require(repo, "write")
    name = _full_ref(call.params["ref"])
    if repo.git.refs(name).get(name) is None:
        raise StandInError(422, "Reference does not exist")
    repo.git.delete_ref(name)
    if name.startswith("refs/heads/"):
        call.standin.notify_push(repo.full_name, name.removeprefix("refs/heads/"), pusher=call.login)
    return Reply(204)


@op("git/create-blob")
def create_blob(call: Call) -> Reply:
    repo = call.repo()
    call.require(repo, "write")
    content = call.body["content"]
    data = b64decode(content) if call.body.get("encoding") == "base64" else content.encode()
    sha = repo.git.write_blob(data)
    return Reply(201, {"url": f"{call.standin.urls.repo(repo.full_name)}/git/blobs/{sha}", "sha": sha})


@op("git/get-blob")
def get_blob(call: Call) -> Reply:
    repo = call.repo()
    sha = call.params["file_sha"]
    if repo.git.object_type(sha) != "blob":
        raise StandInError(404, "Not Found")
    data = repo.git.read_blob(sha)
    return Reply(
        200,
        {
            "sha": sha,
            "node_id": shapes.node_id("Blob", sha),
            "size": len(data),
            "url": f"{call.standin.urls.repo(repo.full_name)}/git/blobs/{sha}",
            "content": base64.encodebytes(data).decode(),
            "encoding": "base64",
        },
    )


@op("git/create-tree")
def create_tree(call: Call) -> Reply:
    repo = call.repo()
    call.require(repo, "write")
    base_tree = call.body.get("base_tree")
    if base_tree and repo.git.object_type(base_tree) not in ("tree", "commit"):
        raise StandInError(422, "base_tree is not a valid tree oid")
    changes: dict[str, tuple[str, str] | None] = {}
    for entry in call.body["tree"]:
        path = entry["path"]
        if "content" in entry and entry["content"] is not None:
            changes[path] = (entry.get("mode", "100644"), repo.git.write_blob(entry["content"].encode()))
        elif entry.get("sha") is None:
            changes[path] = None
        else:
            if repo.git.object_type(entry["sha"]) is None:
                raise StandInError(422, f"tree.sha {entry['sha']} is not a valid blob")
            changes[path] = (entry.get("mode", "100644"), entry["sha"])
    tree = repo.git.build_tree(f"{base_tree}^{{tree}}" if base_tree else None, changes)
    return Reply(201, _tree_json(call, repo, tree, recursive=False))


def _tree_json(call: Call, repo: Repo, tree: str, *, recursive: bool) -> dict[str, Any]:
    api = call.standin.urls.repo(repo.full_name)
    entries = []
    for e in repo.git.ls_tree(tree, recursive=recursive):
        item: dict[str, Any] = {
            "path": e.path,
            "mode": e.mode,
            "type": e.type,
            "sha": e.sha,
            "url": f"{api}/git/{e.type}s/{e.sha}",
        }
        if e.size is not None:
            item["size"] = e.size
        entries.append(item)
    return {"sha": tree, "url": f"{api}/git/trees/{tree}", "tree": entries, "truncated": False}


@op("git/get-tree")
def get_tree(call: Call) -> Reply:
    repo = call.repo()
    sha = repo.git.resolve(f"{call.params['tree_sha']}^{{tree}}")
    if sha is None:
        raise StandInError(404, "Not Found")
    return Reply(200, _tree_json(call, repo, sha, recursive="recursive" in call.query))


def _signature(value: dict[str, Any] | None, fallback: Signature) -> Signature:
    if not value:
        return fallback
    return Signature(
        value.get("name", fallback.name),
        value.get("email", fallback.email),
        value.get("date") or fallback.date,
    )


@op("git/create-commit")
def create_commit(call: Call) -> Reply:
    repo = call.repo()
    call.require(repo, "write")
    tree = call.body["tree"]
    if repo.git.object_type(tree) != "tree":
        raise StandInError(422, "Tree SHA does not exist")
    parents = call.body.get("parents", [])
    for parent in parents:
        if repo.git.object_type(parent) != "commit":
            raise StandInError(422, "Parent SHA does not exist or is not a commit object")
    default = call.standin.signature(call.login)
    author = _signature(call.body.get("author"), default)
    committer = _signature(call.body.get("committer"), author if call.body.get("author") else default)
    sha = repo.git.commit_tree(tree, parents, call.body["message"], author, committer)
    return Reply(201, shapes.git_commit(call.standin.urls, repo.full_name, repo.git.commit_info(sha)))


@op("git/get-commit")
def get_git_commit(call: Call) -> Reply:
    repo = call.repo()
    sha = call.params["commit_sha"]
    if repo.git.object_type(sha) != "commit":
        raise StandInError(404, "Not Found")
    info = repo.git.commit_info(sha)
    body = shapes.git_commit(call.standin.urls, repo.full_name, info)
    return Reply(200, body, last_modified=info.committer.date)


@op("repos/get-commit")
def get_commit(call: Call) -> Reply:
    repo = call.repo()
    sha = repo.git.resolve_commit(call.params["ref"])
    if sha is None:
        raise StandInError(422, f"No commit found for SHA: {call.params['ref']}")
    info = repo.git.commit_info(sha)
    files = []
    if info.parents:
        for status, path, added, deleted in repo.git.changed_files(info.parents[0], sha):
            files.append(
                shapes.diff_entry(
                    call.standin.urls,
                    repo.full_name,
                    sha,
                    status,
                    path,
                    added,
                    deleted,
                    shapes.file_sha(repo.git, sha, path),
                )
            )
    body = shapes.commit(call.standin.urls, repo.full_name, info, files)
    return Reply(200, body, last_modified=info.committer.date)


@op("repos/get-content")
def get_content(call: Call) -> Reply:
    repo = call.repo()
    ref = call.query.get("ref") or repo.default_branch
    path = call.params.get("path", "").strip("/")
    sha = repo.git.resolve_commit(ref)
    entry = repo.git.entry_at(sha, path) if sha else None
    if entry is None:
        raise StandInError(404, "Not Found")
    urls = call.standin.urls
    # Last-Modified: the date of the commit the ref names (GitHub: of the last commit touching the path,
    # which is that commit or one of its ancestors).
    changed = repo.git.commit_info(sha).committer.date if sha else None
    if entry.type == "blob":
        data = repo.git.read_blob(entry.sha)
        body = shapes.content_file(urls, repo.full_name, path, entry.sha, data, ref)
        return Reply(200, body, last_modified=changed)
    items = []
    for child in repo.git.ls_tree(entry.sha):
        child_path = f"{path}/{child.path}" if path else child.path
        kind = {"blob": "file", "tree": "dir", "commit": "submodule"}[child.type]
        items.append(
            shapes.content_entry(urls, repo.full_name, child_path, kind, child.sha, child.size or 0, ref)
        )
    return Reply(200, items, last_modified=changed)


@op("repos/create-or-update-file-contents")
def put_content(call: Call) -> Reply:
    s = call.standin
    repo = call.repo()
    call.require(repo, "write")
    path = call.params["path"].strip("/")
    branch = call.body.get("branch") or repo.default_branch
    parent = repo.git.branch_sha(branch)
    existing = repo.git.entry_at(parent, path) if parent else None
    if existing is not None and call.body.get("sha") != existing.sha:
        if call.body.get("sha") is None:
            raise StandInError(422, 'Invalid request.\n\n"sha" wasn\'t supplied.')
        raise StandInError(409, f"{path} does not match {call.body.get('sha')}")
    blob = repo.git.write_blob(b64decode(call.body["content"]))
    tree = repo.git.build_tree(f"{parent}^{{tree}}" if parent else None, {path: ("100644", blob)})
    default = s.signature(call.login)
    author = _signature(call.body.get("author"), default)
    committer = _signature(call.body.get("committer"), default)
    sha = repo.git.commit_tree(tree, [parent] if parent else [], call.body["message"], author, committer)
    s.update_branch_ref(repo, branch, sha, by=call.login)
    content = shapes.content_file(s.urls, repo.full_name, path, blob, repo.git.read_blob(blob), branch)
    content.pop("content")
    content.pop("encoding")
    body = {
        "content": content,
        "commit": shapes.git_commit(s.urls, repo.full_name, repo.git.commit_info(sha)),
    }
    return Reply(200 if existing else 201, body)
