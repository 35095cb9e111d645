"""A check's monitoring run on a real `mlflow server`: its report is an artifact the MLflow UI link points
at and the server hands out, logging the check again reuses the run, and it is never a training candidate."""

from __future__ import annotations

import urllib.request
from pathlib import Path

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


def test_a_kept_card_and_job_log_are_artifacts_of_their_run_the_mlflow_link_reaches(
    mlflow_server: MlflowServer, tmp_path: Path
) -> None:
    """Without the bot's store (a runner with an MLflow server), the card's link is the MLflow UI's page of
    `mlops-bot/card.md` of its candidate run, and the job's log is an artifact of the same run."""
    from bot.jobs.job_reports import JobReports
    from bot.logs import ENV_CONTEXT, STEP_LOG_ENV

    registry = MlflowRegistry(mlflow_server.url, repository="acme/carded")
    experiment = registry.experiment_id("carded-training")
    run_id = registry.client.create_run(experiment).info.run_id
    log = tmp_path / "step0-train.log"
    log.write_text("carded: trained, accuracy 0.93\n")
    environ = {
        "MLOPS_BOT_MLFLOW_TRACKING_URI": mlflow_server.url,
        ENV_CONTEXT["delivery"]: "job:train:acme/carded#3@abc",
        STEP_LOG_ENV: str(log),
    }
    keeper = JobReports.from_environment("acme/carded", environ=environ)
    links = keeper.keep_card("carded", 3, "a" * 40, "## Model card: carded\n", run_id)
    assert (
        links.url
        == f"{mlflow_server.url}/#/experiments/{experiment}/runs/{run_id}/artifacts/mlops-bot/card.md"
    )
    assert keeper.card_url("carded", 3, "a" * 40, run_id) == links.url  # what the Check Run linked
    keeper.keep_log("train", [run_id])
    for path, body in (
        ("mlops-bot/card.md", b"## Model card: carded\n"),
        ("mlops-bot/train-job_train_acme_carded_3_abc.log", b"carded: trained, accuracy 0.93"),
    ):
        served = f"{mlflow_server.url}/get-artifact?path={path}&run_uuid={run_id}"
        with urllib.request.urlopen(served, timeout=30) as answer:  # noqa: S310 (loopback)
            assert answer.read() == body, path
    assert keeper.notes == []
