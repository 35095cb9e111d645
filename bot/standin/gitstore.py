"""Real git repositories behind the stand-in: bare repos driven with git plumbing.

Every branch, commit, tree, blob and merge the stand-in reports exists in a bare repository on disk,
so the bot can `git clone` and `git push` the repository's `clone_url` like a real one.
"""

from __future__ import annotations

import os
import subprocess
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

EMPTY_TREE = "4b825dc642cb6eb9a060e54bf8d69288fbee4904"


class GitError(Exception):
    """A git command failed; `stderr` says why."""

    def __init__(self, args: list[str], stderr: str) -> None:
        super().__init__(f"git {' '.join(args)}: {stderr.strip()}")
        self.stderr = stderr


class MergeConflict(Exception):
    """The head does not merge cleanly into the base."""


@dataclass(frozen=True)
class Signature:
    name: str
    email: str
    date: str  # ISO 8601, e.g. 2026-11-26T14:00:00Z

    def env(self, role: str) -> dict[str, str]:
        return {f"GIT_{role}_NAME": self.name, f"GIT_{role}_EMAIL": self.email, f"GIT_{role}_DATE": self.date}


@dataclass(frozen=True)
class CommitInfo:
    sha: str
    tree: str
    parents: tuple[str, ...]
    author: Signature
    committer: Signature
    message: str


@dataclass(frozen=True)
class TreeEntry:
    mode: str
    type: str
    sha: str
    path: str
    size: int | None


_BASE_ENV = {
    # A stand-in repository must not depend on the user's git config or hooks.
    "GIT_CONFIG_NOSYSTEM": "1",
    "GIT_CONFIG_GLOBAL": os.devnull,
    "GIT_TERMINAL_PROMPT": "0",
}
# What git needs of the process's environment; never the bot's settings, keys, tokens or database URL, which
# share the process with the stand-in in tests and the demo.
_PASSED = frozenset({"PATH", "HOME", "TMPDIR", "LANG", "LANGUAGE", "TZ", "SOURCE_DATE_EPOCH"})


