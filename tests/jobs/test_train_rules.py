"""`mlops-bot train` follows the default branch's rules, never the checkout's (issue 18 finding 7).

A pull request that renames the MLflow experiment and the model in its own `.github/mlops-bot.yml` still
trains into the default branch's experiment, under the default branch's model name. Real parts: the trained
sample DVC project, the GitHub stand-in (read through PyGithub), a sqlite MLflow store.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.adapters.mlflow import MlflowRegistry, RunTags
from bot.cli import main
from bot.core.config import CONFIG_PATH
from bot.jobs.train import results_from_json
from bot.standin import StandIn
from tests.support.sample_repo import MODEL

REPO = "acme/breast"


@pytest.fixture
def github(sample: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[StandIn]:
    """acme/breast on the stand-in, its default branch holding the sample's own config, and the variables a
    job step gets (GITHUB_REPOSITORY, GITHUB_TOKEN, GITHUB_API_URL)."""
    src = tmp_path / "default-branch"
    (src / ".github").mkdir(parents=True)
    (src / CONFIG_PATH).write_text((sample / CONFIG_PATH).read_text())
    with StandIn(tmp_path / "github") as standin:
        standin.create_repo(REPO, source=src)
        token = standin.installation_token(standin.install_app(REPO))
        monkeypatch.setenv("GITHUB_REPOSITORY", REPO)
        monkeypatch.setenv("GITHUB_TOKEN", token)
        monkeypatch.setenv("GITHUB_API_URL", standin.base_url)
        monkeypatch.setenv("MLOPS_BOT_GITHUB_THROTTLE", "false")
        monkeypatch.delenv("GITHUB_EVENT_PATH", raising=False)
        yield standin
        standin.check()


def hijack_the_checkout_config(sample: Path) -> None:
    text = (sample / CONFIG_PATH).read_text()
    assert text.count("mlflow_experiment: breast-cancer") == 1 and text.count(f"- name: {MODEL}") == 1
    text = text.replace("mlflow_experiment: breast-cancer", "mlflow_experiment: chosen-by-the-pr")
    (sample / CONFIG_PATH).write_text(text.replace(f"- name: {MODEL}", "- name: stolen-name"))


@pytest.mark.slow
def test_a_pr_config_does_not_choose_where_training_logs(
    sample: Path,
    registry: MlflowRegistry,
    github: StandIn,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("MLFLOW_TRACKING_URI", registry.tracking_uri)
    hijack_the_checkout_config(sample)
    out = tmp_path / "train.json"

    assert main(["train", "--repo-dir", str(sample), "--json", str(out), "--no-push"]) == 0

    [result] = results_from_json(out.read_text())
    assert result.ok and result.run is not None and result.model == MODEL
    found = registry.client.get_run(result.run.run_id)
    assert registry.client.get_experiment(found.info.experiment_id).name == "breast-cancer"
    assert result.run.tags[RunTags.MODEL] == MODEL and result.run.tags[RunTags.REPO] == REPO
    assert registry.client.get_experiment_by_name("chosen-by-the-pr") is None


def test_an_offline_config_is_refused_when_github_is_set(
    sample: Path, github: StandIn, capsys: pytest.CaptureFixture[str]
) -> None:
    hijack_the_checkout_config(sample)
    assert main(["train", "--repo-dir", str(sample), "--offline-config", str(sample / CONFIG_PATH)]) == 2
    err = capsys.readouterr().err
    assert "--offline-config is for runs outside GitHub" in err and "GITHUB_REPOSITORY" in err


def test_without_github_or_an_offline_config_train_says_how(
    sample: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for name in ("GITHUB_REPOSITORY", "GITHUB_TOKEN", "MLOPS_BOT_GITHUB_TOKEN", "GITHUB_EVENT_PATH"):
        monkeypatch.delenv(name, raising=False)
    assert main(["train", "--repo-dir", str(sample)]) == 2
    err = capsys.readouterr().err
    assert "GITHUB_REPOSITORY" in err and "--offline-config" in err
