"""The MLflow adapter against a sqlite store, and the same registry tests against a real `mlflow server`."""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from bot.adapters.mlflow import VERSION_RUN_ID_TAG, MlflowRegistry, RunTags
from bot.adapters.mlflow.search import quote
from bot.core.config import load_config
from bot.core.models import RunRecord
from tests.support.mlflow_server import MlflowServer
from tests.support.sample_repo import MODEL, TrainedSample, set_param

FEATURES = ["radius", "texture"]


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A scikit-learn pipeline fitted on a DataFrame (so it has feature names), saved with joblib."""
    import joblib
    import pandas as pd
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    folder = tmp_path_factory.mktemp("tiny-model")
    data = pd.DataFrame(
        {"radius": [1.0, 2.0, 3.0, 4.0], "texture": [0.5, 0.1, 0.9, 0.3], "target": [0, 0, 1, 1]}
    )
    data.to_csv(folder / "train.csv", index=False)
    model = make_pipeline(StandardScaler(), LogisticRegression()).fit(data[FEATURES], data["target"])
    joblib.dump(model, folder / "model.pkl")
    return folder


@dataclass(frozen=True)
class Logged:
    registry: MlflowRegistry
    model: str
    first: RunRecord
    second: RunRecord


def log_run(
    registry: MlflowRegistry, files: Path, model: str, *, output_hash: str, accuracy: float
) -> RunRecord:
    return registry.log_training_run(
        experiment="tests",
        model=model,
        run_name=f"{model} {output_hash}",
        params={"train.C": 0.5, "data.snapshot": "2024-01"},
        metrics={"accuracy": accuracy, "f1": accuracy - 0.01},
        tags={RunTags.OUTPUT_HASH: output_hash, RunTags.HEAD_SHA: "a" * 40, RunTags.PR: "7"},
        artifacts={"": [files / "train.csv"]},
        model_file=files / "model.pkl",
        example_data=files / "train.csv",
    )


@pytest.fixture(
    scope="module",
    params=["sqlite", pytest.param("server", marks=[pytest.mark.slow, pytest.mark.integration])],
)
def logged(
    request: pytest.FixtureRequest, tiny_model: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Logged]:
    """Two finished runs of one model, on a fresh sqlite store or on the session's real mlflow server."""
    if request.param == "server":
        server: MlflowServer = request.getfixturevalue("mlflow_server")
        registry = MlflowRegistry(server.url)
        model = "tiny-server"
    else:
        from tests.support.mlflow_store import sqlite_registry

        registry = sqlite_registry(tmp_path_factory.mktemp("mlflow"), base=tmp_path_factory.getbasetemp())
        model = "tiny-sqlite"
    first = log_run(registry, tiny_model, model, output_hash="hash-1", accuracy=0.90)
    second = log_run(registry, tiny_model, model, output_hash="hash-2", accuracy=0.95)
    yield Logged(registry, model, first, second)


def test_a_logged_run_has_its_tags_metrics_params_and_model(logged: Logged) -> None:
    run = logged.registry.run(logged.first.run_id)
    assert run is not None
    assert run.model == logged.model and run.status == "FINISHED"
    assert run.metrics == {"accuracy": 0.90, "f1": pytest.approx(0.89)}
    assert run.params == {"train.C": "0.5", "data.snapshot": "2024-01"}
    assert run.tags[RunTags.MODEL] == logged.model
    assert run.tags[RunTags.OUTPUT_HASH] == "hash-1"
    assert run.model_uri.startswith("models:/m-") and run.tags[RunTags.MODEL_URI] == run.model_uri
    assert not any(k.startswith("mlflow.") for k in run.tags)
    artifacts = {a.path for a in logged.registry.client.list_artifacts(run.run_id)}
    assert "train.csv" in artifacts


def test_run_url_links_to_the_ui_only_for_a_server(logged: Logged) -> None:
    url = logged.registry.run_url(logged.first)
    if logged.registry.tracking_uri.startswith("http"):
        assert url.startswith(logged.registry.tracking_uri) and url.endswith(f"/runs/{logged.first.run_id}")
        assert logged.first.url == url
    else:
        assert url == ""


def test_the_logged_model_loads_and_knows_its_input_columns(logged: Logged) -> None:
    import mlflow.pyfunc
    import pandas as pd

    from bot.adapters.mlflow.models import global_tracking_uri

    with global_tracking_uri(logged.registry.tracking_uri):
        model = mlflow.pyfunc.load_model(logged.first.model_uri)
    assert model.metadata.get_input_schema().input_names() == FEATURES
    assert list(model.predict(pd.DataFrame({"radius": [1.0, 4.0], "texture": [0.5, 0.3]}))) == [0, 1]


def test_find_runs_matches_every_tag_newest_first(logged: Logged) -> None:
    registry, model = logged.registry, logged.model
    assert [r.run_id for r in registry.find_runs(model, {})] == [logged.second.run_id, logged.first.run_id]
    assert [r.run_id for r in registry.find_runs(model, {RunTags.OUTPUT_HASH: "hash-1"})] == [
        logged.first.run_id
    ]
    assert registry.find_runs(model, {RunTags.OUTPUT_HASH: "hash-1", RunTags.PR: "8"}) == []
    assert registry.find_runs("another-model", {RunTags.OUTPUT_HASH: "hash-1"}) == []
    # values the filter grammar cannot quote are matched in Python instead of failing
    assert registry.find_runs(model, {RunTags.OUTPUT_HASH: 'it\'s "quoted"'}) == []


