"""What DVC tells the bot about a repository, as values, and what can go wrong with it, as exceptions whose
message says what to do. The DVC port (`bot.ports.TrainingProject`) speaks in these; the adapter
(bot/adapters/dvc) makes them from DVC's own objects."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

LOCK_FILE = "dvc.lock"
PARAMS_FILE = "params.yaml"  # DVC's default params file: its keys are shown without a file prefix


@dataclass(frozen=True)
class Remote:
    name: str
    url: str


@dataclass(frozen=True)
class StageFiles:
    """What dvc.yaml declares for one stage, and the pipeline `dvc repro <stage>` runs."""

    name: str
    deps: tuple[str, ...]  # file dependencies (params are not files here)
    outs: tuple[str, ...]  # every output, metrics and plots included
    metrics: tuple[str, ...]
    plots: tuple[str, ...]
    pipeline: tuple[str, ...]  # this stage and all stages upstream of it, upstream first
    pipeline_outs: tuple[str, ...]  # what `dvc repro <stage>` can rebuild
    params_files: tuple[str, ...] = ()  # the params files the pipeline reads (params.yaml, ...)
    downstream: tuple[str, ...] = ()  # stages that depend on this one's outputs, in pipeline order


@dataclass(frozen=True)
class ReproResult:
    stage: str
    ran: tuple[str, ...]  # stages whose command actually executed (not skipped, not restored from run cache)
    log_tail: str


class DvcError(Exception):
    """DVC could not do what was asked; the message says what and what to do."""


class GitError(DvcError):
    """A git command failed."""


class DvcStageError(DvcError):
    """A stage command failed; `log_tail` holds the end of its output."""

    def __init__(self, stage: str, returncode: int, log_tail: str, reason: str = "") -> None:
        self.stage = stage
        self.returncode = returncode
        self.log_tail = log_tail
        self.reason = reason
        detail = f": {reason}" if reason else f" (dvc exited with {returncode})"
        super().__init__(f"stage '{stage}' failed{detail}")


class DvcMissingDataError(DvcError):
    """Files DVC needs are neither in the local cache nor on the remote."""

    def __init__(self, paths: Iterable[str], remote: Remote | None) -> None:
        self.paths = sorted(paths)
        self.remote = remote
        where = (
            f"the DVC remote '{remote.name}' ({remote.url})"
            if remote
            else "any DVC remote (none is configured)"
        )
        super().__init__(
            f"not in the local DVC cache nor in {where}: {', '.join(self.paths)}. "
            "Run `dvc push` where these files were produced, then try again."
        )


class DvcMetricsError(DvcError):
    """A metrics file is missing or cannot be read."""

    def __init__(self, path: str, reason: str) -> None:
        self.path = path
        self.reason = reason
        super().__init__(f"metrics file {path}: {reason}")


class DvcRemoteError(DvcError):
    """The DVC remote cannot be used (missing plugin, unreachable, refuses writes); one line saying what to do."""


class DvcFileError(DvcError):
    """dvc.yaml or dvc.lock cannot be read by this DVC; the message says which and how to fix it."""
