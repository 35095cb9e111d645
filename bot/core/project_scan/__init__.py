"""What a DVC project holds, read from its `dvc.yaml` (and metrics files) as plain dicts: no I/O here.

Two uses: `mlops-bot init` proposes a config from it (`propose`, `render_config`), and `mlops-bot config
check` compares a config with it (`check_against_project`). Metrics are found as the train job finds them
(bot/jobs/train_sources.py `resolve_sources`): the model's stage, the stages downstream of it and
dvc.yaml's top-level `metrics:`, or the config's `metrics_from`; names are flattened with `.` and a name
found in two files keeps its file as a prefix, as bot/adapters/dvc `DvcProject.metrics` does, so a name
proposed here is one training reports.

`pipeline` reads dvc.yaml and the metrics files, `propose` and `render` make a config, `check` checks one.
"""

from __future__ import annotations

from bot.core.project_scan.check import Problem, ProjectFacts, check_against_project, metric_files_to_read
from bot.core.project_scan.pipeline import (
    Pipeline,
    ScanError,
    Stage,
    flatten,
    in_lock,
    metric_names,
    read_pipeline,
)
from bot.core.project_scan.propose import (
    MODEL_SUFFIXES,
    Proposal,
    ProposedMetric,
    ProposedModel,
    looks_like_model,
    propose,
)
from bot.core.project_scan.render import render_config

__all__ = [
    "MODEL_SUFFIXES",
    "Pipeline",
    "Problem",
    "ProjectFacts",
    "Proposal",
    "ProposedMetric",
    "ProposedModel",
    "ScanError",
    "Stage",
    "check_against_project",
    "flatten",
    "in_lock",
    "looks_like_model",
    "metric_files_to_read",
    "metric_names",
    "propose",
    "read_pipeline",
    "render_config",
]
