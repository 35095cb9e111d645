"""The sample DVC project (templates/project) as real git repositories in tmp folders.

`make_sample_repo` builds a fresh one (git + DVC + a directory remote), exactly as `mlops-bot demo` does.
`trained_sample` builds one per test session whose pipeline has run, with dvc.lock committed and the data
pushed; tests take cheap copies of it with `copy_repo` instead of training from scratch each time.
"""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from bot.adapters.dvc import DvcProject, init_sample_project

MODEL = "breast-cancer"
STAGE = "train"


def make_sample_repo(dest: Path, *, remote: Path | None) -> Path:
    """templates/project copied to `dest`, `git init -b main`, `dvc init`, analytics off, `remote` (a folder)
    as default DVC remote, all committed. Returns `dest`."""
    return init_sample_project(dest, remote=remote)


def git(root: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=root, check=True, capture_output=True, text=True).stdout.strip()


def commit_all(root: Path, message: str) -> str:
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", message)
    return git(root, "rev-parse", "HEAD")


def set_param(root: Path, old: str, new: str) -> None:
    """Edit params.yaml by text, as a person would (`old` must occur once)."""
    path = root / "params.yaml"
    text = path.read_text()
    assert text.count(old) == 1, f"{old!r} occurs {text.count(old)} times in params.yaml"
    path.write_text(text.replace(old, new))


@dataclass(frozen=True)
class TrainedSample:
    root: Path  # a sample repo whose pipeline ran: dvc.lock committed, outputs in the cache and on the remote
    remote: Path
    sha: str  # the commit holding dvc.lock

    def copy(self, dest: Path) -> Path:
        """An independent copy (history, workspace and DVC cache included) sharing the same DVC remote."""
        return copy_repo(self.root, dest)


def copy_repo(src: Path, dest: Path) -> Path:
    shutil.copytree(src, dest, symlinks=True)
    return dest


@cache
def trained_sample(base: Path) -> TrainedSample:
    """One per `base` folder (the session's tmp root): built the first time a suite asks for it."""
    root = make_sample_repo(base / "trained-sample", remote=base / "trained-sample-remote")
    with DvcProject(root) as project:
        project.repro(STAGE)
        project.push()
    sha = commit_all(root, "Train the sample model")
    return TrainedSample(root=root, remote=base / "trained-sample-remote", sha=sha)
