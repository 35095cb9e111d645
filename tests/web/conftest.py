"""One world for the dashboard's tests: the GitHub stand-in (with the App's OAuth client), a real sqlite
MLflow registry holding a model with versions, the bot's store with a monitoring history and a kept
report, and the bot itself over real HTTP (`mlops-bot serve`'s app under uvicorn)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from bot.adapters.store import Store, StoredReport
from bot.app import create_app
from bot.core.monitoring.history import CheckRecord
from bot.core.reports import report_id
from bot.core.tags import MODEL_REPO_TAG, VersionTags
from bot.demo.world import BotServer, free_port
from bot.settings import Settings
from bot.standin import StandIn
from bot.standin.oauth import register_oauth_client
from tests.support.mlflow_store import sqlite_registry

REPO = "acme/churn"
MODEL = "churn"
CLIENT_ID = "Iv1.dashboard"
CLIENT_SECRET = "dashboard-client-secret"


@dataclass
class World:
    standin: StandIn
    store: Store
    bot_url: str
    report_path: str  # the bot's page of the newest check's report
    champion_pr: int  # merged by alice, approved by bob
    settings: Settings  # what the bot was started with (a second instance over the same store uses it)

    def sign_in(self, login: str) -> httpx.Client:
        """A browser-like client signed in as `login` through the OAuth web flow (authorize page included)."""
        client = httpx.Client(base_url=self.bot_url, timeout=20)
        to_github = client.get("/login")
        assert to_github.status_code == 303
        authorize = httpx.URL(to_github.headers["location"])
        assert httpx.get(authorize).status_code == 200  # GitHub's sign-in and authorize page
        granted = httpx.post(
            f"{self.standin.html_url}/login/oauth/authorize", data={**dict(authorize.params), "login": login}
        )
        back = httpx.URL(granted.headers["location"])
        assert str(back).startswith(self.bot_url + "/login/callback")
        landed = client.get(back.raw_path.decode())
        assert landed.status_code == 303, landed.text
        return client


def _seed_registry(folder: Path, base: Path, champion_pr: int) -> str:
    registry = sqlite_registry(folder, base=base)
    client = registry.client
    experiment = client.create_experiment("churn-training")
    client.create_registered_model(MODEL, tags={MODEL_REPO_TAG: REPO})
    for n, (accuracy, f1) in enumerate([(0.86, 0.80), (0.89, 0.84), (0.91, 0.87), (0.90, 0.86)], start=1):
        run = client.create_run(experiment, tags={"mlops_bot.model": MODEL, "mlops_bot.repo": REPO})
        client.log_metric(run.info.run_id, "accuracy", accuracy)
        client.log_metric(run.info.run_id, "f1", f1)
        client.set_terminated(run.info.run_id)
        tags = {
            VersionTags.PR: str(champion_pr if n == 3 else 10 + n),
            VersionTags.GIT_SHA: f"{n:02d}" + "ab" * 19,
            VersionTags.PROMOTED_AT: f"2025-01-0{n}T12:00:00+00:00",
            VersionTags.DEPLOYMENT: str(100 + n),
        }
        client.create_model_version(MODEL, f"runs:/{run.info.run_id}/model", run.info.run_id, tags=tags)
    client.set_registered_model_alias(MODEL, "champion", "3")
    client.set_registered_model_alias(MODEL, "previous", "2")
    return registry.tracking_uri


def _seed_store(store: Store, bot_url: str) -> str:
    rid = report_id(REPO, MODEL, "check-6", "drift-report")
    store.save_report(
        StoredReport(rid, REPO, MODEL, "drift-report", "drift-churn.html", "text/html; charset=utf-8",
                     b"<!doctype html><title>Evidently</title><h1>Data drift</h1>", "", 0.0)
    )  # fmt: skip
    shares = [0.0, 0.1, 0.1, 0.4, 0.6, 0.6]
    for n, share in enumerate(shares, start=1):
        store.record_check(
            REPO,
            CheckRecord(
                model=MODEL,
                check_id=f"check-{n}",
                checked_at=f"2025-01-1{n}T06:00:00+00:00",
                drift_share=share,
                dataset_drift=share >= 0.3,
                drifted_columns=("tenure", "charges") if share >= 0.3 else (),
                performance={"accuracy": 0.9 - 0.02 * n},
                performance_status="pass",
                quality_status="pass",
                champion_version="3",
                promoted_at="2025-01-03T12:00:00+00:00",
                fired=("drift",) if n >= 5 else (),
                issue=7 if n >= 4 else None,
                retrain_pr=8 if n >= 5 else None,
                report_url=f"{bot_url}/reports/{rid}" if n == len(shares) else "",
                schedule="next retrain due on 2025-02-02 12:00 UTC (schedule every 30d)",
            ),
        )
    store.enqueue("job:drift:acme/churn@x", "mlops-bot", "drift", {"repository": {"full_name": REPO}})
    claimed = store.claim("w-test", lease_seconds=60)
    assert claimed is not None
    store.fail(claimed.id, "w-test", "DriftConfigError: prod.csv: no such file", retry_in=None)
    return f"/reports/{rid}"


def _record_deployments(standin: StandIn, callback: str) -> None:
    """What the bot's promote and rollback jobs leave on GitHub: v3 and v4 promoted, then v4 rolled back to
    v3 (created here with alice's user token, through the REST API)."""
    granted = httpx.post(
        f"{standin.html_url}/login/oauth/authorize",
        data={"client_id": CLIENT_ID, "redirect_uri": callback, "login": "alice"},
    )
    code = httpx.URL(granted.headers["location"]).params["code"]
    token = httpx.post(
        f"{standin.html_url}/login/oauth/access_token",
        data={"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET, "code": code},
        headers={"Accept": "application/json"},
    ).json()["access_token"]
    for payload in (
        {"model": MODEL, "version": "3"},
        {"model": MODEL, "version": "4"},
        {"model": MODEL, "version": "3", "rollback_from": "4"},
        {"model": "another-model", "version": "9"},
    ):
        made = httpx.post(
            f"{standin.base_url}/repos/{REPO}/deployments",
            headers={"Authorization": f"Bearer {token}"},
            json={"ref": "main", "environment": "production", "payload": payload, "required_contexts": []},
        )
        assert made.status_code == 201, made.text


@pytest.fixture(scope="session")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    base = tmp_path_factory.mktemp("dashboard")
    port = free_port()
    bot_url = f"http://127.0.0.1:{port}"
    with StandIn(base / "github") as standin:
        for login in ("alice", "bob", "eve"):
            standin.create_user(login)
        source = base / "src"
        source.mkdir()
        (source / "README.md").write_text("churn model\n")
        standin.create_repo(REPO, source=source, private=True)
        standin.set_permission(REPO, "alice", "admin")
        standin.set_permission(REPO, "bob", "read")
        register_oauth_client(standin, CLIENT_ID, CLIENT_SECRET, f"{bot_url}/login/callback")
        _record_deployments(standin, f"{bot_url}/login/callback")
        standin.commit(
            REPO, "stronger-model", {"params.yaml": "C: 0.5\n"}, "C=0.5", author="alice", base="main"
        )
        champion_pr = standin.open_pull(REPO, head="stronger-model", title="Stronger model", author="alice")
        standin.approve(REPO, champion_pr, by="bob")
        head = standin.pull(REPO, champion_pr).head_sha
        with standin.lock:  # the card's check run, as the bot's App leaves it on the PR's head
            standin.new_check_run(
                standin.repo(REPO),
                head_sha=head,
                name=f"mlops-bot / {MODEL}",
                status="completed",
                conclusion="success",
                started_at=None,
                completed_at=None,
                output={"title": "accuracy 0.91 (+0.02 vs champion): gates pass", "summary": "card"},
                details_url=None,
                external_id=None,
                app_id=None,
            )
        standin.merge_pull(REPO, champion_pr, by="alice", method="squash")
        tracking = _seed_registry(base / "mlflow", base, champion_pr)
        store = Store(f"sqlite:///{base / 'bot.db'}")
        report_path = _seed_store(store, bot_url)
        settings = Settings(
            webhook_secret="s",
            database_url=store.url,
            github_base_url=standin.base_url,
            mlflow_tracking_uri=tracking,
            public_url=bot_url,
            oauth_client_id=CLIENT_ID,
            oauth_client_secret=CLIENT_SECRET,
            session_secret="test-session-secret",
        )
        server = BotServer(create_app(settings, store=store, start_worker=False), port)
        server.start()
        try:
            yield World(standin, store, bot_url, report_path, champion_pr, settings)
        finally:
            server.stop()
            store.close()