def _environment(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    passed = {k: v for k, v in os.environ.items() if k in _PASSED or k.startswith("LC_")}
    return {**passed, **_BASE_ENV, **(extra or {})}


class GitRepo:
    """One bare repository."""

    def __init__(self, path: Path) -> None:
        self.path = path

    # -- plumbing -----------------------------------------------------------------------------------
    def git(
        self, *args: str, input: bytes | None = None, env: Mapping[str, str] | None = None, check: bool = True
    ) -> bytes:
        full_env = _environment(env)
        proc = subprocess.run(
            ["git", "--git-dir", str(self.path), *args],
            input=input,
            capture_output=True,
            env=full_env,
            check=False,
        )
        if check and proc.returncode != 0:
            raise GitError(list(args), proc.stderr.decode(errors="replace"))
        return proc.stdout

    def text(self, *args: str, env: Mapping[str, str] | None = None) -> str:
        return self.git(*args, env=env).decode().strip()

    @classmethod
    def init(cls, path: Path, default_branch: str) -> GitRepo:
        path.parent.mkdir(parents=True, exist_ok=True)
        subprocess.run(
            ["git", "init", "-q", "--bare", "-b", default_branch, str(path)],
            check=True,
            capture_output=True,
            env=_environment(),
        )
        repo = cls(path)
        repo.git("config", "receive.denyNonFastForwards", "false")
        return repo

    @classmethod
    def clone_bare(cls, source: GitRepo, path: Path) -> GitRepo:
        path.parent.mkdir(parents=True, exist_ok=True)
        subprocess.run(
            ["git", "clone", "-q", "--bare", str(source.path), str(path)],
            check=True,
            capture_output=True,
            env=_environment(),
        )
        return cls(path)

    # -- refs ---------------------------------------------------------------------------------------
    def resolve(self, rev: str) -> str | None:
        """The object id `rev` names (a sha, branch, tag or full ref), or None."""
        out = self.git("rev-parse", "--verify", "--quiet", f"{rev}^{{object}}", check=False)
        sha = out.decode().strip()
        return sha or None

    def resolve_commit(self, rev: str) -> str | None:
        out = self.git("rev-parse", "--verify", "--quiet", f"{rev}^{{commit}}", check=False)
        sha = out.decode().strip()
        return sha or None

    def refs(self, prefix: str = "refs/") -> dict[str, str]:
        out = self.git("for-each-ref", "--format=%(refname) %(objectname)", prefix).decode()
        pairs = (line.split(" ", 1) for line in out.splitlines() if line)
        return {name: sha for name, sha in pairs}

    def branch_sha(self, branch: str) -> str | None:
        return self.refs(f"refs/heads/{branch}").get(f"refs/heads/{branch}")

    def update_ref(self, ref: str, sha: str, old: str | None = None) -> None:
        args = ["update-ref", ref, sha]
        if old is not None:
            args.append(old)
        self.git(*args)

    def delete_ref(self, ref: str) -> None:
        self.git("update-ref", "-d", ref)

    def object_type(self, sha: str) -> str | None:
        out = self.git("cat-file", "-t", sha, check=False).decode().strip()
        return out or None

    def is_ancestor(self, ancestor: str, descendant: str) -> bool:
        return self._ok("merge-base", "--is-ancestor", ancestor, descendant)

    def _ok(self, *args: str) -> bool:
        proc = subprocess.run(
            ["git", "--git-dir", str(self.path), *args],
            capture_output=True,
            env=_environment(),
            check=False,
        )
        return proc.returncode == 0

    def fetch(self, source: GitRepo, src_ref: str, dst_ref: str) -> None:
        """Copy `src_ref` of another repository into `dst_ref` here (how GitHub keeps refs/pull/N/head)."""
        self.git("fetch", "-q", "--no-tags", str(source.path), f"+{src_ref}:{dst_ref}")

    # -- objects ------------------------------------------------------------------------------------
    def write_blob(self, data: bytes) -> str:
        return self.git("hash-object", "-w", "--stdin", input=data).decode().strip()

    def read_blob(self, sha: str) -> bytes:
        return self.git("cat-file", "blob", sha)

    def blob_size(self, sha: str) -> int:
        return int(self.text("cat-file", "-s", sha))

    def commit_info(self, sha: str) -> CommitInfo:
        raw = self.git("cat-file", "commit", sha).decode(errors="replace")
        header, _, message = raw.partition("\n\n")
        tree = ""
        parents: list[str] = []
        people: dict[str, Signature] = {}
        for line in header.splitlines():
            key, _, value = line.partition(" ")
            if key == "tree":
                tree = value
            elif key == "parent":
                parents.append(value)
            elif key in ("author", "committer"):
                people[key] = _parse_signature(value)
        return CommitInfo(sha, tree, tuple(parents), people["author"], people["committer"], message)

    def ls_tree(self, tree: str, *, recursive: bool = False, path: str = "") -> list[TreeEntry]:
        args = ["ls-tree", "-z", "--long"]
        if recursive:
            args += ["-r", "-t"]
        args.append(tree if not path else f"{tree}:{path}")
        out = self.git(*args).decode(errors="replace")
        entries = []
        for record in out.split("\0"):
            if not record:
                continue
            meta, _, name = record.partition("\t")
            mode, kind, sha, size = meta.split()
            entries.append(TreeEntry(mode, kind, sha, name, None if size == "-" else int(size)))
        return entries

    def entry_at(self, rev: str, path: str) -> TreeEntry | None:
        """The tree entry at `path` in `rev`, or None when it does not exist."""
        path = path.strip("/")
        if not path:
            tree = self.resolve(f"{rev}^{{tree}}")
            return TreeEntry("040000", "tree", tree, "", None) if tree else None
        out = self.git("ls-tree", "-z", "--long", rev, "--", path, check=False).decode(errors="replace")
        for record in out.split("\0"):
            meta, _, name = record.partition("\t")
            if name == path:
                mode, kind, sha, size = meta.split()
                return TreeEntry(mode, kind, sha, name, None if size == "-" else int(size))
        return None

    def build_tree(self, base_tree: str | None, changes: Mapping[str, tuple[str, str] | None]) -> str:
        """A tree: `base_tree` with `changes` (path -> (mode, blob sha), or None to delete) applied."""
        with tempfile.TemporaryDirectory(prefix="standin-index-") as scratch:
            env = {"GIT_INDEX_FILE": str(Path(scratch) / "index")}
            if base_tree:
                self.git("read-tree", base_tree, env=env)
            else:
                self.git("read-tree", "--empty", env=env)
            lines = []
            for path, change in changes.items():
                if change is None:
                    lines.append(f"0 {'0' * 40}\t{path}")
                else:
                    mode, sha = change
                    lines.append(f"{mode} {sha}\t{path}")
            if lines:
                self.git("update-index", "--index-info", input=("\n".join(lines) + "\n").encode(), env=env)
            return self.text("write-tree", env=env)

    def tree_of_directory(self, source: Path) -> str:
        """A tree holding the files of a plain directory (its .gitignore respected)."""
        with tempfile.TemporaryDirectory(prefix="standin-index-") as scratch:
            env = {"GIT_INDEX_FILE": str(Path(scratch) / "index"), "GIT_WORK_TREE": str(source)}
            self.git("add", "-A", ".", env={**env, "GIT_DIR": str(self.path)})
            return self.text("write-tree", env=env)

    def commit_tree(
        self, tree: str, parents: list[str], message: str, author: Signature, committer: Signature
    ) -> str:
        args = ["commit-tree", tree]
        for parent in parents:
            args += ["-p", parent]
        env = {**author.env("AUTHOR"), **committer.env("COMMITTER")}
        return self.git(*args, input=message.encode(), env=env).decode().strip()

    def changed_files(self, base: str, head: str) -> list[tuple[str, str, int, int]]:
        """(status letter, path, additions, deletions) from the merge base of `base` and `head` to `head`."""
        merge_base = self.text("merge-base", base, head)
        statuses = {}
        for line in self.text("diff", "--name-status", "--no-renames", merge_base, head).splitlines():
            status, _, path = line.partition("\t")
            statuses[path] = status[0]
        counts = {}
        for line in self.text("diff", "--numstat", "--no-renames", merge_base, head).splitlines():
            added, deleted, path = line.split("\t", 2)
            counts[path] = (int(added) if added != "-" else 0, int(deleted) if deleted != "-" else 0)
        return [(statuses[p], p, *counts.get(p, (0, 0))) for p in sorted(statuses)]

    def commits_between(self, base: str, head: str) -> list[str]:
        """Commits reachable from `head` but not `base`, oldest first."""
        out = self.text("rev-list", "--reverse", "--topo-order", head, f"^{base}")
        return out.split() if out else []

    def merge_trees(self, ours: str, theirs: str) -> str:
        """The tree of merging `theirs` into `ours` (three-way, from their merge base)."""
        proc = subprocess.run(
            ["git", "--git-dir", str(self.path), "merge-tree", "--write-tree", "--no-messages", ours, theirs],
            capture_output=True,
            env=_environment(),
            check=False,
        )
        if proc.returncode == 1:
            raise MergeConflict(f"{theirs[:7]} does not merge cleanly into {ours[:7]}")
        if proc.returncode != 0:
            raise GitError(["merge-tree", ours, theirs], proc.stderr.decode(errors="replace"))
        return proc.stdout.decode().split("\n", 1)[0].strip()

    def rebase(self, onto: str, commits: list[str], committer: Signature) -> str:
        """Replay `commits` (oldest first) on `onto`, keeping authors; returns the new tip.

        git 2.39 has no `merge-tree --merge-base`, so the replay uses cherry-pick in a scratch worktree.
        """
        with tempfile.TemporaryDirectory(prefix="standin-rebase-") as scratch:
            worktree = Path(scratch) / "wt"
            self.git("worktree", "add", "-q", "--detach", str(worktree), onto)
            try:
                env = _environment(committer.env("COMMITTER"))
                for sha in commits:
                    proc = subprocess.run(
                        [
                            "git",
                            "-C",
                            str(worktree),
                            "cherry-pick",
                            "--allow-empty",
                            "--keep-redundant-commits",
                            sha,
                        ],
                        capture_output=True,
                        env=env,
                        check=False,
                    )
                    if proc.returncode != 0:
                        raise MergeConflict(f"{sha[:7]} does not apply cleanly on {onto[:7]}")
                tip = (
                    subprocess.run(
                        ["git", "-C", str(worktree), "rev-parse", "HEAD"],
                        capture_output=True,
                        env=env,
                        check=True,
                    )
                    .stdout.decode()
                    .strip()
                )
            finally:
                self.git("worktree", "remove", "--force", str(worktree), check=False)
                self.git("worktree", "prune", check=False)
        return tip


def _parse_signature(value: str) -> Signature:
    name_email, _, stamp = value.rpartition("> ")
    name, _, email = name_email.partition(" <")
    seconds, _, _tz = stamp.partition(" ")
    from datetime import UTC, datetime

    date = datetime.fromtimestamp(int(seconds), UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return Signature(name, email, date)
