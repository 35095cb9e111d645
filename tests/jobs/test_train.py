"""The train job on real DVC repositories (the sample project) with a real MLflow sqlite store."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pytest

from bot.adapters.mlflow import MlflowRegistry, RunTags
from bot.cli import main
from bot.cli.train import context_from_environment
from bot.core import lockfile
from bot.core.config import RepoConfig, load_config
from bot.core.models import TrainResult
from bot.jobs.train import (
    TrainContext,
    TrainSetupError,
    commit_lock_if_changed,
    results_from_json,
    results_to_json,
    train,
)
from bot.resources import template_path
from tests.support.sample_repo import MODEL, TrainedSample, commit_all, git, set_param

BREAK_TRAINING = (
    "def main() -> None:\n",
    "def main() -> None:\n    raise RuntimeError('boom in training')\n",
)
SKIP_METRICS = ('    Path("metrics.json").write_text(json.dumps(metrics, indent=2) + "\\n")\n', "")


def context(head: str, base: str, *, pr: int | None = 7) -> TrainContext:
    return TrainContext(
        repo="octo/breast",
        pr=pr,
        head_sha=head,
        base_sha=base,
        base_ref="main",
        ci_url="https://ci.example/run/1",
    )


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new))


def train_one(repo: Path, config: RepoConfig, registry: MlflowRegistry, ctx: TrainContext) -> TrainResult:
    [result] = train(repo, config, model=MODEL, context=ctx, registry=registry)
    return result


def test_the_sample_project_never_imports_mlflow() -> None:
    sources = sorted(template_path("project", "src").glob("*.py"))
    assert sources, "the sample has no code"
    for source in sources:
        assert "mlflow" not in source.read_text(), f"{source.name} mentions mlflow"


@pytest.mark.slow
def test_first_train_logs_a_run_with_all_tags_and_artifacts(
    sample: Path, sample_config: RepoConfig, registry: MlflowRegistry, trained: TrainedSample
) -> None:
    result = train_one(sample, sample_config, registry, context(trained.sha, trained.sha))

    assert result.ok and not result.reused, result.error
    lock = (sample / "dvc.lock").read_text()
    assert result.output_hash == lockfile.output_hash(lock, "train", "model.pkl")
    assert result.dvc_lock_hash == lockfile.lock_hash(lock)
    assert result.metrics == json.loads((sample / "metrics.json").read_text())
    assert result.params["train.C"] == 1.0 and result.params["data.snapshot"] == "2024-01"
    assert result.base_metrics == result.metrics and result.params_diff == {}  # base is the same commit
    assert result.lineage["data/train.csv"] == lockfile.input_hashes(lock, "train")["data/train.csv"]
    assert set(result.lineage) == {"data/train.csv", "data/test.csv", "src/train.py"}
    [roc] = result.plots
    assert (roc.id, roc.title, roc.x_label, roc.y_label) == (
        "plots/roc.csv",
        "ROC curve (test split)",
        "fpr",
        "tpr",
    )
    assert (roc.series[0].x[-1], roc.series[0].y[-1]) == (1.0, 1.0)
    assert result.duration_s > 0

    run = result.run
    assert run is not None and run.status == "FINISHED"
    assert run.tags == {
        RunTags.MODEL: MODEL,
        RunTags.REPO: "octo/breast",
        RunTags.PR: "7",
        RunTags.HEAD_SHA: trained.sha,
        RunTags.TRAINED_SHA: trained.sha,
        RunTags.BASE_SHA: trained.sha,
        RunTags.DVC_LOCK_HASH: result.dvc_lock_hash,
        RunTags.OUTPUT_HASH: result.output_hash,
        RunTags.CI_URL: "https://ci.example/run/1",
        RunTags.MODEL_URI: run.model_uri,
        RunTags.TRAINED_SECONDS: run.tags[RunTags.TRAINED_SECONDS],
    }
    assert 0 < float(run.tags[RunTags.TRAINED_SECONDS]) <= result.duration_s
    assert run.metrics == result.metrics
    assert run.params["train.C"] == "1.0" and run.params["prepare.test_size"] == "0.25"
    artifacts = {a.path for a in registry.client.list_artifacts(run.run_id)}
    assert {"params.yaml", "metrics.json", "dvc.lock", "plots"} <= artifacts
    assert [a.path for a in registry.client.list_artifacts(run.run_id, "plots")] == ["plots/roc.csv"]
    assert run.model_uri.startswith("models:/m-")


def test_a_train_with_nothing_changed_reuses_the_run(
    sample: Path, sample_config: RepoConfig, registry: MlflowRegistry, trained: TrainedSample
) -> None:
    first = train_one(sample, sample_config, registry, context(trained.sha, trained.sha))
    # the bot's own dvc.lock commit, or a README edit: a new head, the same model
    (sample / "NOTES.md").write_text("notes\n")
    new_head = commit_all(sample, "notes")
    again = train_one(sample, sample_config, registry, context(new_head, trained.sha))

    assert again.ok and again.reused
    assert again.trained_duration_s == float(first.run.tags[RunTags.TRAINED_SECONDS]) > 0  # type: ignore[union-attr]
    assert again.run is not None and first.run is not None and again.run.run_id == first.run.run_id
    assert again.metrics == first.metrics and again.output_hash == first.output_hash
    runs = registry.find_runs(MODEL, {})
    assert [r.run_id for r in runs] == [first.run.run_id]  # no new run
    # found by the newest head now, while the commit it trained on is kept
    assert runs[0].tags[RunTags.HEAD_SHA] == new_head and runs[0].tags[RunTags.TRAINED_SHA] == trained.sha


@pytest.mark.slow
def test_a_param_change_retrains_and_shows_the_diff(
    sample: Path, sample_config: RepoConfig, registry: MlflowRegistry, trained: TrainedSample
) -> None:
    set_param(sample, "C: 1.0", "C: 0.05")
    head = commit_all(sample, "stronger regularisation")
    result = train_one(sample, sample_config, registry, context(head, trained.sha))

    assert result.ok and not result.reused, result.error
    base_lock = (trained.root / "dvc.lock").read_text()
    assert result.output_hash != lockfile.output_hash(base_lock, "train", "model.pkl")
    assert result.params_diff == {"train.C": {"old": 1.0, "new": 0.05}}
    assert result.base_metrics == json.loads((trained.root / "metrics.json").read_text())
    assert result.metrics == json.loads((sample / "metrics.json").read_text()) != result.base_metrics
    assert result.run is not None and result.run.params["train.C"] == "0.05"
    assert git(sample, "status", "--porcelain") == "M dvc.lock"


@pytest.mark.slow
def test_a_failing_stage_gives_the_error_and_the_log_tail(
    sample: Path, sample_config: RepoConfig, registry: MlflowRegistry, trained: TrainedSample
) -> None:
    edit(sample / "src" / "train.py", *BREAK_TRAINING)
    result = train_one(sample, sample_config, registry, context(trained.sha, trained.sha))

    assert not result.ok and result.run is None
    assert "stage 'train' failed" in result.error
    assert "RuntimeError: boom in training" in result.log_tail
    assert len(result.log_tail.splitlines()) <= 60
    assert registry.find_runs(MODEL, {}) == []


@pytest.mark.slow
def test_a_metrics_file_the_stage_did_not_write_is_named(
    sample: Path, sample_config: RepoConfig, registry: MlflowRegistry, trained: TrainedSample
) -> None:
    (sample / "metrics.json").unlink()
    edit(sample / "src" / "train.py", *SKIP_METRICS)
    result = train_one(sample, sample_config, registry, context(trained.sha, trained.sha))

    assert not result.ok and result.run is None
    assert "metrics.json" in result.error


def test_an_unknown_model_is_a_setup_error(
    sample: Path, sample_config: RepoConfig, registry: MlflowRegistry, trained: TrainedSample
) -> None:
    with pytest.raises(TrainSetupError, match=r"unknown model 'nope'; configured models: breast-cancer"):
        train(sample, sample_config, model="nope", context=context(trained.sha, ""), registry=registry)


def test_a_fresh_clone_pulls_from_the_remote_instead_of_retraining(
    trained: TrainedSample, sample_config: RepoConfig, registry: MlflowRegistry, tmp_path: Path
) -> None:
    clone = tmp_path / "clone"
    git(tmp_path, "clone", "-q", str(trained.root), str(clone))
    result = train_one(clone, sample_config, registry, context(trained.sha, trained.sha))

    assert result.ok, result.error
    assert (clone / "model.pkl").read_bytes() == (trained.root / "model.pkl").read_bytes()
    assert result.metrics == json.loads((trained.root / "metrics.json").read_text())


@pytest.mark.slow
def test_the_lock_commit_goes_to_the_branch_and_its_push_reuses_the_run(
    trained: TrainedSample, sample_config: RepoConfig, registry: MlflowRegistry, tmp_path: Path
) -> None:
    origin = tmp_path / "origin.git"
    git(tmp_path, "clone", "-q", "--bare", str(trained.root), str(origin))
    work = tmp_path / "work"
    git(tmp_path, "clone", "-q", str(origin), str(work))
    git(work, "checkout", "-q", "-b", "tune")
    set_param(work, "C: 1.0", "C: 0.3")
    head = commit_all(work, "C=0.3")
    git(work, "push", "-q", "origin", "tune")

    trained_run = train_one(work, sample_config, registry, context(head, trained.sha))
    sha = commit_lock_if_changed(work, "tune", "mlops-bot: update dvc.lock")

    assert sha is not None and sha != head
    assert git(origin, "rev-parse", "refs/heads/tune") == sha
    assert git(origin, "log", "-1", "--format=%an|%s", sha) == "mlops-bot|mlops-bot: update dvc.lock"
    assert git(origin, "diff", "--name-only", head, sha) == "dvc.lock"
    assert commit_lock_if_changed(work, "tune", "again") is None

    # the push of the lock commit trains again on a fresh runner: nothing to reproduce, same run
    rerun_dir = tmp_path / "rerun"
    git(tmp_path, "clone", "-q", "-b", "tune", str(origin), str(rerun_dir))
    rerun = train_one(rerun_dir, sample_config, registry, context(sha, trained.sha))
    assert rerun.reused and rerun.run is not None and trained_run.run is not None
    assert rerun.run.run_id == trained_run.run.run_id
    assert rerun.output_hash == lockfile.output_hash(
        (rerun_dir / "dvc.lock").read_text(), "train", "model.pkl"
    )


# -- the command ---------------------------------------------------------------------------------


def actions_env(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, registry: MlflowRegistry, event: dict
) -> None:
    event_path = tmp_path / "event.json"
    event_path.write_text(json.dumps(event))
    monkeypatch.setenv("GITHUB_EVENT_PATH", str(event_path))
    # Offline: with GITHUB_REPOSITORY set the rules would come from the default branch through the API
    # (tests/jobs/test_train_rules.py); here the repository is named by flag and the rules by file.
    monkeypatch.delenv("GITHUB_REPOSITORY", raising=False)
    monkeypatch.delenv("GITHUB_TOKEN", raising=False)
    monkeypatch.setenv("GITHUB_SERVER_URL", "https://github.example")
    monkeypatch.setenv("GITHUB_RUN_ID", "99")
    monkeypatch.setenv("MLFLOW_TRACKING_URI", registry.tracking_uri)


def offline(sample: Path) -> list[str]:
    """A run outside GitHub: the repository by flag, the rules from the sample's own file."""
    return ["--repo", "octo/breast", "--offline-config", str(sample / ".github" / "mlops-bot.yml")]