def test_find_runs_skips_runs_that_did_not_finish(logged: Logged, tiny_model: Path) -> None:
    registry = logged.registry
    with pytest.raises(FileNotFoundError):
        registry.log_training_run(
            experiment="tests",
            model=logged.model,
            run_name="broken",
            params={},
            metrics={"accuracy": 0.1},
            tags={RunTags.OUTPUT_HASH: "hash-broken"},
            artifacts={},
            model_file=tiny_model / "missing.pkl",
        )
    assert registry.find_runs(logged.model, {RunTags.OUTPUT_HASH: "hash-broken"}) == []


def test_run_of_an_unknown_id_is_none(logged: Logged) -> None:
    assert logged.registry.run("0" * 32) is None


def test_register_is_idempotent_per_run(logged: Logged) -> None:
    registry, model = logged.registry, logged.model
    first = registry.register(model, logged.first, {"mlops_bot.git_sha": "b" * 40})
    again = registry.register(model, logged.first, {"mlops_bot.git_sha": "b" * 40})
    assert again.version == first.version
    assert first.run_id == logged.first.run_id
    assert (
        first.tags[VERSION_RUN_ID_TAG] == logged.first.run_id and first.tags["mlops_bot.git_sha"] == "b" * 40
    )
    assert first.metrics == {"accuracy": 0.90, "f1": pytest.approx(0.89)}  # the run's: the card compares them
    assert first.source == logged.first.model_uri

    second = registry.register(model, logged.second, {})
    assert int(second.version) == int(first.version) + 1
    assert [v.version for v in registry.versions(model)] == [second.version, first.version]


def test_aliases_set_get_delete(logged: Logged) -> None:
    registry, model = logged.registry, logged.model
    first = registry.register(model, logged.first, {})
    second = registry.register(model, logged.second, {})
    assert registry.version_by_alias(model, "champion-x") is None

    registry.set_alias(model, "champion-x", first.version)
    registry.set_alias(model, "previous-x", first.version)
    registry.set_alias(model, "champion-x", second.version)  # moving an alias
    champion = registry.version_by_alias(model, "champion-x")
    assert champion is not None and champion.version == second.version and "champion-x" in champion.aliases
    previous = registry.version_by_alias(model, "previous-x")
    assert previous is not None and previous.version == first.version

    registry.delete_alias(model, "previous-x")
    registry.delete_alias(model, "previous-x")  # deleting what is gone is not an error
    assert registry.version_by_alias(model, "previous-x") is None


def test_lookups_of_what_does_not_exist_are_none(logged: Logged) -> None:
    registry = logged.registry
    assert registry.version_by_alias("never-registered", "champion") is None
    assert registry.version("never-registered", "1") is None
    assert registry.version(logged.model, "999") is None
    assert registry.versions("never-registered") == []


def test_version_tags_are_set(logged: Logged) -> None:
    registry, model = logged.registry, logged.model
    version = registry.register(model, logged.second, {})
    registry.set_version_tag(model, version.version, "mlops_bot.bento_tag", "svc:abc")
    found = registry.version(model, version.version)
    assert found is not None and found.tags["mlops_bot.bento_tag"] == "svc:abc"


@pytest.mark.parametrize(
    ("value", "quoted"),
    [("abc", "'abc'"), ("it's", '"it\'s"'), ('say "hi"', "'say \"hi\"'")],
)
def test_filter_values_are_quoted_with_a_quote_they_do_not_contain(value: str, quoted: str) -> None:
    assert quote(value) == quoted


def test_a_value_with_both_quotes_cannot_be_quoted() -> None:
    with pytest.raises(ValueError, match="both quote characters"):
        quote('it\'s "x"')


def test_sqlite_artifacts_go_beside_the_database(tmp_path: Path) -> None:
    registry = MlflowRegistry(f"sqlite:///{tmp_path / 'store' / 'mlflow.db'}")
    assert registry.artifact_root == (tmp_path / "store" / "mlartifacts").as_uri()
    assert MlflowRegistry("http://127.0.0.1:5000").artifact_root is None


@pytest.mark.slow
@pytest.mark.integration
def test_train_through_a_real_server(
    mlflow_server: MlflowServer, trained: TrainedSample, tmp_path: Path
) -> None:
    """The whole train job with the tracking URI of a real server: the run, its link, and a reuse."""
    from bot.jobs.train import TrainContext, train

    repo = trained.copy(tmp_path / "repo")
    set_param(repo, "C: 1.0", "C: 0.2")
    config = load_config((repo / ".github" / "mlops-bot.yml").read_text())
    registry = MlflowRegistry(mlflow_server.url)
    context = TrainContext(repo="o/r", pr=3, head_sha="c" * 40, base_sha=trained.sha, base_ref="main")

    [result] = train(repo, config, model=MODEL, context=context, registry=registry)
    assert result.ok and not result.reused, result.error
    assert result.run is not None and result.run.url.startswith(mlflow_server.url)
    assert result.params_diff == {"train.C": {"old": 1.0, "new": 0.2}}
    assert os.path.isdir(mlflow_server.root / "artifacts")

    [again] = train(repo, config, model=MODEL, context=context, registry=registry)
    assert again.reused and again.run is not None and again.run.run_id == result.run.run_id
