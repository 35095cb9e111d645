"""What a model card is made from: the facts of one model on one pull request, supplied by the job."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from bot.core.config import ModelSpec
from bot.core.evaluation import SameDataComparison
from bot.core.gates import Decision
from bot.core.models import ModelVersion, TrainResult

Status = Literal["trained", "reused", "failed", "waiting"]


@dataclass(frozen=True)
class CardFacts:
    repo: str
    pr_number: int | None
    model: ModelSpec
    result: TrainResult
    champion: ModelVersion | None  # its .metrics are the champion's metrics
    decision: Decision
    head_sha: str
    base_ref: str
    run_url: str = ""  # the MLflow run; defaults to result.run.url
    ci_url: str = ""  # the Actions run (or local job) that trained
    artifact_url: str = ""  # where the full logs and plots are kept
    log_url: str = ""  # the training job's log, kept where a reader can open it
    reproduce: str = ""  # commands to reproduce; the default names the sha and the DVC stage
    status: Status | None = None  # None: derived from the result (failed / reused / trained)
    pr_title: str = ""
    waiting_reason: str = ""
    on_merge: bool = True  # whether merging the PR promotes (config promotion.on_merge)
    champion_alias: str = "champion"
    updated_at: str = ""  # a timestamp supplied by the caller (the core reads no clock)
    same_data: SameDataComparison | None = None  # the champion re-scored on this PR's evaluation data
    production: SameDataComparison | None = None  # both models on the labelled production rows

    @property
    def effective_status(self) -> Status:
        if self.status is not None:
            return self.status
        if not self.result.ok:
            return "failed"
        return "reused" if self.result.reused else "trained"
