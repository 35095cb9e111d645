"""The champion re-scored on the candidate's data: real scikit-learn models logged to a real sqlite MLflow
registry, the champion loaded as `models:/NAME@champion` (sklearn or a plain pyfunc model), both scored on
the same rows, and the paired bootstrap's verdict, slices and errors as the card and the gates see them."""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import joblib
import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.tree import DecisionTreeClassifier

from bot.adapters.mlflow import MlflowRegistry
from bot.core import gates
from bot.core.config import ModelSpec, Promotion, load_config
from bot.core.evaluation import SameDataComparison, slice_tolerances
from bot.jobs.evaluation.same_data import same_data_comparison
from tests.support.mlflow_store import sqlite_registry

MODEL = "churn"
FEATURES = ["tenure", "usage", "region"]


def _rows(seed: int, n: int) -> pd.DataFrame:
    """Churn depends on usage everywhere, and, in region 1 only, on tenure the other way round."""
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(
        {
            "tenure": rng.normal(size=n),
            "usage": rng.normal(size=n),
            "region": rng.integers(0, 2, n),
        }
    )
    signal = frame["usage"] + np.where(frame["region"] == 1, -2.0 * frame["tenure"], 0.0)
    frame["churned"] = (signal + rng.normal(scale=0.3, size=n) > 0).astype(int)
    return frame


@dataclass
class World:
    root: Path
    registry: MlflowRegistry
    uris: dict[str, str]
    models: dict[str, Any]

    def spec(self, evaluation: str, metrics: str = "", tolerance: float = 0.01) -> ModelSpec:
        text = f"""
models:
  - name: {MODEL}
    stage: train
    output: model.pkl
    metrics:
      - name: accuracy
        tolerance: {tolerance}
{metrics}
    evaluation:
{evaluation}
"""
        spec = load_config(text).model(MODEL)
        assert spec is not None
        return spec

    def compare(self, candidate: str, champion: str = "champion", **evaluation: str) -> SameDataComparison:
        lines = {"data": "data/eval.csv", "label": "churned", "metrics": "[accuracy, f1, roc_auc]"}
        lines.update(evaluation)
        spec = self.spec("\n".join(f"      {k}: {v}" for k, v in lines.items()))
        return same_data_comparison(
            self.root,
            spec,
            candidate_uri=self.uris[candidate],
            champion_uri=f"models:/{MODEL}@champion"
            if champion == "champion"
            else self.uris.get(champion, champion),
            champion_version="1",
            tracking_uri=self.registry.tracking_uri,
        )


def _log(registry: MlflowRegistry, folder: Path, name: str, estimator: Any, train: pd.DataFrame) -> str:
    path = folder / f"{name}.pkl"
    joblib.dump(estimator, path)
    example = folder / f"{name}-example.csv"
    train.to_csv(example, index=False)
    run = registry.log_training_run(
        experiment="same-data",
        model=MODEL,
        run_name=name,
        params={},
        metrics={},
        tags={},
        artifacts={},
        model_file=path,
        example_data=example,
    )
    assert run.model_uri
    return run.model_uri


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> World:
    base = tmp_path_factory.mktemp("same-data")
    registry = sqlite_registry(base / "mlflow", base=tmp_path_factory.getbasetemp())
    root = base / "repo"
    (root / "data").mkdir(parents=True)
    train = _rows(0, 1500)
    _rows(1, 800).to_csv(root / "data" / "eval.csv", index=False)
    x, y = train[FEATURES], train["churned"]
    region0 = train[train["region"] == 0]

    def tree(split_seed: int) -> DecisionTreeClassifier:
        """A PR that changes only the split seed: another 80 % of the rows to learn from."""
        rows = train.sample(frac=0.8, random_state=split_seed)
        return DecisionTreeClassifier(max_depth=6, min_samples_leaf=10, random_state=0).fit(
            rows[FEATURES], rows["churned"]
        )

    models: dict[str, Any] = {
        # a linear model cannot express the region-1 rule
        "linear": LogisticRegression().fit(x, y),
        "tree-0": tree(0),
        "tree-1": tree(1),
        # learnt from region 0 only: fine there, wrong about region 1
        "region-0-tree": DecisionTreeClassifier(max_depth=4, random_state=0).fit(
            region0[FEATURES], region0["churned"]
        ),
        "no-tenure": LogisticRegression().fit(x[["usage", "region"]], y),
    }
    no_tenure = train[["usage", "region", "churned"]]
    uris = {
        name: _log(registry, base, name, model, no_tenure if name == "no-tenure" else train)
        for name, model in models.items()
    }
    run = registry.find_runs(MODEL, {})
    champion_run = next(r for r in run if r.model_uri == uris["tree-0"])
    version = registry.register(MODEL, champion_run, {})
    registry.set_alias(MODEL, "champion", version.version)
    return World(root, registry, uris, models)


