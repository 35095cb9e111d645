"""The bento builds while the Deployment is recorded (issue 12): either one failing keeps what the other did.

Real parts: the GitHub stand-in (tokens narrowed as GitHub narrows them), a sqlite MLflow registry. The bento
builder is a recording stand-in for `bentoml build` (what matters here is whether, and how often, it runs)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from github import GithubException

from bot.core.config import CONFIG_PATH
from bot.core.tags import RunTags
from bot.jobs.common import JobEnv
from bot.jobs.promote import promote
from bot.settings import Settings
from bot.standin import StandIn
from tests.jobs.test_promote_environments import LOCK, MODEL, REPO, model_file  # noqa: F401
from tests.support.mlflow_store import sqlite_registry

CONFIG = """\
models:
  - name: churn
    stage: train
    output: model.pkl
    metrics:
      - name: accuracy
        tolerance: 0.5
"""
NO_DEPLOYMENTS = {"metadata": "read", "contents": "read", "issues": "write", "pull_requests": "write"}


class World:
    def __init__(self, standin: StandIn, tmp: Path, tmp_base: Path, model: Path) -> None:
        self.standin, self.tmp = standin, tmp
        src = tmp / "src"
        (src / ".github").mkdir(parents=True)
        (src / CONFIG_PATH).write_text(CONFIG)
        standin.create_repo(REPO, source=src)
        installation = standin.install_app(REPO)
        self.tokens = {
            "all": standin.installation_token(installation),
            "no deployments": standin.installation_token(installation, permissions=NO_DEPLOYMENTS),
        }
        self.registry = sqlite_registry(tmp / "mlflow", base=tmp_base)
        self.registry.log_training_run(
            experiment="alongside", model=MODEL, run_name="h1", params={}, metrics={"accuracy": 0.9},
            tags={RunTags.OUTPUT_HASH: "h1", RunTags.REPO: REPO}, artifacts={}, model_file=model,
        )  # fmt: skip
        self.checkout = tmp / "checkout"
        self.checkout.mkdir()
        (self.checkout / "dvc.lock").write_text(LOCK("h1"))
        self.built: list[str] = []

    def promote(self, token: str, *, fail_build: bool = False) -> Any:
        settings = Settings(github_token=self.tokens[token], github_base_url=self.standin.base_url,
                            github_throttle=False, mlflow_tracking_uri=self.registry.tracking_uri,
                            database_url=f"sqlite:///{self.tmp / 'bot.db'}")  # fmt: skip

        def build(version: Any, git_sha: str) -> tuple[str, str]:
            self.built.append(version.version)
            if fail_build:
                raise RuntimeError("bentoml build: no space left on device")
            return f"churn:v{version.version}", ""

        sha = self.standin.repo(REPO).git.branch_sha("main")
        assert sha is not None
        [outcome] = promote(JobEnv(settings=settings, repo=REPO), self.checkout, sha=sha, models=[MODEL],
                            pr=None, reply_to=None, dry_run=False, build_bento=build)  # fmt: skip
        return outcome


@pytest.fixture
def world(tmp_path: Path, tmp_path_factory: pytest.TempPathFactory, model_file: Path) -> Iterator[World]:  # noqa: F811
    with StandIn(tmp_path / "github") as standin:
        yield World(standin, tmp_path, tmp_path_factory.getbasetemp(), model_file)


def test_both_the_bento_and_the_deployment_are_made(world: World) -> None:
    outcome = world.promote("all")
    assert (outcome.status, outcome.bento_tag, world.built) == ("promoted", "churn:v1", ["1"])
    [deployment] = world.standin.deployments(REPO)
    assert deployment.id == outcome.deployment_id and deployment.statuses[-1].state == "success"


def test_a_deployment_github_refuses_keeps_the_built_bento_for_the_retry(world: World) -> None:
    with pytest.raises(GithubException) as raised:
        world.promote("no deployments")
    assert raised.value.status == 403
    assert (
        world.registry.versions(MODEL)[0].tags.get("mlops_bot.bento_tag") == "churn:v1"
    )  # the build's result

    outcome = world.promote("all")  # the job's retry
    assert (outcome.status, outcome.bento_tag) == ("promoted", "churn:v1")
    assert world.built == ["1"], "the retry built the same bento again"


def test_a_failed_build_fails_the_recorded_deployment_with_the_reason(world: World) -> None:
    outcome = world.promote("all", fail_build=True)
    assert outcome.status == "failed" and "no space left on device" in outcome.reasons[0]
    [deployment] = world.standin.deployments(REPO)
    assert deployment.statuses[-1].state == "failure"
    assert "no space left on device" in deployment.statuses[-1].description
