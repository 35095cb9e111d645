"""One cached clone per repository, so a job fetches what changed instead of cloning the whole history again.

The cache is a bare repository under `<work_dir>/clones`, written only by the bot (under a lock) and only from
the repository's own clone URL. Each job gets a working copy of its own, made from the cache by a local clone
that copies the object files (`--no-hardlinks`): never a worktree or alternates, which would share files with
the cache and with other jobs. A job's stage may own its copy outright (bot/adapters/sandbox.py chowns it to
the stage's uid) without reaching the cache, another job's files or their untracked outputs.

- Branches and tags are fetched with forced refspecs and `--prune`, so a force-pushed or deleted branch is seen
  as origin has it now.
- A commit that no branch holds (a fork pull request's head, reachable on GitHub and on the stand-in only from
  `refs/pull/<n>/head`) is fetched by its sha; both GitHub and the stand-in serve a reachable sha on request.
- Credentials come through the environment only (the executor's `http.extraHeader` in git's environment
  config): the cache's config names no remote, so neither a token nor even the URL is stored in it.
- A cache that git cannot update (a fetch killed halfway, a lock file left behind) is thrown away and cloned
  again once before the job fails.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import logging
import os
import re
import shutil
import subprocess
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

log = logging.getLogger(__name__)

__all__ = ["CloneCache", "CloneError", "Refresh"]

Refresh = Literal["clone", "fetch"]

_FULL_SHA = re.compile(r"^[0-9a-f]{40}([0-9a-f]{24})?$")
_REFSPECS = ("+refs/heads/*:refs/heads/*", "+refs/tags/*:refs/tags/*")
_USED = "mlops-bot-used"  # touched on every use: what retention reads to drop the caches of idle repositories


class CloneError(Exception):
    """git could not give the job its working copy; the message carries git's own words."""


@dataclass(frozen=True)
class CloneCache:
    """The cached clones under `root` (0700), one per clone URL."""

    root: Path

    def working_copy(
        self,
        clone_url: str,
        into: Path,
        *,
        checkout: str,
        branch: str | None,
        env: Mapping[str, str],
    ) -> tuple[Refresh, str]:
        """A fresh working copy of `clone_url` in `into` (which must not exist), at `checkout` (a sha, or a
        branch of origin), on local `branch` when given, else detached; `origin` names `clone_url` as in a
        plain clone. Returns how the cache was brought up to date and the commit checked out."""
        cache = self._path(clone_url)
        with self._locked(cache):
            how = self._refresh(cache, clone_url, env)
            sha = self._commit(cache, clone_url, checkout, env)
            # A local clone copies the cache's object files (every object, so a commit fetched by sha too).
            _git(["clone", "--quiet", "--local", "--no-hardlinks", "--no-checkout", str(cache), str(into)],
                 env=env, cwd=into.parent)  # fmt: skip
            (cache / _USED).touch()
        _git(["remote", "set-url", "origin", clone_url], env=env, cwd=into)
        if branch:
            _git(["checkout", "--quiet", "-B", branch, sha], env=env, cwd=into)
        else:
            _git(["checkout", "--quiet", "--detach", sha], env=env, cwd=into)
        return how, sha

    def forget_unused(self, before: float) -> int:
        """Remove the caches not used since `before` (a time.time() value); how many were removed."""
        removed = 0
        if not self.root.is_dir():
            return 0
        for cache in self.root.glob("*.git"):
            stamp = cache / _USED
            try:
                used = stamp.stat().st_mtime if stamp.exists() else cache.stat().st_mtime
            except OSError:
                continue
            if used < before:
                with self._locked(cache):
                    shutil.rmtree(cache, ignore_errors=True)
                removed += 1
        return removed

    # -- inside the lock --------------------------------------------------------------------------------
    def _refresh(self, cache: Path, clone_url: str, env: Mapping[str, str]) -> Refresh:
        if (cache / "HEAD").is_file():
            try:
                _git(["fetch", "--quiet", "--prune", "--no-write-fetch-head", clone_url, *_REFSPECS],
                     env=env, cwd=cache)  # fmt: skip
                return "fetch"
            except CloneError as exc:
                log.warning(
                    "the cached clone of %s could not be updated; cloning it again: %s", clone_url, exc
                )
                shutil.rmtree(cache, ignore_errors=True)
        partial = cache.with_name(f"{cache.name}.partial-{os.getpid()}-{time.monotonic_ns()}")
        try:
            _git(["clone", "--quiet", "--bare", clone_url, str(partial)], env=env, cwd=self.root)
            _git(["remote", "remove", "origin"], env=env, cwd=partial)  # the URL is passed on every fetch
            partial.rename(cache)
        finally:
            shutil.rmtree(partial, ignore_errors=True)
        return "clone"

    @staticmethod
    def _commit(cache: Path, clone_url: str, checkout: str, env: Mapping[str, str]) -> str:
        if _FULL_SHA.match(checkout):
            if not _has_commit(cache, checkout, env):
                # Not on any branch: a fork's head (refs/pull/<n>/head) or a commit a force-push left behind.
                try:
                    _git(
                        ["fetch", "--quiet", "--no-write-fetch-head", clone_url, checkout], env=env, cwd=cache
                    )
                except CloneError as exc:
                    raise CloneError(
                        f"commit {checkout} could not be fetched from the repository: {exc}"
                    ) from None
            if not _has_commit(cache, checkout, env):
                raise CloneError(f"commit {checkout} is not in the repository")
            return checkout
        for name in (f"refs/heads/{checkout}", f"refs/tags/{checkout}", checkout):
            done = _run(["rev-parse", "--verify", "--quiet", f"{name}^{{commit}}"], env=env, cwd=cache)
            if done.returncode == 0:
                return done.stdout.strip()
        raise CloneError(f"{checkout!r} is neither a branch, a tag nor a commit of the repository")

    # -- where and how ---------------------------------------------------------------------------------
    def _path(self, clone_url: str) -> Path:
        self.root.mkdir(parents=True, exist_ok=True, mode=0o700)
        self.root.chmod(0o700)  # whatever the umask: these are copies of private repositories
        readable = re.sub(r"[^A-Za-z0-9_.-]+", "_", clone_url.rstrip("/").removesuffix(".git"))[-48:]
        return self.root / f"{readable}-{hashlib.sha256(clone_url.encode()).hexdigest()[:16]}.git"

    @contextlib.contextmanager
    def _locked(self, cache: Path) -> Iterator[None]:
        """One job at a time updates or copies a repository's cache, across the bot's processes too."""
        with cache.with_name(cache.name + ".lock").open("a") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)


def _has_commit(cache: Path, sha: str, env: Mapping[str, str]) -> bool:
    return _run(["cat-file", "-e", f"{sha}^{{commit}}"], env=env, cwd=cache).returncode == 0


def _run(args: list[str], *, env: Mapping[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["git", *args], cwd=cwd, env=dict(env), capture_output=True, text=True, check=False)


def _git(args: list[str], *, env: Mapping[str, str], cwd: Path) -> None:
    done = _run(args, env=env, cwd=cwd)
    if done.returncode != 0:
        raise CloneError(f"git {args[0]} failed: {done.stderr.strip()[-2000:]}")