def test_a_clear_improvement_is_better_with_an_interval_above_zero(world: World) -> None:
    comparison = world.compare("tree-0", champion="linear")

    assert comparison.ok, comparison.error
    assert comparison.rows == 800 and comparison.resamples == 1000
    accuracy = comparison.metric("accuracy")
    assert accuracy is not None
    assert accuracy.verdict == "better"
    assert 0 < accuracy.low <= accuracy.delta <= accuracy.high
    assert accuracy.candidate > 0.9 and accuracy.champion < 0.85
    assert comparison.champion_metrics()["champion.accuracy"] == accuracy.champion


def test_more_rows_than_max_rows_are_sampled_and_the_card_says_so(world: World) -> None:
    comparison = world.compare("tree-1", max_rows="500")

    assert comparison.ok and comparison.rows == 500
    assert comparison.notes == (
        "a seeded sample of 500 of the 800 labelled rows was scored (evaluation.max_rows)",
    )


def test_a_seed_only_change_is_not_distinguishable(world: World) -> None:
    comparison = world.compare("tree-1")  # against models:/churn@champion, the split-seed-0 tree

    assert comparison.ok, comparison.error
    for metric in comparison.metrics:
        assert metric.verdict == "not distinguishable", metric
        assert metric.low <= 0 <= metric.high


def test_an_easier_split_raises_the_recorded_metric_but_the_gate_judges_the_same_data(world: World) -> None:
    """The PR's new split holds only clear-cut rows: the candidate records a far higher accuracy than the
    champion recorded on its own split. On the same rows the two cannot be told apart, and the gate says so."""
    split = _rows(2, 2000)
    easy = split[split["usage"].abs() > 1.5]
    recorded = {"accuracy": float(world.models["tree-1"].score(easy[FEATURES], easy["churned"]))}
    champion_recorded = {"accuracy": float(world.models["tree-0"].score(split[FEATURES], split["churned"]))}
    comparison = world.compare("tree-1")
    evaluation = "      data: data/eval.csv\n      label: churned"
    strict = world.spec(evaluation, metrics="        significant: true", tolerance=0)
    lenient = world.spec(evaluation, metrics="        significant: true", tolerance=0.01)

    by_record = gates.evaluate(strict, recorded, champion_recorded, promotion=Promotion())
    fair = gates.evaluate(strict, recorded, champion_recorded, promotion=Promotion(), same_data=comparison)
    within_noise = gates.evaluate(
        lenient, recorded, champion_recorded, promotion=Promotion(), same_data=comparison
    )

    assert recorded["accuracy"] > champion_recorded["accuracy"] + 0.03
    assert by_record.allowed and "improved by" in by_record.verdicts[0].reason
    assert not fair.allowed
    [reason] = [v.reason for v in fair.verdicts if v.metric == "accuracy"]
    assert reason.startswith("accuracy on the same data (800 rows of data/eval.csv): ")
    assert reason.endswith(
        "not distinguishable: not an improvement; the gate asks for an improvement the interval shows "
        "(significant: true)"
    )
    assert within_noise.allowed
    assert within_noise.verdicts[0].reason.endswith("not distinguishable: within noise and the allowed 0.010")


