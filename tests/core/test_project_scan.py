"""bot/core/project_scan: a config proposed from dvc.yaml dicts, and a config checked against them."""

from __future__ import annotations

from typing import Any

import pytest

from bot.core.config import load_config
from bot.core.project_scan import (
    Pipeline,
    ProjectFacts,
    ScanError,
    check_against_project,
    flatten,
    in_lock,
    looks_like_model,
    metric_names,
    propose,
    read_pipeline,
    render_config,
)

EVALUATE: dict[str, Any] = {
    "stages": {
        "prepare": {"cmd": "python src/prepare.py", "deps": ["src/prepare.py"], "outs": ["data/train.csv"]},
        "train": {
            "cmd": "python src/train.py",
            "deps": ["src/train.py", "data/train.csv"],
            "params": ["train", {"extra.yaml": ["seed"]}],
            "outs": ["model.pkl"],
        },
        "evaluate": {
            "cmd": "python src/evaluate.py",
            "deps": ["src/evaluate.py", "model.pkl"],
            "outs": [{"reports": {"cache": False}}],
        },
    },
    "metrics": ["reports/scores.json"],
    "plots": [
        {"reports/roc.csv": {"x": "fpr", "y": "tpr"}},
        {"PR": {"x": "recall", "y": {"reports/prc_train.tsv": "precision", "reports/prc_test.tsv": "p"}}},
    ],
}
DVCLIVE: dict[str, Any] = {
    "stages": {
        "train": {"cmd": "python train.py", "deps": ["data"], "outs": ["model.pkl"]},
        "evaluate": {
            "cmd": "python evaluate.py",
            "deps": ["model.pkl", "data"],
            "metrics": [{"dvclive/metrics.json": {"cache": False}}],
            "plots": ["dvclive/plots"],
        },
    }
}
ARTIFACTS: dict[str, Any] = {
    "stages": {
        "train_churn": {"cmd": "c", "deps": ["data/churn.csv"], "outs": ["models/churn"]},
        "train_fraud": {"cmd": "f", "deps": ["data/fraud.csv"], "outs": ["models/fraud.pkl"]},
        "report": {"cmd": "r", "deps": ["models"], "metrics": ["metrics.yaml"]},
    },
    "artifacts": {
        "churn": {"path": "models/churn/model.pkl", "type": "model"},
        "fraud": {"path": "models/fraud.pkl", "type": "model", "desc": "fraud"},
        "notes": {"path": "README.md", "type": "doc"},
    },
}
SINGLE: dict[str, Any] = {
    "stages": {
        "train": {
            "cmd": "python train.py",
            "deps": ["train.py", "data/iris.csv"],
            "outs": ["model.pkl"],
            "metrics": ["metrics.json"],
        }
    }
}
NO_METRICS: dict[str, Any] = {"stages": {"train": {"cmd": "t", "deps": ["d.csv"], "outs": ["clf.joblib"]}}}


def _lock(*paths: str) -> dict[str, Any]:
    return {"schema": "2.0", "stages": {"s": {"cmd": "x", "outs": [{"path": p, "md5": "0"} for p in paths]}}}


@pytest.mark.parametrize(
    ("dvc_yaml", "lock", "metrics", "models"),
    [
        pytest.param(
            EVALUATE,
            _lock("model.pkl", "reports"),
            {"reports/scores.json": {"accuracy": 0.9, "roc_auc": 0.8}},
            [("proj", "train", "model.pkl", ["accuracy", "roc_auc"])],
            id="downstream-evaluate-top-level-metrics",
        ),
        pytest.param(
            DVCLIVE,
            _lock("model.pkl", "dvclive/metrics.json"),
            {"dvclive/metrics.json": {"roc_auc": {"train": 0.99, "test": 0.8}, "loss": 0.3, "step": True}},
            [("proj", "train", "model.pkl", ["roc_auc.test", "loss"])],
            id="dvclive-nested-metrics-held-out-split",
        ),
        pytest.param(
            ARTIFACTS,
            _lock("metrics.yaml"),
            {"metrics.yaml": {"churn": {"f1": 0.7}, "fraud": {"recall": 0.5}}},
            [
                ("churn", "train_churn", "models/churn/model.pkl", ["churn.f1", "fraud.recall"]),
                ("fraud", "train_fraud", "models/fraud.pkl", ["churn.f1", "fraud.recall"]),
            ],
            id="artifacts-two-models",
        ),
        pytest.param(
            SINGLE,
            _lock("model.pkl", "metrics.json"),
            {"metrics.json": {"accuracy": 0.95}},
            [("proj", "train", "model.pkl", ["accuracy"])],
            id="single-train-stage",
        ),
        pytest.param(
            SINGLE,
            None,
            {"metrics.json": {"accuracy": 0.95}},
            [("proj", "train", "model.pkl", [])],
            id="metrics-file-without-committed-lock-is-not-read",
        ),
        pytest.param(
            SINGLE,
            _lock("model.pkl"),
            {"metrics.json": {"accuracy": 0.95}},
            [("proj", "train", "model.pkl", [])],
            id="metrics-file-not-in-lock",
        ),
        pytest.param(NO_METRICS, None, {}, [("clf", "train", "clf.joblib", [])], id="no-metrics"),
    ],
)
def test_propose(
    dvc_yaml: dict[str, Any],
    lock: dict[str, Any] | None,
    metrics: dict[str, Any],
    models: list[tuple[str, str, str, list[str]]],
) -> None:
    proposal = propose(dvc_yaml, project_name="proj", lock=lock, metrics=metrics)
    got = [(m.name, m.stage, m.output, [g.name for g in m.metrics]) for m in proposal.models]
    assert got == models
    config = load_config(render_config(proposal), "proposed.yml")  # trains as is: it loads
    assert [(m.name, m.stage, m.output, [g.name for g in m.metrics]) for m in config.models] == models
    assert check_against_project(config, ProjectFacts(dvc_yaml, metrics)) == []


