"""The repository's `training:` section: what its stages may see and how long they may run (issue 18,
findings 1 and 5; issue 16, item 4). Real git, real DVC, a real sqlite MLflow store."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest

from bot.adapters.mlflow import MlflowRegistry
from bot.core.config import ConfigError, load_config
from bot.jobs.train import TrainContext, train
from tests.support.dvc_projects import build, pure_wheel

STAGE = textwrap.dedent(
    """\
    import json, os, pickle, sys, time
    json.dump(dict(os.environ), open("seen-env.json", "w"))
    if os.environ.get("HANG") == "yes":
        time.sleep(120)
    pickle.dump({"weights": [1, 2]}, open("model.pkl", "wb"))
    json.dump({"f1": 0.9}, open("metrics.json", "w"))
    """
)


def _project(tmp_path: Path, training: str) -> tuple[Path, str]:
    config = (
        "version: 1\ntraining:\n"
        + textwrap.indent(training, "  ")
        + "\nmodels:\n  - name: churn\n    stage: train\n    output: model.pkl\n    metrics: [{name: f1}]\n"
    )
    files = {
        "train.py": STAGE,
        "dvc.yaml": "stages:\n  train:\n    cmd: python train.py\n    deps: [train.py]\n"
        "    outs: [model.pkl]\n    metrics: [{metrics.json: {cache: false}}]\n",
        ".github/mlops-bot.yml": config,
    }
    project = build(tmp_path / "p", files, model="churn", stage="train", remote=tmp_path / "remote")
    return project.root, project.sha


def _train(root: Path, sha: str, registry: MlflowRegistry) -> object:
    config = load_config((root / ".github" / "mlops-bot.yml").read_text())
    context = TrainContext(repo="octo/churn", pr=1, head_sha=sha, base_sha="", base_ref="main")
    [result] = train(root, config, model="churn", context=context, registry=registry, push=False)
    return result


def test_stages_see_the_named_variables_and_never_the_bots(
    tmp_path: Path, registry: MlflowRegistry, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("REMOTE_KEY", "k-123")
    monkeypatch.setenv("UNNAMED", "not for the stage")
    monkeypatch.setenv("GITHUB_TOKEN", "ghs_job_token_for_the_bots_own_steps")
    monkeypatch.setenv("MLOPS_BOT_DATABASE_URL", "postgresql://bot:pw@db/bot")
    root, sha = _project(tmp_path, 'env: {SEED: "7"}\npass_env: [REMOTE_KEY, GITHUB_TOKEN]')
    result = _train(root, sha, registry)
    assert getattr(result, "ok", False), getattr(result, "error", "")
    seen = json.loads((root / "seen-env.json").read_text())
    assert seen["SEED"] == "7" and seen["REMOTE_KEY"] == "k-123"
    assert "UNNAMED" not in seen
    assert "GITHUB_TOKEN" not in seen, "the config named GITHUB_TOKEN, but the bot never hands it to a stage"
    assert "MLOPS_BOT_DATABASE_URL" not in seen


def test_a_stage_past_the_repositorys_timeout_fails_its_card_with_the_reason(
    tmp_path: Path, registry: MlflowRegistry
) -> None:
    root, sha = _project(tmp_path, 'env: {HANG: "yes"}\ntimeout: 3s')
    result = _train(root, sha, registry)
    assert not getattr(result, "ok", True)
    assert "3 s timeout" in getattr(result, "error", "")


def test_a_timeout_that_is_not_a_duration_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="30 minutes"):
        load_config("version: 1\ntraining:\n  timeout: 30 minutes\n")


def test_stages_run_in_the_projects_own_environment_built_from_its_requirements(
    tmp_path: Path, registry: MlflowRegistry, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A stage importing a package the bot does not have (here a local one, so no index is needed) runs when
    the config names the requirements; the bot's interpreter never sees that package."""
    monkeypatch.setenv("PIP_NO_INDEX", "1")
    root, _ = _project(tmp_path, "python: requirements.txt")
    (root / "vendor").mkdir()
    pure_wheel(root / "vendor", "onlyhere", "MAGIC = 42\n")
    (root / "requirements.txt").write_text("./vendor/onlyhere-1.0-py3-none-any.whl\n")
    train_py = (root / "train.py").read_text()
    (root / "train.py").write_text("import onlyhere\nassert onlyhere.MAGIC == 42\n" + train_py)
    from tests.support.dvc_projects import git

    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "needs onlyhere")
    sha = git(root, "rev-parse", "HEAD")
    result = _train(root, sha, registry)
    assert getattr(result, "ok", False), getattr(result, "error", "")
    seen = json.loads((root / "seen-env.json").read_text())
    assert seen["VIRTUAL_ENV"].endswith("venv")
    with pytest.raises(ImportError):
        __import__("onlyhere")


def test_requirements_that_do_not_install_fail_the_card_with_pips_words(
    tmp_path: Path, registry: MlflowRegistry, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PIP_NO_INDEX", "1")
    root, _ = _project(tmp_path, "python: requirements.txt")
    (root / "requirements.txt").write_text("no-such-package-mlops-bot==9.9\n")
    from tests.support.dvc_projects import git

    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "requirements")
    result = _train(root, git(root, "rev-parse", "HEAD"), registry)
    assert not getattr(result, "ok", True)
    assert "installing requirements.txt for the stages failed" in getattr(result, "error", "")
