"""`mlops-bot train` on DVC projects in the shapes people have (tests/support/dvc_projects.py), unchanged:
real git, real DVC, real scikit-learn, a real sqlite MLflow store."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bot.adapters.mlflow import MlflowRegistry
from bot.adapters.mlflow.models import global_tracking_uri
from bot.core.card import CardFacts, render_card
from bot.core.config import RepoConfig, load_config
from bot.core.gates import evaluate
from bot.core.models import TrainResult
from bot.jobs.train import TrainContext, train
from tests.support.dvc_projects import (
    FixtureProject,
    dvc1_lock_project,
    dvclive_project,
    evaluate_stage_project,
    pipeline_project,
)

pytestmark = pytest.mark.slow


def train_project(
    project: FixtureProject, registry: MlflowRegistry, config: RepoConfig | None = None
) -> TrainResult:
    context = TrainContext(repo="octo/churn", pr=3, head_sha=project.sha, base_sha="", base_ref="main")
    [result] = train(
        project.root, config or project.config, model=project.model, context=context, registry=registry
    )
    return result


def card_for(project: FixtureProject, result: TrainResult) -> str:
    spec = project.config.model(project.model)
    assert spec is not None
    decision = evaluate(spec, result.metrics, None, promotion=project.config.promotion)
    return render_card(
        CardFacts(
            repo="octo/churn",
            pr_number=3,
            model=spec,
            result=result,
            champion=None,
            decision=decision,
            head_sha=project.sha,
            base_ref="main",
        )
    )


def loads_and_predicts(registry: MlflowRegistry, result: TrainResult, rows: object) -> list[object]:
    import mlflow.pyfunc

    assert result.run is not None
    with global_tracking_uri(registry.tracking_uri):
        model = mlflow.pyfunc.load_model(result.run.model_uri)
    return list(model.predict(rows))


def test_metrics_and_plots_of_a_downstream_evaluate_stage(tmp_path: Path, registry: MlflowRegistry) -> None:
    import pandas as pd

    project = evaluate_stage_project(tmp_path / "repo", remote=tmp_path / "remote")
    result = train_project(project, registry)

    assert result.ok, result.error
    written = json.loads((project.root / "reports" / "scores.json").read_text())
    assert result.metrics == written and set(written) == {"accuracy", "roc_auc"}
    assert result.run is not None and result.run.metrics == written
    assert [p.id for p in result.plots] == ["reports/roc.csv", "Precision-Recall", "reports/calibration.yaml"]
    roc, prc, calibration = result.plots
    assert roc.title == "ROC curve (test split)" and roc.series[0].x[0] == 0.0  # CSV cells as numbers
    assert [s.source for s in prc.series] == ["reports/prc_train.tsv", "reports/prc_test.tsv"]
    assert calibration.x_label == "predicted" and calibration.y_label == "observed"
    artifacts = {a.path for a in registry.client.list_artifacts(result.run.run_id, "reports")}
    assert {"reports/scores.json", "reports/roc.csv", "reports/prc_test.tsv"} <= artifacts
    test_rows = pd.read_csv(project.root / "data" / "test.csv")[["a", "b", "c"]].head(5)
    assert len(loads_and_predicts(registry, result, test_rows)) == 5  # GradientBoosting logs and loads

    card = card_for(project, result)
    assert f"| `roc_auc` | {written['roc_auc']:.3g}"[:18] in card
    assert 'title "ROC curve (test split)"' in card
    assert "blue: `prc_train.tsv` · orange: `prc_test.tsv`" in card
    # The card tells what ran and what went in: both stages, the inputs of both, not the model between them.
    assert result.stages == ["train", "evaluate"]
    assert "dvc repro train evaluate\n" in card
    assert set(result.lineage) == {"src/train.py", "data/train.csv", "src/evaluate.py", "data/test.csv"}
    assert "Data lineage (4 input(s))" in card and "`model.pkl` |" not in card


def test_dvclive_shaped_outputs(tmp_path: Path, registry: MlflowRegistry) -> None:
    project = dvclive_project(tmp_path / "repo", remote=tmp_path / "remote")
    result = train_project(project, registry)

    assert result.ok, result.error
    written = json.loads((project.root / "eval" / "metrics.json").read_text())
    assert result.metrics == {
        f"{name}.{split}": value for name, splits in written.items() for split, value in splits.items()
    }
    assert [p.id for p in result.plots] == ["ROC", "Confusion-Matrix", "eval/importance.png"]
    roc, confusion, importance = result.plots
    assert [s.source for s in roc.series] == [
        "eval/plots/sklearn/roc/train.json",
        "eval/plots/sklearn/roc/test.json",
    ]
    roc_test = json.loads((project.root / "eval/plots/sklearn/roc/test.json").read_text())["roc"]
    assert roc.series[1].y == [row["tpr"] for row in roc_test]  # dvclive's {"roc": [...]}, in file order
    assert confusion.template == "confusion" and set(confusion.series[1].x) == {"0", "1"}  # labels as written
    assert importance.image == "eval/importance.png" and not importance.error
    assert result.run is not None
    logged = {a.path for a in registry.client.list_artifacts(result.run.run_id, "eval")}
    assert "eval/importance.png" in logged

    card = card_for(project, result)
    assert "| actual \\ predicted | 0 | 1 |" in card and "0.0" not in card.split("Confusion-Matrix")[1][:400]
    assert f"Image `eval/importance.png`, logged as an artifact of MLflow run `{result.run.run_id}`" in card
    assert "http" not in card.split("#### Plots")[1].split("#### Model details")[0]  # no third-party host


def test_metrics_from_names_a_file(tmp_path: Path, registry: MlflowRegistry) -> None:
    project = dvclive_project(
        tmp_path / "repo", remote=tmp_path / "remote", metrics_from=["eval/metrics.json"]
    )
    result = train_project(project, registry)
    assert result.ok, result.error
    assert "roc_auc.test" in result.metrics
    assert result.plots  # plots still come from the top-level `plots:`


def test_the_evaluation_stage_as_model_stage_says_what_to_set(
    tmp_path: Path, registry: MlflowRegistry
) -> None:
    project = evaluate_stage_project(tmp_path / "repo", remote=tmp_path / "remote")
    config = load_config(project.config_text.replace("stage: train", "stage: evaluate"))
    result = train_project(project, registry, config)

    assert not result.ok
    assert result.error == (
        "model.pkl is not an output of stage 'evaluate' (it is an output of stage 'train'): "
        "set `stage: train` and, for metrics written by 'evaluate', `metrics_from: [evaluate]`"
    )


def test_a_pipeline_with_a_column_transformer(tmp_path: Path, registry: MlflowRegistry) -> None:
    import pandas as pd

    project = pipeline_project(tmp_path / "repo", remote=tmp_path / "remote")
    result = train_project(project, registry)

    assert result.ok, result.error
    assert result.metrics == json.loads((project.root / "metrics.json").read_text())
    [confusion] = result.plots
    assert confusion.template == "confusion" and confusion.series[0].x[:1] in (["0"], ["1"])
    rows = pd.read_csv(project.root / "data" / "test.csv").drop(columns="label").head(4)
    assert len(loads_and_predicts(registry, result, rows)) == 4  # the text column reaches the encoder


def test_a_dvc_1_lock_file_is_a_one_line_error(tmp_path: Path, registry: MlflowRegistry) -> None:
    project = dvc1_lock_project(tmp_path / "repo", remote=tmp_path / "remote")
    result = train_project(project, registry)

    assert not result.ok and result.run is None
    assert "\n" not in result.error and "Traceback" not in result.error
    assert result.error.startswith("dvc.lock is in the format of DVC 1.x")
    assert "`dvc repro`" in result.error


@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("{blocker}/store", "check the remote's URL and credentials"),
        ("gdrive://0AIac4JZqHhKmUk9PDA/s", "dvc-gdrive"),
    ],
    ids=["unreachable", "plugin-not-installed"],
)
def test_a_remote_the_bot_cannot_use_is_a_warning_when_the_stages_rebuild_everything(
    tmp_path: Path, registry: MlflowRegistry, url: str, says: str
) -> None:
    """The bot's fresh checkout lacks main's outputs; its inputs are all in git, so the stages can rebuild
    what the remote would have given. A remote the bot host cannot reach (or lacks the plugin for) costs the
    download, not the training: the card warns, for the pull and for the push."""
    import subprocess
    import sys

    from tests.support.dvc_projects import git

    project = evaluate_stage_project(tmp_path / "repo", remote=tmp_path / "remote")
    dvc = [sys.executable, "-m", "dvc"]
    subprocess.run([*dvc, "repro", "-q"], cwd=project.root, check=True, capture_output=True)
    git(project.root, "add", "dvc.lock", ".gitignore", "reports")
    git(project.root, "commit", "-q", "-m", "dvc repro")
    (tmp_path / "a-file").write_text("not a folder\n")
    remote = url.format(blocker=tmp_path / "a-file")
    subprocess.run([*dvc, "remote", "add", "-q", "-d", "-f", "team", remote], cwd=project.root, check=True)
    git(project.root, "commit", "-q", "-am", "the team's remote")
    clone = tmp_path / "clone"  # what the bot checks out: git only, an empty DVC cache
    git(tmp_path, "clone", "-q", str(project.root), str(clone))
    fresh = FixtureProject(root=clone, remote=tmp_path / "remote", model=project.model, stage=project.stage,
                           sha=git(clone, "rev-parse", "HEAD"))  # fmt: skip

    result = train_project(fresh, registry)

    assert result.ok, result.error
    assert result.run is not None and result.reproduced
    pull, push = result.warnings
    assert pull.startswith("the stages rebuilt model.pkl, which the DVC remote would have given: dvc pull")
    assert says in pull and "\n" not in pull, pull
    assert "dvc push" in push and says in push, push
