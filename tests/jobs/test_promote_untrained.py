"""`promotion.missing_candidate`: a merge that nothing trained is refused with how to fix it, or trained on the spot."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.adapters.mlflow import MlflowRegistry
from bot.core.config import CONFIG_PATH
from bot.jobs.common import JobEnv
from bot.jobs.promote import promote
from bot.settings import Settings
from bot.standin import StandIn

pytestmark = pytest.mark.slow


@pytest.mark.parametrize("mode", ["refuse", "train"])
def test_merged_without_training(sample: Path, registry: MlflowRegistry, tmp_path: Path, mode: str) -> None:
    config = (sample / CONFIG_PATH).read_text() + f"promotion:\n  missing_candidate: {mode}\n"
    src = tmp_path / "src"
    (src / ".github").mkdir(parents=True)
    (src / CONFIG_PATH).write_text(config)
    with StandIn(tmp_path / "github") as gh:
        gh.create_repo("acme/bc", source=src)
        sha = gh.repo("acme/bc").git.branch_sha("main")
        assert sha is not None
        token = gh.installation_token(gh.install_app("acme/bc"))
        settings = Settings(
            github_token=token,
            github_base_url=gh.base_url,
            github_throttle=False,
            mlflow_tracking_uri=registry.tracking_uri,
            database_url=f"sqlite:///{tmp_path / 'bot.db'}",
        )
        env = JobEnv(settings=settings, repo="acme/bc")
        env.__dict__["registry"] = registry
        [outcome] = promote(
            env, sample, sha=sha, models=["breast-cancer"], pr=None, reply_to=None, dry_run=False
        )
        gh.check()
    if mode == "refuse":
        assert outcome.status == "no-candidate" and registry.versions("breast-cancer") == []
        assert "train" in outcome.reasons[0].lower()
    else:
        assert outcome.status == "promoted" and outcome.version == "1"
        champion = registry.version_by_alias("breast-cancer", "champion")
        assert champion is not None and champion.metrics.get("accuracy", 0) > 0.9
