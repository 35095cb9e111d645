"""Repositories on disk: make a git + DVC repository (the sample project for the demo, tests and
benchmarks), run git as the bot, read a file as it was at a git revision."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from bot.adapters.dvc.errors import DvcError, GitError
from bot.core.isolation import job_environment


def read_at_rev(root: Path, path: str, rev: str | None, *, mode: str = "r") -> str | bytes:
    """A file as it was at git `rev`, whether git or DVC tracks it (DVC fetches from the remote if needed)."""
    import dvc.api
    from dvc.exceptions import DvcException

    try:
        with dvc.api.open(path, repo=str(root), rev=rev, mode=mode) as handle:
            return handle.read()  # type: ignore[no-any-return]
    except (FileNotFoundError, DvcException) as exc:
        at = f" at {rev}" if rev else ""
        raise DvcError(f"cannot read {path}{at} through DVC: {exc}") from exc


def init_repo(root: Path, *, remote: Path | None = None, remote_name: str = "local") -> None:
    """`dvc init` in an existing git repository, analytics off, and `remote` (a folder) as default remote."""
    from dvc.repo import Repo

    repo = Repo.init(str(root))
    try:
        with repo.config.edit() as conf:
            conf["core"]["analytics"] = False
            if remote is not None:
                conf["remote"][remote_name] = {"url": str(Path(remote).resolve())}
                conf["core"]["remote"] = remote_name
    finally:
        repo.close()


def init_sample_project(dest: Path, remote: Path | None = None) -> Path:
    """A new git + DVC repository at `dest` holding the sample project (templates/project), committed on
    `main`, with `remote` (a folder, created if needed) as its default DVC remote. Returns `dest`.

    Used by `mlops-bot demo`, the tests and the benchmark. `dest` must not exist or be empty.
    """
    import shutil

    from bot.resources import template_path

    dest = Path(dest)
    if dest.exists() and any(dest.iterdir()):
        raise DvcError(f"{dest} is not empty; the sample project needs a new folder")
    shutil.copytree(
        template_path("project"),
        dest,
        dirs_exist_ok=True,
        ignore=shutil.ignore_patterns("__pycache__", "*.pyc"),
    )
    run_git(dest, "init", "-q", "-b", "main")
    if remote is not None:
        Path(remote).mkdir(parents=True, exist_ok=True)
    init_repo(dest, remote=remote)
    run_git(dest, "add", "-A")
    run_git(dest, "commit", "-q", "-m", "Sample DVC project from mlops-bot", as_bot=True)
    return dest


BOT_GIT_IDENTITY = {
    "GIT_AUTHOR_NAME": "mlops-bot",
    "GIT_AUTHOR_EMAIL": "mlops-bot@users.noreply.github.com",
    "GIT_COMMITTER_NAME": "mlops-bot",
    "GIT_COMMITTER_EMAIL": "mlops-bot@users.noreply.github.com",
}


def run_git(root: Path, *args: str, as_bot: bool = False) -> str:
    """`git <args>` in `root`; its stdout. `as_bot` commits as mlops-bot whatever identity is configured."""
    # A commit needs no credential: the bot's identity on a job step's allow-listed environment.
    env = {**job_environment(os.environ), **BOT_GIT_IDENTITY} if as_bot else None
    done = subprocess.run(["git", *args], cwd=root, env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise GitError(
            f"`git {' '.join(args)}` failed in {root}: {done.stderr.strip() or done.stdout.strip()}"
        )
    return done.stdout
