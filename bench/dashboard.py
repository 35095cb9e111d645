"""Dashboard render time at scale: 50 models x 100 versions x 1,000 checks each.

The real app (`create_app`, dashboard on) serves the pages through its HTTP routes (FastAPI's TestClient,
in process): the store is a real SQLite file holding 50,000 checks; the registry is an in-memory catalog
of 50 models x 100 versions with three metrics each, standing in for MLflow as the page sees it after
the first read (the dashboard caches the registry for 60 s, so a steady render never waits on MLflow);
GitHub's permission answer is cached the same way and stubbed here. The baseline, measured in the same
run, is the same pages over one model with one version and one check: the fixed cost of a page.

    .venv/bin/python bench/dashboard.py [--models 50] [--versions 100] [--checks 1000] [--renders 30]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from fastapi.testclient import TestClient
from sqlalchemy import insert

from bot.adapters.store import Store
from bot.adapters.store.schema import monitoring_checks
from bot.app import create_app
from bot.core.monitoring.history import CheckRecord
from bot.settings import Settings
from bot.web.auth import SESSION_COOKIE, PullStory, Session
from bot.web.views import VersionRow

REPOS = 5  # the models are spread over five repositories
GOAL_MS = 300.0


class Catalog:
    def __init__(self, models: int, versions: int) -> None:
        self.by_repo = {
            f"acme/repo-{r}": [f"model-{m}" for m in range(models) if m % REPOS == r] for r in range(REPOS)
        }
        self.rows = {
            f"model-{m}": [
                VersionRow(
                    version=str(v),
                    run_id=f"run{m}x{v}",
                    aliases=("champion",)
                    if v == versions - 1
                    else ("previous",)
                    if v == versions - 2
                    else (),
                    pr=str(v),
                    git_sha=f"{v:040x}",
                    promoted_at=(dt.datetime(2025, 1, 1, tzinfo=dt.UTC) + dt.timedelta(days=v)).isoformat(),
                    deployment_id=str(1000 + v),
                    metrics={
                        "accuracy": 0.8 + v / (10 * versions),
                        "f1": 0.7 + v / (9 * versions),
                        "auc": 0.9,
                    },
                )
                for v in range(versions, 0, -1)
            ]
            for m in range(models)
        }

    def models(self) -> dict[str, list[str]]:
        return self.by_repo

    def versions(self, model: str) -> list[VersionRow]:
        return self.rows[model]

    def model_url(self, model: str) -> str:
        return ""


class Everyone:
    """GitHub's answers, as the dashboard holds them cached between its look-ups."""

    def permission(self, session: Session, repository: str) -> str:
        return "read"

    def pull_story(self, session: Session, repository: str, number: str, model: str) -> PullStory:
        return PullStory("alice", ("bob",), "success: gates pass")

    def deployments(self, session: Session, repository: str) -> list[dict[str, object]]:
        return [
            {"payload": {"model": "model-0", "version": str(v)}, "created_at": "2025-01-01T00:00:00Z",
             "creator": {"login": "mlops-bot[bot]"}, "environment": "production"}
            for v in range(100)
        ]  # fmt: skip


def _seed(store: Store, models: int, checks: int) -> None:
    start = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)
    rows = []
    for m in range(models):
        repo = f"acme/repo-{m % REPOS}"
        for c in range(checks):
            at = start + dt.timedelta(hours=6 * c)
            record = CheckRecord(
                model=f"model-{m}",
                check_id=f"c{c}",
                checked_at=at.isoformat(),
                drift_share=(c % 10) / 10,
                drifted_columns=("a", "b") if c % 10 > 3 else (),
                performance={"accuracy": 0.9 - (c % 7) / 100},
                quality_status="pass",
                champion_version="99",
                fired=("drift",) if c % 10 > 6 else (),
            )
            rows.append(
                {"repository": repo, "model": record.model, "check_id": record.check_id,
                 "checked_at": at.timestamp(), "facts": record.to_json()}
            )  # fmt: skip
    with store._write() as conn:
        conn.execute(insert(monitoring_checks), rows)


def _client(folder: Path, models: int, versions: int, checks: int) -> tuple[TestClient, str]:
    store = Store(f"sqlite:///{folder / 'bot.db'}")
    _seed(store, models, checks)
    settings = Settings(
        webhook_secret="s",  # noqa: S106  (a benchmark's, nothing is signed)
        database_url=store.url,
        oauth_client_id="x",
        session_secret="bench",  # noqa: S106
    )
    app = create_app(settings, store=store, start_worker=False)
    dashboard = app.state.dashboard
    dashboard.source.catalog = Catalog(models, versions)
    dashboard.auth.users = Everyone()
    session = dashboard.auth.sessions.start("bench", "token")
    client = TestClient(app, cookies={SESSION_COOKIE: dashboard.auth.signer.sign(session.id)})
    return client, "/repos/acme/repo-0/models/model-0"


def _time(client: TestClient, path: str, renders: int) -> dict[str, float]:
    assert client.get(path).status_code == 200  # warm: templates compiled, registry cached
    took = []
    for _ in range(renders):
        began = time.perf_counter()
        answer = client.get(path)
        took.append((time.perf_counter() - began) * 1000)
        assert answer.status_code == 200, answer.text[:200]
    took.sort()
    return {
        "median_ms": statistics.median(took),
        "p95_ms": took[int(0.95 * (len(took) - 1))],
        "bytes": len(answer.content),
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--models", type=int, default=50)
    parser.add_argument("--versions", type=int, default=100)
    parser.add_argument("--checks", type=int, default=1000)
    parser.add_argument("--renders", type=int, default=30)
    args = parser.parse_args()
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        for label, size in (("baseline", (1, 1, 1)), ("full", (args.models, args.versions, args.checks))):
            folder = Path(tmp) / label
            folder.mkdir()
            client, model_page = _client(folder, *size)
            results[label] = {
                "models x versions x checks": "x".join(map(str, size)),
                "index": _time(client, "/", args.renders),
                "model": _time(client, model_page, args.renders),
            }
    for page in ("index", "model"):
        full, base = results["full"][page], results["baseline"][page]
        results[f"{page} ratio"] = round(full["median_ms"] / base["median_ms"], 2)
        results[f"{page} goal met"] = full["p95_ms"] < GOAL_MS
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
