"""DVC for the bot: reproduce one stage, move data to and from the remote, read what a run produced.

Reads go through DVC's Python API in process (`project`, its results shaped in `results`); `dvc repro`
runs as a subprocess instead (`repro`), so the tail of a failing stage's log can be kept. The remote and
the local cache are `remote`'s; making repositories and running git are `repo`'s.
DVC is imported inside the functions; importing this package costs nothing.
"""

from __future__ import annotations

from bot.adapters.dvc.errors import (
    DvcError,
    DvcFileError,
    DvcMetricsError,
    DvcMissingDataError,
    DvcRemoteError,
    DvcStageError,
    GitError,
)
from bot.adapters.dvc.project import DvcProject
from bot.adapters.dvc.repo import init_repo, init_sample_project, read_at_rev, run_git
from bot.adapters.dvc.values import LOCK_FILE, Remote, ReproResult, StageFiles

__all__ = [
    "LOCK_FILE",
    "DvcError",
    "DvcFileError",
    "DvcMetricsError",
    "DvcMissingDataError",
    "DvcProject",
    "DvcRemoteError",
    "DvcStageError",
    "GitError",
    "Remote",
    "ReproResult",
    "StageFiles",
    "init_repo",
    "init_sample_project",
    "read_at_rev",
    "run_git",
]
