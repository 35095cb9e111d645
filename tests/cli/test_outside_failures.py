"""An outside failure reaches the user as one line that says what to do, exit 2, no traceback (issue 17,
item 5): the real CLI as a subprocess against services that are down or misnamed."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from bot.cli.errors import describe


def _cli(*args: str, cwd: Path, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("MLOPS_BOT_", "GITHUB_", "MLFLOW_"))}
    return subprocess.run(
        [sys.executable, "-m", "bot", *args],
        cwd=cwd,
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


def _one_line(done: subprocess.CompletedProcess[str]) -> str:
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr
    lines = [line for line in done.stderr.splitlines() if line.startswith("mlops-bot ")]
    assert len(lines) == 1, done.stderr
    return lines[0]


def test_a_database_url_without_its_driver(tmp_path: Path) -> None:
    line = _one_line(_cli("deliveries", cwd=tmp_path, MLOPS_BOT_DATABASE_URL="mysql://u@127.0.0.1/db"))
    assert "MySQLdb" in line and "postgresql://" in line


def test_github_unreachable(tmp_path: Path) -> None:
    github_down = {
        "GITHUB_API_URL": "http://127.0.0.1:1",
        "GITHUB_TOKEN": "x",
        "GITHUB_REPOSITORY": "acme/model",
    }
    line = _one_line(_cli("reconcile", cwd=tmp_path, **github_down))
    assert "could not connect" in line and "127.0.0.1" in line


@pytest.mark.slow
def test_mlflow_down_is_answered_in_under_30_seconds(sample: Path) -> None:
    root = sample
    (root / "params.yaml").write_text((root / "params.yaml").read_text().replace("C: 1.0", "C: 0.7"))
    started = time.monotonic()
    done = _cli("train", "--offline-config", ".github/mlops-bot.yml", cwd=root, PATH=os.environ["PATH"],
                MLFLOW_TRACKING_URI="http://127.0.0.1:1")  # fmt: skip
    assert time.monotonic() - started < 30 + 15  # MLflow's retries bounded; the training itself ~3-10 s
    line = _one_line(done)
    assert "MLflow at http://127.0.0.1:1 failed" in line


def test_debug_shows_the_traceback(tmp_path: Path) -> None:
    done = _cli("--debug", "deliveries", cwd=tmp_path, MLOPS_BOT_DATABASE_URL="mysql://u@127.0.0.1/db")
    assert "Traceback" in done.stderr


def test_a_bug_is_not_disguised() -> None:
    assert describe(ZeroDivisionError("division by zero")) is None


def test_train_json_is_written_when_training_cannot_start(tmp_path: Path) -> None:
    """The card step reads --json; a training that fails before any stage still leaves the error there."""
    from bot.jobs.train import results_from_json

    bad = tmp_path / "mlops-bot.yml"
    bad.write_text("models: [\n")
    out = tmp_path / "out" / "results.json"
    done = _cli(
        "train", "--offline-config", str(bad), "--json", str(out), cwd=tmp_path, PATH=os.environ["PATH"]
    )
    assert done.returncode == 2, done.stderr
    (result,) = results_from_json(out.read_text())
    assert not result.ok and result.failed_before_stage
    assert "mlops-bot.yml" in result.error


@pytest.mark.slow
def test_a_failing_stage_on_a_runner_annotates_its_dvc_yaml_line(sample: Path, tmp_path: Path) -> None:
    """On an Actions runner a failed stage is an error annotation on its dvc.yaml line, each phase is a log
    group, and --json still holds the result with the error and the log tail, for the failure card."""
    from bot.core.actions_output import stage_line
    from bot.jobs.train import results_from_json

    root = sample
    (root / "src" / "train.py").write_text("import sys\nprint('the data has no label column')\nsys.exit(3)\n")
    out = tmp_path / "results.json"
    done = _cli(
        "train", "--offline-config", ".github/mlops-bot.yml", "--json", str(out), cwd=root,
        PATH=os.environ["PATH"], MLFLOW_TRACKING_URI=f"sqlite:///{tmp_path / 'mlflow.db'}",
        GITHUB_ACTIONS="true", GITHUB_WORKSPACE=str(root.parent),
    )  # fmt: skip
    assert done.returncode == 1, done.stderr
    (result,) = results_from_json(out.read_text())
    assert not result.ok and "stage 'train' failed" in result.error
    assert "the data has no label column" in result.log_tail
    line = stage_line((root / "dvc.yaml").read_text(), "train")
    errors = [x for x in done.stderr.splitlines() if x.startswith("::error ")]
    assert len(errors) == 1, done.stderr
    # the file is named from the repository root (GITHUB_WORKSPACE), here one folder up, as in a monorepo
    assert errors[0].startswith(
        f"::error file={root.name}/dvc.yaml,line={line},title=mlops-bot train%3A breast-cancer::stage 'train' failed"
    )
    assert "%0Athe data has no label column" in errors[0]  # the log tail, on the same (escaped) line
    groups = [x for x in done.stderr.splitlines() if x.startswith("::")]
    assert "::group::breast-cancer: dvc repro" in groups
    assert groups.index("::group::breast-cancer: dvc repro") < groups.index(errors[0])
    assert groups.count("::endgroup::") == sum(g.startswith("::group::") for g in groups)


def test_a_broken_config_on_a_runner_annotates_its_line(tmp_path: Path) -> None:
    bad = tmp_path / "mlops-bot.yml"
    bad.write_text("models:\n  - name: m\n    stage: [\n")
    done = _cli(
        "train", "--offline-config", str(bad), cwd=tmp_path, PATH=os.environ["PATH"], GITHUB_ACTIONS="true"
    )
    assert done.returncode == 2, done.stderr
    (error,) = [x for x in done.stderr.splitlines() if x.startswith("::error ")]
    assert error.startswith(f"::error file={bad},line=") and "title=mlops-bot config::" in error
    assert "Traceback" not in done.stderr
