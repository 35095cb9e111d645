"""A check's monitoring run on a real `mlflow server`: its report is an artifact the MLflow UI link points
at and the server hands out, logging the check again reuses the run, and it is never a training candidate."""

from __future__ import annotations

import urllib.request

import pytest

from bot.adapters.mlflow import MlflowRegistry
from bot.adapters.mlflow.monitoring import log_check_run
from bot.core.reports import mlflow_artifact_url
from tests.support.mlflow_server import MlflowServer

pytestmark = [pytest.mark.slow, pytest.mark.integration]

PAGE = b"<!doctype html><title>Evidently</title><h1>Data drift</h1>"


def test_the_report_is_an_artifact_the_mlflow_link_reaches(mlflow_server: MlflowServer) -> None:
    registry = MlflowRegistry(mlflow_server.url, repository="acme/monitored")

    def log() -> tuple[str, str]:
        return log_check_run(
            registry,
            repository="acme/monitored",
            model="monitored",
            check_id="c-1",
            artifacts={"drift-monitored.html": PAGE, "check-monitored.log": b"monitored: DATASET DRIFT\n"},
            metrics={"drift_share": 0.5},
            tags={"mlops_bot.champion_version": "2"},
        )

    experiment, run_id = log()
    url = mlflow_artifact_url(mlflow_server.url, experiment, run_id, "drift-monitored.html")
    assert (
        url == f"{mlflow_server.url}/#/experiments/{experiment}/runs/{run_id}/artifacts/drift-monitored.html"
    )
    with urllib.request.urlopen(f"{mlflow_server.url}/", timeout=30) as ui:  # noqa: S310 (loopback)
        assert ui.status == 200  # the UI that routes the link's fragment
    artifact = f"{mlflow_server.url}/get-artifact?path=drift-monitored.html&run_uuid={run_id}"
    with urllib.request.urlopen(artifact, timeout=30) as served:  # noqa: S310 (loopback)
        assert served.read() == PAGE
    assert registry.client.get_run(run_id).data.metrics["drift_share"] == 0.5

    assert log() == (experiment, run_id)  # the same check: the same run
    assert registry.find_runs("monitored", {}) == []  # a monitoring run is never a training candidate