def test_a_slice_regression_is_named(world: World) -> None:
    comparison = world.compare("region-0-tree", slices="[region]", **{"min_slice_rows": "50"})

    assert comparison.ok, comparison.error
    assert {(s.column, s.value) for s in comparison.slices} == {("region", "0"), ("region", "1")}
    spec = world.spec("      data: data/eval.csv\n      label: churned\n      slices: [region]")
    worst = comparison.worst_slice_regression(slice_tolerances(spec))
    assert worst is not None
    assert (worst.column, worst.value, worst.metric.name) == ("region", "1", "accuracy")
    assert worst.metric.worse_by > 0.2


def test_a_champion_of_another_flavor_is_loaded_and_scored(world: World) -> None:
    """A champion logged as a plain pyfunc model (a rule in Python, no sklearn flavor, no signature)."""
    import mlflow.pyfunc

    from bot.adapters.mlflow.models import global_tracking_uri

    class UsageRule(mlflow.pyfunc.PythonModel):  # type: ignore[misc,name-defined]  # mlflow is untyped here
        def predict(self, context: object, model_input: pd.DataFrame) -> Any:
            return (model_input["usage"] > 0).astype(int).to_numpy()

    registry, rule = world.registry, "churn-rule"
    with global_tracking_uri(registry.tracking_uri):
        with mlflow.start_run() as run:
            info = mlflow.pyfunc.log_model(
                name="model", python_model=UsageRule(), pip_requirements=["mlflow"]
            )
        registry.client.create_registered_model(rule)
        version = registry.client.create_model_version(rule, info.model_uri, run.info.run_id)
    registry.client.set_registered_model_alias(rule, "champion", version.version)

    comparison = world.compare("tree-0", champion=f"models:/{rule}@champion", metrics="[accuracy, roc_auc]")

    accuracy = comparison.metric("accuracy")
    assert accuracy is not None, comparison.error
    assert 0.6 < accuracy.champion < 0.9 and accuracy.candidate > accuracy.champion
    assert comparison.metric("roc_auc") is None  # the rule gives no probabilities: left out, and said why
    assert comparison.notes == (
        "roc_auc not compared: roc_auc needs class probabilities, which this model does not give",
    )


def test_a_missing_label_column_is_a_clear_error(world: World) -> None:
    comparison = world.compare("tree-1", label="target")

    assert not comparison.ok
    assert comparison.error.startswith(
        "the evaluation data data/eval.csv has no label column 'target' (evaluation.label); its columns: "
        "tenure, usage, region, churned"
    )


def test_a_feature_the_champion_needs_is_a_clear_error(world: World) -> None:
    """The PR dropped `tenure` from the data and from its model; the champion still takes it."""
    frame = pd.read_csv(world.root / "data" / "eval.csv").drop(columns="tenure")
    frame.to_csv(world.root / "data" / "eval-no-tenure.csv", index=False)

    comparison = world.compare("no-tenure", data="data/eval-no-tenure.csv")

    assert comparison.error == (
        "the evaluation data data/eval-no-tenure.csv lacks column(s) tenure that the champion (version 1) "
        "takes as input (its MLflow signature)"
    )


def test_a_pr_training_logs_the_champions_scores_to_the_candidates_run(world: World) -> None:
    """What `mlops-bot train` does after logging the run: the comparison is recorded in MLflow, so `/card`
    and the promotion read the same verdict back."""
    from bot.core.config import RepoConfig
    from bot.jobs.train_evaluation import compare_with_champion, recorded_comparison

    [run] = [r for r in world.registry.find_runs(MODEL, {}) if r.model_uri == world.uris["tree-1"]]
    spec = world.spec("      data: data/eval.csv\n      label: churned\n      metrics: [accuracy, f1]")

    comparison = compare_with_champion(world.root, spec, RepoConfig(models=[spec]), world.registry, run)

    assert comparison is not None and comparison.ok, comparison
    logged = world.registry.run(run.run_id)
    assert logged is not None
    assert logged.metrics["champion.accuracy"] == pytest.approx(comparison.metrics[0].champion)
    assert logged.metrics["champion.f1"] == pytest.approx(comparison.metrics[1].champion)
    assert recorded_comparison(world.registry, run) == comparison
    assert recorded_comparison(world.registry, run, champion_version="2") is None  # the champion moved since


