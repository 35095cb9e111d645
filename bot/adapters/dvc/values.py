"""What DVC tells the bot about a repository, as values."""

from __future__ import annotations

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
