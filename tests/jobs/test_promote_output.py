"""What `mlops-bot promote` prints and writes with --json is for people and scripts: plain reasons, never
the hidden markers the bot keys its GitHub replies by (issue 16)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bot.adapters.mlflow import MlflowRegistry
from bot.cli import main
from bot.core.config import CONFIG_PATH
from bot.standin import StandIn

pytestmark = pytest.mark.slow


def test_a_refused_promotion_says_why_without_hidden_markers(
    sample: Path, registry: MlflowRegistry, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    src = tmp_path / "src"
    (src / ".github").mkdir(parents=True)
    (src / CONFIG_PATH).write_text((sample / CONFIG_PATH).read_text())
    with StandIn(tmp_path / "github") as gh:
        gh.create_repo("acme/bc", source=src)
        sha = gh.repo("acme/bc").git.branch_sha("main")
        assert sha is not None
        monkeypatch.setenv("MLOPS_BOT_GITHUB_TOKEN", gh.installation_token(gh.install_app("acme/bc")))
        monkeypatch.setenv("MLOPS_BOT_GITHUB_BASE_URL", gh.base_url)
        monkeypatch.setenv("MLOPS_BOT_GITHUB_THROTTLE", "false")
        monkeypatch.setenv("MLOPS_BOT_MLFLOW_TRACKING_URI", registry.tracking_uri)
        monkeypatch.setenv("MLOPS_BOT_DATABASE_URL", f"sqlite:///{tmp_path / 'bot.db'}")
        out = tmp_path / "promote.json"
        argv = ["promote", "--repo", "acme/bc", "--sha", sha, "--repo-dir", str(sample), "--no-bento"]
        code = main([*argv, "--json", str(out)])

    printed = capsys.readouterr().out
    [outcome] = json.loads(out.read_text())
    assert code == 0 and outcome["status"] == "no-candidate"
    assert "<!--" not in printed and "<!--" not in out.read_text()
    assert printed.startswith("breast-cancer: no-candidate ")
    assert "train" in outcome["reasons"][0].lower()