def test_the_promotion_judges_the_comparison_the_pr_training_recorded(world: World) -> None:
    """On merge, the gate reads the same-data comparison back from the candidate's run, as long as the
    champion it was made with is still the champion."""
    from bot.core.config import RepoConfig
    from bot.jobs.train_evaluation import compare_with_champion, promotion_comparison

    [run] = [r for r in world.registry.find_runs(MODEL, {}) if r.model_uri == world.uris["tree-1"]]
    spec = world.spec(
        "      data: data/eval.csv\n      label: churned", metrics="        significant: true", tolerance=0
    )
    compare_with_champion(world.root, spec, RepoConfig(models=[spec]), world.registry, run)
    champion = world.registry.version_by_alias(MODEL, "champion")
    assert champion is not None

    judged = promotion_comparison(world.registry, spec, run, champion)
    decision = gates.evaluate(
        spec, {"accuracy": 0.99}, champion.metrics, promotion=Promotion(), same_data=judged
    )

    assert judged is not None and not decision.allowed
    assert decision.failures[0].reason.endswith("(significant: true)")
    moved = replace(champion, version="9")
    assert promotion_comparison(world.registry, spec, run, moved) is None


def test_a_retrain_pr_scores_both_models_on_the_labelled_production_rows(
    world: World, tmp_path: Path
) -> None:
    """Production moved: churn now follows usage the other way round. The champion, trained before, is
    scored on those labelled rows next to a candidate retrained on them."""
    from bot.jobs.train_evaluation import PRODUCTION_ARTIFACT, compare_on_production, recorded_comparison

    production = _rows(3, 600)
    production["churned"] = 1 - production["churned"]
    production.to_csv(world.root / "data" / "production.csv", index=False)
    retrained = LogisticRegression().fit(production[FEATURES], production["churned"])
    uri = _log(world.registry, tmp_path, "retrained", retrained, production)
    [run] = [r for r in world.registry.find_runs(MODEL, {}) if r.model_uri == uri]
    text = f"""
models:
  - name: {MODEL}
    stage: train
    output: model.pkl
    drift:
      current: data/production.csv
      reference: data/train.csv
      performance:
        label: churned
        metrics: [{{name: accuracy, tolerance: 0.05}}]
"""
    config = load_config(text)
    spec = config.model(MODEL)
    assert spec is not None

    comparison = compare_on_production(world.root, spec, config, world.registry, run)

    assert comparison is not None and comparison.ok, comparison
    assert (comparison.data, comparison.rows) == ("data/production.csv", 600)
    [accuracy] = comparison.metrics
    assert accuracy.champion < 0.3 and accuracy.candidate > 0.7 and accuracy.verdict == "better"
    assert recorded_comparison(world.registry, run, artifact=PRODUCTION_ARTIFACT) == comparison  # for /card
    unlabelled = production.drop(columns="churned")
    unlabelled.to_csv(world.root / "data" / "production.csv", index=False)
    assert compare_on_production(world.root, spec, config, world.registry, run) is None  # no labels: no table