def test_lower_is_better_is_guessed_from_the_name() -> None:
    proposal = propose(
        DVCLIVE,
        project_name="p",
        lock=_lock("dvclive"),
        metrics={"dvclive/metrics.json": {"loss": 0.3, "rmse": 1.0, "acc": 0.9}},
    )
    assert {m.name: m.direction for m in proposal.models[0].metrics} == {
        "loss": "lower",
        "rmse": "lower",
        "acc": "higher",
    }


def test_a_first_model_is_judged_by_limits_a_little_below_todays_values() -> None:
    """Without an absolute limit a newcomer's first PR has nothing to be judged by (a `neutral` check)."""
    proposal = propose(
        DVCLIVE,
        project_name="p",
        lock=_lock("dvclive"),
        metrics={"dvclive/metrics.json": {"loss": 0.3127, "acc": 0.9, "auc": {"test": 0.8567}, "bias": -1.0}},
    )
    config = load_config(render_config(proposal), "proposed.yml")
    limits = {m.name: (m.min, m.max) for m in config.models[0].metrics}
    assert limits["loss"] == (None, 0.329)  # 0.3127 + 5 %, up
    assert limits["acc"] == (0.855, None)  # 0.9 - 5 %
    assert limits["auc.test"] == (0.813, None)  # 0.81387 rounded down, never tighter
    assert limits.get("bias", (None, None)) == (None, None)  # no margin can be taken of a negative value
    assert "the committed dvc.lock has 0.9: a first model is judged by this" in render_config(proposal)


def test_what_could_not_be_inferred_is_said() -> None:
    no_metrics = propose(NO_METRICS, project_name="p")
    assert any("no metric to gate on" in line and "models[].metrics" in line for line in no_metrics.missing)
    assert "# metrics:" in render_config(no_metrics)
    unread = propose(SINGLE, project_name="p")
    assert any("metrics.json" in line and "no committed dvc.lock" in line for line in unread.missing)
    nothing = propose({"stages": {"s": {"cmd": "x", "outs": ["out.csv"]}}}, project_name="p")
    assert nothing.models == () and any("no model found" in line for line in nothing.missing)
    assert load_config(render_config(nothing)).models == []
    torch = propose({"stages": {"t": {"cmd": "x", "outs": ["net.pt"]}}}, project_name="p")
    assert any("scikit-learn" in line for line in torch.missing)


def test_an_artifact_no_stage_writes_is_skipped_with_a_reason() -> None:
    proposal = propose(
        {"stages": {}, "artifacts": {"m": {"path": "m.pkl", "type": "model"}}}, project_name="p"
    )
    assert proposal.models == () and any("no stage in dvc.yaml outputs m.pkl" in x for x in proposal.missing)


@pytest.mark.parametrize(
    ("path", "model"),
    [
        ("model.pkl", True),
        ("out/clf.joblib", True),
        ("net.pt", True),
        ("m.onnx", True),
        ("k.h5", True),
        ("k.keras", True),
        ("w.bin", True),
        ("cat.cbm", True),
        ("models", True),
        ("model/", True),
        ("xgb_model.json", True),
        ("metrics.json", False),
        ("data/train.csv", False),
        ("reports", False),
    ],
)
def test_looks_like_model(path: str, model: bool) -> None:
    assert looks_like_model(path) is model


def test_pipeline_graph() -> None:
    pipeline: Pipeline = read_pipeline(EVALUATE)
    assert pipeline.downstream("prepare") == ["train", "evaluate"]
    assert pipeline.downstream("train") == ["evaluate"]
    assert pipeline.producer("reports/scores.json") == "evaluate"
    assert pipeline.metric_files("train") == ["reports/scores.json"]
    assert pipeline.metric_files("train", ["evaluate"]) == []
    assert pipeline.plots == (
        "reports/roc.csv",
        "reports/prc_train.tsv",
        "reports/prc_test.tsv",
    )
    assert pipeline.upstream_params_files("train") == ["params.yaml", "extra.yaml"]


def test_flatten_and_names_as_training_reports_them() -> None:
    assert flatten({"a": {"b": 1, "c": "x", "d": False}, "e": 2.5}) == {"a.b": 1.0, "e": 2.5}
    assert metric_names({"x.json": {"acc": 1, "f1": 2}, "y.json": {"acc": 3}}) == {
        "x.json:acc": "x.json",
        "f1": "x.json",
        "y.json:acc": "y.json",
    }
    assert in_lock(_lock("reports"), "reports/scores.json")
    assert not in_lock(_lock("reports2"), "reports/scores.json")
    assert not in_lock({"stages": "bad"}, "x")


