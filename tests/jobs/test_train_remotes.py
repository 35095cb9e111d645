"""Training against DVC remotes that cannot work, and a retry in the checkout a failed stage left behind
(issue 16, items 5 and 6). Real DVC repositories (the sample project), a real MLflow sqlite store."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

from bot.adapters.mlflow import MlflowRegistry
from bot.core.config import RepoConfig
from bot.core.models import TrainResult
from bot.jobs.train import TrainContext, train
from tests.support.sample_repo import MODEL, TrainedSample, commit_all, git, set_param

FAIL_AFTER_WRITING = (
    '    print(f"train: {metrics}")\n',
    '    print(f"train: {metrics}")\n    if Path("fail.flag").exists():\n        raise SystemExit("flagged")\n',
)


def context(head: str) -> TrainContext:
    return TrainContext(repo="octo/breast", pr=7, head_sha=head, base_sha=head, base_ref="main")


def train_one(repo: Path, config: RepoConfig, registry: MlflowRegistry, head: str) -> TrainResult:
    [result] = train(repo, config, model=MODEL, context=context(head), registry=registry)
    return result


def set_default_remote(repo: Path, url: str) -> None:
    subprocess.run(
        [sys.executable, "-m", "dvc", "remote", "add", "-q", "-d", "-f", "broken", url],
        cwd=repo,
        check=True,
    )


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new))


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("{blocker}/remote", "dvc push"),  # mkdir under a regular file fails, even for root
        ("http://127.0.0.1:1/remote", "dvc push"),  # nothing listens on port 1
        ("gdrive://0AIac4JZqHhKmUk9PDA/remote", "pip install dvc-gdrive"),  # the plugin is not installed
    ],
    ids=["cannot-write", "unreachable", "missing-plugin"],
)
def test_a_remote_that_cannot_take_the_push_is_a_warning_and_the_run_is_logged(
    sample: Path,
    sample_config: RepoConfig,
    registry: MlflowRegistry,
    trained: TrainedSample,
    tmp_path: Path,
    url: str,
    expected: str,
) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder\n")
    set_default_remote(sample, url.format(blocker=blocker))
    set_param(sample, "C: 1.0", "C: 0.5")
    head = commit_all(sample, "C=0.5 against a remote that cannot work")

    started = time.monotonic()
    result = train_one(sample, sample_config, registry, head)
    elapsed = time.monotonic() - started

    assert result.ok, result.error
    assert result.run is not None and registry.find_runs(MODEL, {})[0].run_id == result.run.run_id
    [warning] = result.warnings
    assert "'broken'" in warning and expected in warning, warning
    assert "\n" not in warning
    assert elapsed < 30


def test_a_complete_cache_never_touches_the_remote(
    sample: Path, sample_config: RepoConfig, registry: MlflowRegistry, trained: TrainedSample
) -> None:
    # a remote whose plugin is missing cannot even be opened: a pull that touched it would fail
    set_default_remote(sample, "gdrive://0AIac4JZqHhKmUk9PDA/remote")
    (sample / "model.pkl").unlink()  # in the cache: checked out again from it
    result = train(
        sample, sample_config, model=MODEL, context=context(trained.sha), registry=registry, push=False
    )[0]

    assert result.ok, result.error
    assert (sample / "model.pkl").read_bytes() == (trained.root / "model.pkl").read_bytes()
    assert result.warnings == []


def test_a_missing_plugin_with_data_to_fetch_is_one_line_naming_the_package(
    trained: TrainedSample, sample_config: RepoConfig, registry: MlflowRegistry, tmp_path: Path
) -> None:
    """Data only the remote has (a `dvc add`-ed input, which no stage can rebuild) and a remote the bot
    cannot open: the training fails with one line naming the plugin to install."""
    work = trained.copy(tmp_path / "work")
    (work / "data" / "extra.csv").write_text("a,b\n1,2\n")
    subprocess.run([sys.executable, "-m", "dvc", "add", "-q", "data/extra.csv"], cwd=work, check=True)
    subprocess.run([sys.executable, "-m", "dvc", "push", "-q"], cwd=work, check=True)
    edit(work / "dvc.yaml", "      - src/train.py\n", "      - src/train.py\n      - data/extra.csv\n")
    sha = commit_all(work, "train on extra data, tracked by DVC")
    clone = tmp_path / "clone"  # a fresh clone: an empty cache, data/extra.csv is on the remote only
    git(tmp_path, "clone", "-q", str(work), str(clone))
    set_default_remote(clone, "gdrive://0AIac4JZqHhKmUk9PDA/remote")
    result = train_one(clone, sample_config, registry, sha)

    assert not result.ok and result.run is None
    assert "\n" not in result.error
    assert "'broken'" in result.error and "pip install dvc-gdrive" in result.error, result.error
    assert "Traceback" not in result.error


def test_a_missing_plugin_costs_only_the_download_when_the_stages_rebuild_everything(
    trained: TrainedSample, sample_config: RepoConfig, registry: MlflowRegistry, tmp_path: Path
) -> None:
    clone = tmp_path / "clone"  # a fresh clone: the sample's data all comes from stages, so it rebuilds
    git(tmp_path, "clone", "-q", str(trained.root), str(clone))
    set_default_remote(clone, "gdrive://0AIac4JZqHhKmUk9PDA/remote")
    result = train_one(clone, sample_config, registry, trained.sha)

    assert result.ok and result.reproduced, result.error
    assert result.warnings and all("pip install dvc-gdrive" in w for w in result.warnings)
    assert result.warnings[0].startswith("the stages rebuilt ")


@pytest.mark.slow
def test_a_retry_in_the_checkout_a_failed_stage_left_trains(
    sample: Path, sample_config: RepoConfig, registry: MlflowRegistry, trained: TrainedSample
) -> None:
    edit(sample / "src" / "train.py", *FAIL_AFTER_WRITING)
    set_param(sample, "C: 1.0", "C: 0.2")
    head = commit_all(sample, "C=0.2")
    flag = sample / "fail.flag"
    flag.write_text("fail once\n")
    failed = train_one(sample, sample_config, registry, head)
    assert not failed.ok and "flagged" in failed.log_tail  # it wrote model.pkl and metrics, then failed

    flag.unlink()
    retried = train_one(sample, sample_config, registry, head)

    assert retried.ok, retried.error
    assert not retried.reused and retried.run is not None
    assert retried.params["train.C"] == 0.2
