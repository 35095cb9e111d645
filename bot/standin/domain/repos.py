"""Repositories: creation, forks, collaborators, commits and pushes."""

from __future__ import annotations

import sys
from collections.abc import Mapping
from pathlib import Path

from bot.standin.domain.events import Events
from bot.standin.domain.state import GIT_HOOK_PATH, StandInError
from bot.standin.gitstore import GitRepo
from bot.standin.model import ROLES, Repo


class Repos(Events):
    """Repositories, forks, collaborators, and commits and pushes to their branches."""

    def create_repo(
        self,
        full_name: str,
        *,
        source: Path | None = None,
        default_branch: str = "main",
        private: bool = False,
    ) -> Path:
        """Create a repository; `source` files become its first commit. Returns the bare repository path."""
        owner, name = full_name.split("/", 1)
        with self.lock:
            if full_name.lower() in self.repos:
                raise StandInError(422, f"Repository creation failed: {full_name} already exists")
            self.ensure_owner(owner)
            git = GitRepo.init(self.data_dir / "repos" / owner / f"{name}.git", default_branch)
            repo = Repo(self.ids(), owner, name, git, default_branch, private=private)
            repo.permissions[owner] = "admin"
            self.repos[full_name.lower()] = repo
            self.install_push_hook(repo)
            if source is not None:
                tree = git.tree_of_directory(Path(source))
                sig = self.signature(owner)
                sha = git.commit_tree(tree, [], "Initial commit", sig, sig)
                git.update_ref(f"refs/heads/{default_branch}", sha)
                repo.known_heads[default_branch] = sha
            return git.path

    def fork(self, full_name: str, owner: str) -> str:
        """Fork a repository to `owner`; returns the fork's full name."""
        with self.lock:
            source = self._repo(full_name)
            self.ensure_owner(owner)
            fork_name = f"{owner}/{source.name}"
            git = GitRepo.clone_bare(source.git, self.data_dir / "repos" / owner / f"{source.name}.git")
            repo = Repo(self.ids(), owner, source.name, git, source.default_branch, fork_of=source.full_name)
            repo.permissions[owner] = "admin"
            self.install_push_hook(repo)
            repo.known_heads = {
                ref.removeprefix("refs/heads/"): sha for ref, sha in git.refs("refs/heads/").items()
            }
            self.repos[fork_name.lower()] = repo
            return fork_name

    def set_permission(self, full_name: str, login: str, permission: str) -> None:
        """Make `login` a collaborator with role admin|maintain|write|triage|read (or none to remove)."""
        if permission not in ROLES:
            raise ValueError(f"permission must be one of {ROLES}")
        with self.lock:
            repo = self._repo(full_name)
            self.ensure_user(login)
            repo.permissions[login] = permission

    def commit(
        self,
        full_name: str,
        branch: str,
        files: Mapping[str, str | bytes | None],
        message: str,
        *,
        author: str,
        base: str | None = None,
    ) -> str:
        """Commit `files` to `branch` (created from `base` or the default branch); None deletes a file.

        Emits `push` and, for open pull requests from that branch, `pull_request.synchronize`.
        """
        with self.lock:
            repo = self._repo(full_name)
            git = repo.git
            parent = git.branch_sha(branch)
            if parent is None:
                start = base or repo.default_branch
                parent = git.resolve_commit(start)
            changes: dict[str, tuple[str, str] | None] = {}
            for path, content in files.items():
                if content is None:
                    changes[path] = None
                else:
                    data = content.encode() if isinstance(content, str) else content
                    changes[path] = ("100644", git.write_blob(data))
            base_tree = git.resolve(f"{parent}^{{tree}}") if parent else None
            tree = git.build_tree(base_tree, changes)
            sig = self.signature(author)
            self.ensure_user(author)
            sha = git.commit_tree(tree, [parent] if parent else [], message, sig, sig)
            git.update_ref(f"refs/heads/{branch}", sha)
        self.notify_push(full_name, branch, pusher=author)
        return sha

    def install_push_hook(self, repo: Repo) -> None:
        """A post-receive hook that tells the stand-in about a direct `git push`, so it sends push and
        synchronize webhooks as GitHub would. The pusher is `STANDIN_PUSHER` from the pusher's environment,
        or the hosted app's bot."""
        hook = repo.path / "hooks" / "post-receive"
        hook.parent.mkdir(parents=True, exist_ok=True)
        hook.write_text(
            f"#!{sys.executable}\n"
            "import json, os, sys, urllib.request\n"
            f"url = {self.html_url + GIT_HOOK_PATH!r}\n"
            f"body = json.dumps({{'repository': {repo.full_name!r}, 'pusher': os.environ.get('STANDIN_PUSHER'),\n"
            "                   'updates': sys.stdin.read().splitlines()}).encode()\n"
            "req = urllib.request.Request(url, data=body, headers={'Content-Type': 'application/json'})\n"
            "try:\n"
            "    urllib.request.urlopen(req, timeout=10).read()\n"
            "except OSError as exc:\n"
            "    print(f'stand-in not told about this push: {exc}', file=sys.stderr)\n"
        )
        hook.chmod(0o755)

    def update_branch_ref(self, repo: Repo, branch: str, sha: str, *, by: str) -> None:
        """A ref moved through the REST API: the same push + synchronize as a git push."""
        repo.git.update_ref(f"refs/heads/{branch}", sha)
        self.notify_push(repo.full_name, branch, pusher=by)