def pull_event(number: int, head: str, base: str) -> dict:
    return {
        "pull_request": {
            "number": number,
            "head": {"sha": head, "ref": "tune"},
            "base": {"sha": base, "ref": "main"},
        }
    }


def test_the_command_reads_the_actions_context_and_writes_json(
    sample: Path,
    registry: MlflowRegistry,
    trained: TrainedSample,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    actions_env(monkeypatch, tmp_path, registry, pull_event(12, trained.sha, trained.sha))
    out = tmp_path / "results" / "train.json"

    assert main(["train", *offline(sample), "--repo-dir", str(sample), "--json", str(out), "--no-push"]) == 0

    [result] = results_from_json(out.read_text())
    assert result.ok and result.run is not None
    assert result.run.tags[RunTags.PR] == "12"
    assert result.run.tags[RunTags.CI_URL] == "https://github.example/octo/breast/actions/runs/99"
    assert registry.run(result.run.run_id) is not None
    # the sample's outputs are all in the DVC cache: the summary says nothing ran, and logs them
    assert result.reproduced is False
    assert (
        f"breast-cancer: nothing to reproduce (outputs from the DVC cache), logged run {result.run.run_id}"
        in capsys.readouterr().out
    )


@pytest.mark.slow
def test_the_command_exits_1_when_a_stage_fails(
    sample: Path,
    registry: MlflowRegistry,
    trained: TrainedSample,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    actions_env(monkeypatch, tmp_path, registry, pull_event(12, trained.sha, trained.sha))
    edit(sample / "src" / "train.py", *BREAK_TRAINING)
    out = tmp_path / "train.json"

    argv = ["train", *offline(sample), "--repo-dir", str(sample), "--json", str(out), "--commit-lock", "tune"]
    assert main(argv) == 1

    [result] = results_from_json(out.read_text())
    assert not result.ok and "boom in training" in result.log_tail
    assert git(sample, "log", "-1", "--format=%H") == trained.sha  # no lock commit after a failure


@pytest.mark.parametrize(
    ("argv", "problem"),
    [
        (["--model", "nope"], "unknown model 'nope'"),
        (["--offline-config", "missing.yml"], "no such config file"),
        (["--base-sha", "no-such-branch"], "--base-sha no-such-branch is not a commit of"),
    ],
)
def test_the_command_explains_usage_errors(
    sample: Path,
    registry: MlflowRegistry,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    argv: list[str],
    problem: str,
) -> None:
    monkeypatch.setenv("MLFLOW_TRACKING_URI", registry.tracking_uri)
    monkeypatch.delenv("GITHUB_EVENT_PATH", raising=False)
    for name in ("GITHUB_REPOSITORY", "GITHUB_TOKEN", "MLOPS_BOT_GITHUB_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    given = argv if "--offline-config" in argv else [*offline(sample), *argv]
    assert main(["train", "--repo-dir", str(sample), *given]) == 2
    assert problem in capsys.readouterr().err


def flags(**values: object) -> argparse.Namespace:
    names = ("repo", "pr", "head_sha", "base_sha", "base_ref")
    return argparse.Namespace(**{name: values.get(name) for name in names})


@pytest.mark.parametrize(
    ("event", "environ", "args", "expected"),
    [
        pytest.param(
            pull_event(5, "h" * 40, "b" * 40),
            {"GITHUB_REPOSITORY": "o/r"},
            flags(),
            TrainContext("o/r", 5, "h" * 40, "b" * 40, "main"),
            id="pull_request",
        ),
        pytest.param(
            {"ref": "refs/heads/main", "before": "0" * 40, "after": "a" * 40},
            {"GITHUB_REPOSITORY": "o/r"},
            flags(),
            TrainContext("o/r", None, "a" * 40, "", "main"),
            id="push-of-a-new-branch",
        ),
        pytest.param(
            {"inputs": {"pr": "9", "model": "m"}},
            {"GITHUB_REPOSITORY": "o/r"},
            flags(),
            TrainContext("o/r", 9, "", "", ""),
            id="workflow_dispatch",
        ),
        pytest.param(
            pull_event(5, "h" * 40, "b" * 40),
            {"GITHUB_REPOSITORY": "o/r", "GITHUB_SERVER_URL": "https://gh", "GITHUB_RUN_ID": "3"},
            flags(repo="x/y", pr=6, head_sha="1" * 40, base_sha="2" * 40, base_ref="dev"),
            TrainContext("x/y", 6, "1" * 40, "2" * 40, "dev", "https://gh/x/y/actions/runs/3"),
            id="flags-win",
        ),
        pytest.param({}, {}, flags(), TrainContext("", None, "", "", ""), id="nothing"),
    ],
)
def test_context_from_the_actions_environment(
    event: dict, environ: dict[str, str], args: argparse.Namespace, expected: TrainContext
) -> None:
    assert context_from_environment(environ, event, args) == expected


def test_results_round_trip_through_json(
    sample: Path, sample_config: RepoConfig, registry: MlflowRegistry, trained: TrainedSample
) -> None:
    results = train(
        sample, sample_config, model=None, context=context(trained.sha, trained.sha), registry=registry
    )
    assert results_from_json(results_to_json(results)) == results


def test_the_sample_config_is_valid_and_names_the_stage_and_output() -> None:
    config = load_config(template_path("project", ".github", "mlops-bot.yml").read_text())
    [spec] = config.models
    assert (spec.name, spec.stage, spec.output) == (MODEL, "train", "model.pkl")
    assert [m.name for m in spec.metrics] == ["accuracy", "f1"]
    assert spec.drift is not None and set(spec.drift.retrain.set) == {"data.snapshot"}  # prepare.py reads it


def test_a_base_given_by_name_is_stored_as_its_sha(sample: Path, trained: TrainedSample) -> None:
    from bot.cli.train import resolve_commits

    named = context_from_environment({}, {}, flags(base_sha="HEAD", head_sha="HEAD"))
    resolved = resolve_commits(sample, named)

    assert resolved.base_sha == resolved.head_sha == trained.sha
    full = context_from_environment({}, {}, flags(base_sha=trained.sha))
    assert resolve_commits(sample, full).base_sha == trained.sha


def test_the_summary_names_warnings_and_a_run_that_reproduced_nothing() -> None:
    from bot.cli.train import summary

    logged = TrainResult(
        model=MODEL, run=None, reused=False, ok=True, reproduced=False, warnings=["dvc push failed: x"]
    )
    text = summary([logged])

    assert "nothing to reproduce" in text
    assert "warning: dvc push failed: x" in text
