"""The `.github/mlops-bot.yml` text `mlops-bot init` writes for a proposal."""

from __future__ import annotations

import json
import re

from bot.core.config.evaluation import SCORE_DIRECTIONS
from bot.core.project_scan.propose import LOWER_IS_BETTER, MAX_GATED, Proposal


def render_config(proposal: Proposal) -> str:
    """The `.github/mlops-bot.yml` text for a proposal: what was inferred written live, the rest commented."""
    lines = [
        "# mlops-bot configuration, written by `mlops-bot init` from dvc.yaml. mlops-bot reads this file from",
        "# the DEFAULT branch only. Check it against the project with `mlops-bot config check`.",
        "# Every key: `mlops-bot config schema`; `mlops-bot init --template` writes them all, commented.",
        "",
        "version: 1",
        f"mlflow_experiment: {_scalar(proposal.experiment)}",
        "",
    ]
    if proposal.requirements:
        lines += [
            "training:",
            f"  python: {_scalar(proposal.requirements)} # stages run in a venv built from it, kept while it is unchanged",
            "",
        ]
    if not proposal.models:
        lines += [
            "# No model was found in dvc.yaml: name the stage that writes it and its output.",
            "models: []",
            "# models:",
            "#   - name: my-model",
            "#     stage: train",
            "#     output: model.pkl",
        ]
    else:
        lines.append("models:")
    for model in proposal.models:
        how = "an artifact of type model" if model.source == "artifacts" else "a stage output"
        lines += [
            f"  - name: {_scalar(model.name)} # the MLflow registered-model name",
            f"    stage: {_scalar(model.stage)} # the DVC stage that writes it ({how} in dvc.yaml)",
            f"    output: {_scalar(model.output)}",
            "    flavor: sklearn",
        ]
        if model.metric_files:
            lines.append(f"    # Metrics are read from: {', '.join(model.metric_files)}")
        live = model.metrics[:MAX_GATED]
        if live:
            lines.append("    metrics: # shown on the card and judged by the promotion gate")
            for metric in live:
                lines += [
                    f"      - name: {_scalar(metric.name)}",
                    f"        direction: {metric.direction} # guessed from the name",
                    "        tolerance: 0.0 # how much worse than the champion still passes",
                ]
                limit = metric.limit()
                if limit is not None:
                    key, value = limit
                    lines.append(
                        f"        {key}: {value:g} # the committed dvc.lock has {metric.now:g}: a first model "
                        "is judged by this (5 % margin; set your own)"
                    )
            for metric in model.metrics[MAX_GATED:]:
                lines.append(f"      # - name: {_scalar(metric.name)}")
        else:
            example = model.examples[0] if model.examples else "accuracy"
            held = f" (they hold now: {', '.join(model.examples)})" if model.examples else ""
            lines += [
                f"    # No metric to gate on yet: name one the metrics files hold{held}, e.g.",
                "    # metrics:",
                f"    #   - name: {_scalar(example)}",
                f"    #     direction: {'lower' if LOWER_IS_BETTER.search(example) else 'higher'}",
                "    #     min: 0.8",
            ]
            if not model.metric_files:
                lines.append("    # metrics_from: [evaluate] # the stage or file that writes them")
        if model.training_data:
            lines.append("    training_data: # shown as data lineage on the card")
            lines += [f"      - {_scalar(path)}" for path in model.training_data]
        if model.evaluation_data:
            gated = any(m.name in SCORE_DIRECTIONS for m in live)
            lines += [
                "    # evaluation: # the champion scored with each PR's candidate on the same rows (a fair verdict)",
                f"    #   data: {_scalar(model.evaluation_data)} # a held-out split in dvc.yaml",
                "    #   label: target # the column holding the true label: set it, then uncomment",
            ]
            if not gated:
                lines.append(
                    "    #   metrics: [accuracy] # scores by sklearn's names: f1, roc_auc, rmse, r2 ..."
                )
            lines.append("    #   slices: [] # columns whose values are compared one by one")
        lines += [
            "    # drift: # the scheduled production check (mlops-drift.yml)",
            "    #   current: data/production.csv # production data: a path, glob or DVC-tracked file",
            f"    #   reference: {_scalar(model.training_data[0]) if model.training_data else 'data/train.csv'}",
        ]
    lines += [
        "",
        "promotion:",
        "  on_merge: true # promote when a PR that trained the model merges",
        "",
    ]
    return "\n".join(lines)


def _scalar(value: str) -> str:
    """A YAML scalar for `value`: plain when it is safe, JSON-quoted (valid YAML) otherwise."""
    if re.fullmatch(r"[A-Za-z0-9_][A-Za-z0-9_./@-]*", value) and value.lower() not in {
        "true",
        "false",
        "yes",
        "no",
        "on",
        "off",
        "null",
        "none",
        "~",
    }:
        return value
    return json.dumps(value)
