"""`mlops-bot card --local`: the card of a local training result, printed without GitHub (issue 16)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from bot.adapters.mlflow import MlflowRegistry
from bot.core.config import load_config
from bot.jobs.train import TrainContext, results_to_json, train
from tests.support.mlflow_store import sqlite_registry
from tests.support.sample_repo import MODEL, TrainedSample


def offline_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GITHUB_", "MLFLOW_"))}
    # anything that tried the network would fail here rather than reach out
    env.update(
        GITHUB_API_URL="http://127.0.0.1:1", HTTPS_PROXY="http://127.0.0.1:1", HTTP_PROXY="http://127.0.0.1:1"
    )
    return env


def mlops_bot(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bot", *args],
        cwd=cwd,
        env=offline_env(),
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.fixture
def results_file(
    sample: Path, trained: TrainedSample, tmp_path: Path, tmp_path_factory: pytest.TempPathFactory
) -> Path:
    registry: MlflowRegistry = sqlite_registry(tmp_path / "mlflow", base=tmp_path_factory.getbasetemp())
    config = load_config((sample / ".github" / "mlops-bot.yml").read_text())
    context = TrainContext(repo="octo/breast", pr=None, head_sha=trained.sha, base_sha="", base_ref="main")
    results = train(sample, config, model=MODEL, context=context, registry=registry, push=False)
    assert results[0].ok, results[0].error
    out = tmp_path / "out.json"
    out.write_text(results_to_json(results))
    return out


def test_the_card_of_a_local_result_is_printed_without_github(sample: Path, results_file: Path) -> None:
    done = mlops_bot("card", "--local", "--results", str(results_file), cwd=sample)

    assert done.returncode == 0, done.stderr
    card = done.stdout
    assert card.startswith(f"### Model card: {MODEL}")
    assert "#### Metrics" in card and "`accuracy`" in card and "This is the first version" in card
    assert "<!--" not in card  # no hidden marker in what a person reads
    assert "against ," not in card  # no base branch locally: none named


def test_the_card_goes_to_a_file_with_out(sample: Path, results_file: Path, tmp_path: Path) -> None:
    card = tmp_path / "card.md"
    done = mlops_bot(
        "card",
        "--local",
        "--results",
        str(results_file),
        "--out",
        str(card),
        "--offline-config",
        str(sample / ".github" / "mlops-bot.yml"),
        cwd=tmp_path,
    )

    assert done.returncode == 0, done.stderr
    assert done.stdout == "" and card.read_text().startswith(f"### Model card: {MODEL}")


def test_local_needs_a_results_file(sample: Path) -> None:
    done = mlops_bot("card", "--local", cwd=sample)

    assert done.returncode == 2
    assert "--local needs --results" in done.stderr and "Traceback" not in done.stderr
