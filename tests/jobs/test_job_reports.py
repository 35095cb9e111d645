"""The logs of the bot's jobs and its model cards are kept where a reader can open them: the bot's store
(under the id whose link the step posted before it ended) and the MLflow run they are about; scrubbed of
credentials and host paths; a retried job keeps one report per (thing, kind)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import func, select

from bot.adapters.store import Store
from bot.adapters.store.schema import reports
from bot.core.reports import card_report_id
from bot.jobs.job_reports import JobReports, job_log_url, keep_step_log
from bot.logs import ENV_CONTEXT, STEP_LOG_ENV
from tests.support.mlflow_store import sqlite_registry

REPO = "acme/churn"
BOT = "http://bot.example"


def _environ(tmp_path: Path, log: Path, tracking_uri: str = "") -> dict[str, str]:
    environ = {
        ENV_CONTEXT["delivery"]: "job:promote:acme/churn@abc",
        ENV_CONTEXT["repo"]: REPO,
        STEP_LOG_ENV: str(log),
        "MLOPS_BOT_DATABASE_URL": f"sqlite:///{tmp_path / 'bot.db'}",
        "MLOPS_BOT_PUBLIC_URL": BOT,
    }
    if tracking_uri:
        environ["MLOPS_BOT_MLFLOW_TRACKING_URI"] = tracking_uri
    return environ


def _count(store: Store) -> int:
    with store._reader.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(reports)).scalar_one())


@pytest.mark.slow
def test_a_job_step_keeps_its_log_where_its_reply_linked_it(tmp_path: Path) -> None:
    registry = sqlite_registry(tmp_path / "mlflow", base=tmp_path)
    experiment = registry.client.create_experiment("training")
    run_id = registry.client.create_run(experiment).info.run_id
    log = tmp_path / "jobs" / "j1" / "step0-promote.log"
    log.parent.mkdir(parents=True)
    token = "ghs_" + "x" * 36
    log.write_text(
        f"promoting from {log.parent}/repo\nAuthorization: Bearer {token}\nbreast-cancer: promoted v2\n"
    )
    outcome = tmp_path / "promote.json"
    outcome.write_text(json.dumps([{"model": "churn", "status": "promoted", "run_id": run_id}]))
    environ = _environ(tmp_path, log, registry.tracking_uri)

    url = job_log_url(REPO, "promote", environ)  # what the reply and the Deployment linked, before the end
    assert url.startswith(f"{BOT}/reports/")
    assert keep_step_log("promote", outcome, environ) == []
    store = Store(environ["MLOPS_BOT_DATABASE_URL"])
    kept = store.report(url.rsplit("/", 1)[1])
    assert kept is not None and kept.repository == REPO and kept.kind == "job-log"
    text = kept.body.decode()
    assert "promoted v2" in text and token not in text and str(tmp_path) not in text
    artifacts = [a.path for a in registry.client.list_artifacts(run_id, "mlops-bot")]
    assert artifacts == ["mlops-bot/promote-job_promote_acme_churn_abc.log"]  # on the run it promoted

    log.write_text("retried: promoted v2\n")
    keep_step_log("promote", outcome, environ)  # the job retried: the same report, replaced
    assert _count(store) == 1
    kept = store.report(url.rsplit("/", 1)[1])
    assert kept is not None and kept.body == b"retried: promoted v2"
    store.close()


def test_outside_the_bots_executor_no_bot_link_is_promised(tmp_path: Path) -> None:
    log = tmp_path / "step0-rollback.log"
    log.write_text("rolled back\n")
    environ = _environ(tmp_path, log)
    for missing in (ENV_CONTEXT["delivery"], STEP_LOG_ENV, "MLOPS_BOT_DATABASE_URL"):
        partial = {k: v for k, v in environ.items() if k != missing}
        assert job_log_url(REPO, "rollback", partial) == "", missing  # an Actions run links itself instead
        assert keep_step_log("rollback", None, partial) == []
    assert not (tmp_path / "bot.db").exists()  # nothing was written anywhere


def test_a_card_is_kept_once_per_pull_request_commit_and_model(tmp_path: Path) -> None:
    environ = _environ(tmp_path, tmp_path / "none.log")
    keeper = JobReports.from_environment(REPO, environ=environ)
    assert keeper.store is not None
    url = keeper.card_url("churn", 7, "a" * 40, "")
    assert url == f"{BOT}/reports/{card_report_id(REPO, 'churn', 7, 'a' * 40)}"
    links = keeper.keep_card("churn", 7, "a" * 40, "## churn\n\nfirst push", "")
    keeper.keep_card("churn", 7, "a" * 40, "## churn\n\nthe same push, card rebuilt", "")
    assert links.url == url and _count(keeper.store) == 1
    kept = keeper.store.report(url.rsplit("/", 1)[1])
    assert kept is not None and kept.kind == "model-card" and b"card rebuilt" in kept.body
    keeper.keep_card("churn", 7, "b" * 40, "## churn\n\nnext push", "")
    assert _count(keeper.store) == 2  # the next commit's Check Run links its own card
    keeper.close()


def test_on_an_actions_runner_the_card_is_linked_to_the_run_whose_summary_shows_it(tmp_path: Path) -> None:
    run = "https://github.com/acme/churn/actions/runs/42"
    keeper = JobReports.from_environment(REPO, ci_url=run, environ={"GITHUB_REPOSITORY": REPO})
    assert keeper.store is None and keeper.runs is None
    assert keeper.card_url("churn", 7, "a" * 40, "") == run
    assert keeper.keep_card("churn", 7, "a" * 40, "## churn", "").url == run
