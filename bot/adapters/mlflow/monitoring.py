"""A monitoring run per scheduled check: the check's report and log as MLflow artifacts, its numbers as
metrics, so the MLflow UI shows the champion's production history next to its training runs."""

from __future__ import annotations

import tempfile
from collections.abc import Mapping
from pathlib import Path

from bot.adapters.mlflow.runs import MlflowRuns

MONITORING_EXPERIMENT = "mlops-bot-monitoring"
CHECK_TAG = "mlops_bot.check_id"
# Not RunTags.MODEL / RunTags.REPO: a monitoring run must never be found as a training candidate.
MONITORED_MODEL_TAG = "mlops_bot.monitored_model"
MONITORED_REPO_TAG = "mlops_bot.monitored_repo"


def log_check_run(
    runs: MlflowRuns,
    *,
    repository: str,
    model: str,
    check_id: str,
    artifacts: Mapping[str, bytes],
    metrics: Mapping[str, float],
    tags: Mapping[str, str],
) -> tuple[str, str]:
    """(experiment id, run id) of the check's monitoring run, created once per check: logging the same
    check again reuses its run and overwrites its artifacts."""
    from mlflow.entities import Metric, RunTag

    client = runs.client
    experiment = runs.experiment_id(MONITORING_EXPERIMENT)
    found = client.search_runs(
        [experiment],
        filter_string=(
            f"tags.`{CHECK_TAG}` = '{_quoted(check_id)}' AND "
            f"tags.`{MONITORED_MODEL_TAG}` = '{_quoted(model)}'"
        ),
        max_results=1,
    )
    if found:
        run_id = str(found[0].info.run_id)
    else:
        all_tags = {
            **tags,
            CHECK_TAG: check_id,
            MONITORED_MODEL_TAG: model,
            MONITORED_REPO_TAG: repository,
            "mlflow.runName": f"{model} check {check_id}",
        }
        run_id = str(client.create_run(experiment, tags=all_tags).info.run_id)
        stamp = int(client.get_run(run_id).info.start_time or 0)
        client.log_batch(
            run_id,
            metrics=[Metric(k, float(v), stamp, 0) for k, v in metrics.items()],
            tags=[RunTag(k, v) for k, v in all_tags.items()],
        )
    with tempfile.TemporaryDirectory(prefix="mlops-bot-check-") as folder:
        for name, body in artifacts.items():
            path = Path(folder) / name
            path.write_bytes(body)
            client.log_artifact(run_id, str(path))
    if not found:
        client.set_terminated(run_id, "FINISHED")
    return experiment, run_id


def _quoted(value: str) -> str:
    return value.replace("\\", "\\\\").replace("'", "\\'")
