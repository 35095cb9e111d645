"""Git data and contents: commits, refs, diffs, files and directory entries."""

from __future__ import annotations

import base64
from typing import Any

from bot.standin.gitstore import CommitInfo, GitRepo
from bot.standin.shapes.common import Urls, node_id


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


def file_sha(git: GitRepo, rev: str, path: str) -> str | None:
    entry = git.entry_at(rev, path)
    return entry.sha if entry and entry.type == "blob" else None
