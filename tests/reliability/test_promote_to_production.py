"""Issue 15 through the real bot: staging → production with a required reviewer on production's GitHub
environment. The stand-in (protection rules set by the admin through PyGithub), the real bot in this process
(app, queue, worker, handlers) with the local executor running `mlops-bot promote --to` as a job step, and a
sqlite MLflow store.

An admin who is not production's reviewer is refused with the reason; the reviewer's own command moves the
version on: `champion` serves it, and the repository's Deployments show one to staging and one to production.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from github import Auth, Github
from github.EnvironmentProtectionRuleReviewer import ReviewerParams

from bot.adapters.mlflow import MlflowRegistry, RunTags
from bot.core.config import CONFIG_PATH
from bot.core.tags import VersionTags
from tests.support.mlflow_store import sqlite_registry
from tests.support.tiny_model import tiny_model

from .harness import ADMIN, CONFIG, MODEL, REPO, bot_in_process, make_world, wait_for

pytestmark = [pytest.mark.slow, pytest.mark.integration]

REVIEWER = "rita"
STAGED = CONFIG + "promotion:\n  environments: [staging, production]\n"


@pytest.fixture
def model_file(tmp_path: Path) -> Path:
    return tiny_model(tmp_path)


def staged_version(store: MlflowRegistry, deployment_id: int) -> str:
    """What a merge left: v1 in staging, with its staging Deployment and arrival time."""
    ours = MlflowRegistry(store.tracking_uri, repository=REPO)
    run = ours.log_training_run(
        experiment="staged",
        model=MODEL,
        run_name="h1",
        params={},
        metrics={"f1": 0.9},
        tags={RunTags.OUTPUT_HASH: "h1", RunTags.REPO: REPO},
        artifacts={},
        model_file=Path(store.tracking_uri.removeprefix("sqlite:///")).parent / "model.pkl",
    )
    version = ours.register(MODEL, run, {}).version
    ours.set_alias(MODEL, "staging", version)
    ours.set_version_tag(MODEL, version, f"{VersionTags.DEPLOYMENT}.staging", str(deployment_id))
    ours.set_version_tag(MODEL, version, f"{VersionTags.PROMOTED_AT}.staging", "2026-12-01T00:00:00+00:00")
    return version


def test_a_required_reviewer_moves_staging_on_to_production(
    tmp_path: Path,
    tmp_path_factory: pytest.TempPathFactory,
    keys: tuple[str, str],
    model_file: Path,
    fast_github_retries: None,
) -> None:
    private, public = keys
    (tmp_path / "mlflow").mkdir()
    (tmp_path / "mlflow" / "model.pkl").write_bytes(model_file.read_bytes())
    store = sqlite_registry(tmp_path / "mlflow", base=tmp_path_factory.getbasetemp())
    world = make_world(
        tmp_path, database_url=f"sqlite:///{tmp_path / 'bot.db'}", private_key=private, public_key=public,
        executor="local",
    )  # fmt: skip
    overrides = {"mlflow_tracking_uri": store.tracking_uri, "stage_isolation": "none"}
    fields = type(world.settings).model_fields
    world.settings = world.settings.model_copy(update={k: v for k, v in overrides.items() if k in fields})
    standin = world.standin
    standin.commit(REPO, "main", {CONFIG_PATH: STAGED}, "through staging", author=ADMIN)
    admin_token = standin.create_user("ada")
    standin.set_permission(REPO, "ada", "admin")
    standin.create_user(REVIEWER)
    standin.set_permission(REPO, REVIEWER, "maintain")
    admin = Github(base_url=standin.base_url, auth=Auth.Token(admin_token), retry=None)
    admin.get_repo(REPO).create_environment(
        "production", reviewers=[ReviewerParams("User", standin.users[REVIEWER].id)]
    )
    staging = admin.get_repo(REPO).create_deployment(
        ref="main", environment="staging", payload={"version": "1"}, required_contexts=[], auto_merge=False
    )
    staging.create_status("success")
    assert staged_version(store, staging.id) == "1"

    with bot_in_process(world):
        number = standin.create_issue(REPO, title="ship churn", body="", author=ADMIN).number
        standin.comment(REPO, number, f"/promote {MODEL} --to production", author=ADMIN)
        [refusal] = wait_for(
            lambda: [c for c in world.bot_comments(number) if "not moved" in c.body],
            "the refusal",
            timeout=120,
        )
        assert f"requires a review by one of: @{REVIEWER}" in refusal.body
        assert f"@{ADMIN} is not one of them" in refusal.body
        assert store.version_by_alias(MODEL, "champion") is None

        standin.comment(REPO, number, f"/promote {MODEL} --to production", author=REVIEWER)
        [done] = wait_for(
            lambda: [c for c in world.bot_comments(number) if "v1 moved from" in c.body],
            "the move",
            timeout=120,
        )
    assert "v1 moved from `staging` to `production`" in done.body
    champion = store.version_by_alias(MODEL, "champion")
    assert champion is not None and champion.version == "1"
    shown = sorted(
        (d.environment, d.payload.get("version"), d.statuses[-1].state) for d in standin.deployments(REPO)
    )
    assert shown == [("production", "1", "success"), ("staging", "1", "success")]