def test_a_retrain_branch_without_the_labels_is_scored_on_the_default_branchs_rows(
    world: World, tmp_path: Path
) -> None:
    """The retrain PR was opened on unlabelled drift; the labels came to main later, and the PR's branch
    still holds the old rows. The rows the check read, on the base commit, are the ones scored."""
    import subprocess

    from bot.jobs.train_evaluation import compare_on_production

    repo = tmp_path / "checkout"
    (repo / "data").mkdir(parents=True)
    labelled = _rows(4, 300)
    labelled.to_csv(repo / "data" / "production.csv", index=False)
    for args in (
        ["init", "-q"],
        ["add", "-A"],
        ["-c", "user.email=a@b", "-c", "user.name=a", "commit", "-qm", "x"],
    ):
        subprocess.run(["git", *args], cwd=repo, check=True)
    base = subprocess.run(["git", "rev-parse", "HEAD"], cwd=repo, check=True, capture_output=True, text=True)
    labelled.drop(columns="churned").to_csv(repo / "data" / "production.csv", index=False)  # the PR's copy
    [run] = [r for r in world.registry.find_runs(MODEL, {}) if r.model_uri == world.uris["tree-1"]]
    config = load_config(
        f"""
models:
  - name: {MODEL}
    stage: train
    output: model.pkl
    drift:
      current: data/production.csv
      reference: data/train.csv
      performance: {{label: churned, metrics: [{{name: accuracy}}]}}
"""
    )
    spec = config.model(MODEL)
    assert spec is not None
    sha = base.stdout.strip()

    comparison = compare_on_production(repo, spec, config, world.registry, run, base_rev=sha)
    without_base = compare_on_production(repo, spec, config, world.registry, run)

    assert comparison is not None and comparison.ok, comparison
    assert (comparison.data, comparison.rows) == (f"data/production.csv at {sha[:12]}", 300)
    assert without_base is None  # the checkout's rows carry no label


def test_a_retrain_pr_on_served_traffic_scores_both_models_on_the_labels_that_came_back(
    world: World, tmp_path: Path
) -> None:
    """`drift.current: served`: the rows are what the service logged in the last week, and only those whose
    label came back through /feedback are scored (the unlabelled ones are not guessed)."""
    import datetime as dt

    from bot.adapters.traffic_log import TrafficLog, write_labels
    from bot.jobs.train_evaluation import compare_on_production

    production = _rows(5, 500)
    production["churned"] = 1 - production["churned"]
    retrained = LogisticRegression().fit(production[FEATURES], production["churned"])
    uri = _log(world.registry, tmp_path, "retrained-served", retrained, production)
    [run] = [r for r in world.registry.find_runs(MODEL, {}) if r.model_uri == uri]
    location = tmp_path / "traffic"
    ids = [f"r{i}" for i in range(len(production))]
    now = dt.datetime.now(dt.UTC)
    log = TrafficLog(str(location), model_version="1", clock=(now - dt.timedelta(hours=2)).timestamp)
    log.record(production[FEATURES], [0] * len(ids), ids)
    log.close()
    labelled = production.iloc[:350]
    write_labels(
        str(location),
        ids[:350],
        labelled["churned"].tolist(),
        received_at=(now - dt.timedelta(hours=1)).timestamp(),
    )
    config = load_config(
        f"""
models:
  - name: {MODEL}
    stage: train
    output: model.pkl
    drift:
      current: served
      window: since-last-check
      traffic: {{location: "{location.as_uri()}"}}
      reference: data/train.csv
      performance: {{label: churned, metrics: [{{name: accuracy, tolerance: 0.05}}]}}
"""
    )
    spec = config.model(MODEL)
    assert spec is not None

    comparison = compare_on_production(world.root, spec, config, world.registry, run)

    assert comparison is not None and comparison.ok, comparison
    assert (comparison.data, comparison.rows) == ("served traffic, last 7d", 350)
    [accuracy] = comparison.metrics
    assert accuracy.champion < 0.3 and accuracy.candidate > 0.7 and accuracy.verdict == "better"
    assert not (location / "checks").exists(), "scoring a PR is no check: since-last-check does not move"
    empty = tmp_path / "no-traffic"
    unlabelled = load_config(
        f"""
models:
  - name: {MODEL}
    stage: train
    output: model.pkl
    drift:
      current: served
      traffic: {{location: "{empty.as_uri()}"}}
      reference: data/train.csv
      performance: {{label: churned, metrics: [{{name: accuracy}}]}}
"""
    )
    nothing = unlabelled.model(MODEL)
    assert nothing is not None
    assert compare_on_production(world.root, nothing, unlabelled, world.registry, run) is None  # no traffic