@pytest.mark.parametrize(
    "bad",
    [[], {"stages": []}, {"stages": {"s": "cmd"}}, {"stages": {"s": {"outs": 3}}}, {"artifacts": []}],
)
def test_unreadable_dvc_yaml(bad: Any) -> None:
    with pytest.raises(ScanError, match=r"dvc\.yaml"):
        read_pipeline(bad)


def _config(model: str) -> Any:
    return load_config("models:\n" + model)


@pytest.mark.parametrize(
    ("model", "problems"),
    [
        pytest.param(
            "  - {name: m, stage: train, output: model.pkl, metrics: [{name: roc_auc}]}\n",
            [],
            id="top-level-metrics-of-a-downstream-stage",
        ),
        pytest.param(
            "  - {name: m, stage: fit, output: model.pkl}\n",
            [("models.0.stage", "no stage 'fit' in dvc.yaml (stages: prepare, train, evaluate)")],
            id="unknown-stage",
        ),
        pytest.param(
            "  - {name: m, stage: evaluate, output: model.pkl}\n",
            [
                (
                    "models.0.output",
                    "model.pkl is not an output of stage 'evaluate' (it is an output of stage 'train'",
                )
            ],
            id="output-of-another-stage",
        ),
        pytest.param(
            "  - {name: m, stage: train, output: model.pkl, metrics: [{name: accuracy}]}\n",
            [
                (
                    "models.0.metrics.0.name",
                    "metric 'accuracy' is in none of the metrics files "
                    "(reports/scores.json); they hold: roc_auc, loss",
                )
            ],
            id="template-accuracy-in-a-project-without-it",
        ),
        pytest.param(
            "  - {name: m, stage: train, output: model.pkl, metrics_from: [train], metrics: [{name: roc_auc}]}\n",
            [
                ("models.0.metrics_from.0", "stage 'train' declares no `metrics:` files"),
                ("models.0.metrics", "no metrics file for model m"),
            ],
            id="metrics-from-a-stage-without-metrics",
        ),
        pytest.param(
            "  - {name: m, stage: train, output: model.pkl, metrics_from: [reports/scores.json],"
            " metrics: [{name: loss}]}\n",
            [],
            id="metrics-from-a-file",
        ),
        pytest.param(
            "  - {name: m, stage: train, output: model.pkl, metrics_from: [nowhere.json]}\n",
            [("models.0.metrics_from.0", "'nowhere.json' is neither a stage")],
            id="metrics-from-nothing",
        ),
        pytest.param(
            "  - name: m\n    stage: train\n    output: model.pkl\n    drift:\n"
            "      current: prod/*.csv\n      reference: data/gone.csv\n",
            [("models.0.drift.reference", "data/gone.csv does not exist in the repository, is not a glob")],
            id="drift-paths",
        ),
        pytest.param(
            "  - name: m\n    stage: train\n    output: model.pkl\n    drift:\n"
            "      current: data/prod.csv\n      reference: data/train.csv\n",
            [],
            id="drift-path-tracked-by-dvc-file-and-by-a-stage",
        ),
    ],
)
def test_check_against_project(model: str, problems: list[tuple[str, str]]) -> None:
    facts = ProjectFacts(
        EVALUATE,
        {"reports/scores.json": {"roc_auc": 0.8, "loss": 0.1}},
        exists={"data/prod.csv.dvc"}.__contains__,
    )
    found = check_against_project(_config(model), facts)
    assert [p.key for p in found] == [key for key, _ in problems]
    for problem, (_, message) in zip(found, problems, strict=True):
        assert message in problem.message and problem.error


def test_a_metric_that_cannot_be_read_yet_is_a_warning() -> None:
    config = _config("  - {name: m, stage: train, output: model.pkl, metrics: [{name: accuracy}]}\n")
    (problem,) = check_against_project(config, ProjectFacts(EVALUATE, {}))
    assert not problem.error and "not in the workspace" in problem.message


def test_unpinned_metrics_are_only_named_in_the_commented_example() -> None:
    proposal = propose(SINGLE, project_name="p", metrics={"metrics.json": {"f1": {"train": 1, "test": 0.7}}})
    (model,) = proposal.models
    assert model.metrics == () and model.examples == ("f1.test",)
    text = render_config(proposal)
    assert "#   - name: f1.test" in text and "they hold now: f1.test" in text
    assert load_config(text).models[0].metrics == []


def test_a_project_with_requirements_runs_its_stages_in_their_environment() -> None:
    proposal = propose(DVCLIVE, project_name="p", requirements="requirements.txt")
    config = load_config(render_config(proposal), "proposed.yml")
    assert config.training.python == "requirements.txt"
    assert "the stages run in a virtual environment built from requirements.txt" in proposal.inferred
    assert load_config(render_config(propose(DVCLIVE, project_name="p"))).training.python is None
