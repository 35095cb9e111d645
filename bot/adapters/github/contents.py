"""The repository, its files and commits, and its workflows."""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping

from bot.adapters.github.base import RepoBase
from bot.adapters.github.errors import GitHubError, _status, git_blob_sha

log = logging.getLogger("bot.adapters.github")


class Contents(RepoBase):
    def default_branch(self) -> str:
        return self._fact("default_branch")

    def read_file(self, path: str, ref: str | None = None) -> str | None:
        import base64
        from urllib.parse import quote

        def read() -> str | None:
            try:
                if ref is None:  # the default branch's head: re-read on every event, so asked conditionally
                    data, _ = self._get_conditional(f"{self.repo.url}/contents/{quote(path)}")
                else:
                    _, data = self.repo.requester.requestJsonAndCheck(
                        "GET", f"{self.repo.url}/contents/{quote(path)}", {"ref": ref}
                    )
            except Exception as exc:
                if _status(exc) == 404:
                    return None
                raise
            if not isinstance(data, dict) or data.get("type", "file") != "file":
                return None  # a directory (a list), a submodule or a symlink
            if data.get("encoding") != "base64":  # files over 1 MB come without content: read the blob
                return _decode_blob(self.repo.get_git_blob(str(data["sha"])).content)
            return base64.b64decode(str(data.get("content") or "")).decode("utf-8", errors="replace")

        return self._call(f"reading {path}", read)

    def clone_url(self) -> str:
        return self._fact("clone_url")

    def commit_files(self, branch: str, base_ref: str, files: Mapping[str, str], message: str) -> str:
        from github import InputGitTreeElement, UnknownObjectException

        def commit() -> str:
            try:
                ref = self.repo.get_git_ref(f"heads/{branch}")
                parent_sha = ref.object.sha
            except UnknownObjectException:
                ref = None
                parent_sha = self._resolve(base_ref)
            parent = self.repo.get_git_commit(parent_sha)
            present = {e.path: e.sha for e in self.repo.get_git_tree(parent.tree.sha, recursive=True).tree}
            wanted = {
                path: text for path, text in files.items() if present.get(path) != git_blob_sha(text.encode())
            }
            if not wanted:
                # Already there (e.g. our own commit whose response was lost): no empty second commit.
                if ref is None:
                    self.repo.create_git_ref(f"refs/heads/{branch}", parent_sha)
                return str(parent_sha)
            elements = [
                InputGitTreeElement(path, "100644", "blob", content=text) for path, text in wanted.items()
            ]
            tree = self.repo.create_git_tree(elements, base_tree=parent.tree)
            made = self.repo.create_git_commit(message, tree, [parent])
            if ref is None:
                self.repo.create_git_ref(f"refs/heads/{branch}", made.sha)
            else:
                ref.edit(made.sha)  # not forced: a concurrent push makes this 422 and we start over
            return str(made.sha)

        def commit_with_race_retry() -> str:
            for _ in range(3):
                try:
                    return commit()
                except Exception as exc:
                    if _status(exc) != 422:
                        raise
                    log.info("branch %s moved while committing; starting over", branch)
            return commit()

        return self._call(f"committing to {branch}", commit_with_race_retry)

    def _resolve(self, ref: str) -> str:
        """The commit sha of a branch name (or of a sha, which is returned as it is)."""
        if re.fullmatch(r"[0-9a-f]{40}", ref):
            return ref
        return str(self.repo.get_git_ref(f"heads/{ref.removeprefix('refs/heads/')}").object.sha)

    def dispatch_workflow(self, workflow: str, ref: str, inputs: Mapping[str, str]) -> None:
        def dispatch() -> None:
            try:
                self.repo.get_workflow(workflow).create_dispatch(ref, dict(inputs), throw=True)
            except Exception as exc:
                if _status(exc) == 404:
                    raise GitHubError(
                        f"No workflow {workflow!r} in {self.full_name} on the default branch: commit it "
                        "under .github/workflows/ (mlops-bot init writes one)."
                    ) from exc
                if _status(exc) == 422:
                    raise GitHubError(
                        f"GitHub refused to start {workflow!r} at {ref!r}: {getattr(exc, 'data', exc)}. The "
                        "workflow needs an `on: workflow_dispatch` trigger and the ref must exist."
                    ) from exc
                raise

        self._call(f"starting workflow {workflow}", dispatch)


def _decode_blob(content: str) -> str:
    import base64

    return base64.b64decode(content).decode("utf-8", errors="replace")
