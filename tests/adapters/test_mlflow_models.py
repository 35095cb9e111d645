"""Every common scikit-learn model family logs to a real sqlite MLflow store, loads back and predicts.

MLflow's default skops format refuses types it does not know (a forest's `sklearn.tree._tree.Tree`); the
adapter trusts the types the model itself holds, and a model skops cannot write goes as cloudpickle.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import joblib
import pandas as pd
import pytest

from bot.adapters.mlflow import MlflowRegistry, ModelLogError
from bot.adapters.mlflow.models import global_tracking_uri

FRAME = pd.DataFrame(
    {
        "size": [float(i % 17) for i in range(120)],
        "weight": [float((i * 7) % 13) for i in range(120)],
        "colour": [("red", "green", "blue")[i % 3] for i in range(120)],
    }
)
LABEL = [int(i % 17 > 8) for i in range(120)]
NUMERIC = FRAME[["size", "weight"]]


def forest() -> Any:
    from sklearn.ensemble import RandomForestClassifier

    return RandomForestClassifier(n_estimators=5, random_state=0).fit(NUMERIC, LABEL)


def tree() -> Any:
    from sklearn.tree import DecisionTreeClassifier

    return DecisionTreeClassifier(random_state=0).fit(NUMERIC, LABEL)


def boosting() -> Any:
    from sklearn.ensemble import GradientBoostingClassifier

    return GradientBoostingClassifier(n_estimators=5, random_state=0).fit(NUMERIC, LABEL)


def hist_boosting() -> Any:
    from sklearn.ensemble import HistGradientBoostingRegressor

    return HistGradientBoostingRegressor(max_iter=5).fit(NUMERIC, [float(v) for v in LABEL])


def column_pipeline() -> Any:
    from sklearn.compose import ColumnTransformer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    columns = ColumnTransformer(
        [("num", StandardScaler(), ["size", "weight"]), ("cat", OneHotEncoder(), ["colour"])]
    )
    return Pipeline([("columns", columns), ("model", LogisticRegression())]).fit(FRAME, LABEL)


def custom_function_pipeline() -> Any:
    """A FunctionTransformer of a function skops cannot name: logged with cloudpickle instead."""
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import FunctionTransformer

    return Pipeline(
        [("double", FunctionTransformer(lambda x: x * 2)), ("model", RandomForestClassifier(n_estimators=3))]
    ).fit(NUMERIC, LABEL)


def xgboost_model() -> Any:
    xgboost = pytest.importorskip("xgboost")
    return xgboost.XGBClassifier(n_estimators=3).fit(NUMERIC, LABEL)


def lightgbm_model() -> Any:
    lightgbm = pytest.importorskip("lightgbm")
    return lightgbm.LGBMClassifier(n_estimators=3, verbose=-1).fit(NUMERIC, LABEL)


@pytest.mark.parametrize(
    ("build", "columns", "serialization"),
    [
        pytest.param(forest, NUMERIC, "skops", id="random-forest"),
        pytest.param(tree, NUMERIC, "skops", id="decision-tree"),
        pytest.param(boosting, NUMERIC, "skops", id="gradient-boosting"),
        pytest.param(hist_boosting, NUMERIC, "skops", id="hist-gradient-boosting"),
        pytest.param(column_pipeline, FRAME, "skops", id="pipeline-column-transformer"),
        pytest.param(custom_function_pipeline, NUMERIC, "cloudpickle", id="custom-function"),
        pytest.param(xgboost_model, NUMERIC, None, id="xgboost"),
        pytest.param(lightgbm_model, NUMERIC, None, id="lightgbm"),
    ],
)
def test_each_model_family_logs_loads_and_predicts(
    build: Callable[[], Any],
    columns: pd.DataFrame,
    serialization: str | None,
    sqlite_store: MlflowRegistry,
    tmp_path: Path,
) -> None:
    import mlflow.pyfunc
    import mlflow.sklearn
    import yaml

    estimator = build()
    model_file = tmp_path / "model.pkl"
    if (
        serialization == "cloudpickle"
    ):  # plain pickle cannot write a lambda; a project's code may use cloudpickle
        import cloudpickle

        model_file.write_bytes(cloudpickle.dumps(estimator))
    else:
        joblib.dump(estimator, model_file)

    run = sqlite_store.log_training_run(
        experiment="families",
        model="m",
        run_name="m",
        params={},
        metrics={"score": 1.0},
        tags={},
        artifacts={},
        model_file=model_file,
    )

    assert run.status == "FINISHED" and run.model_uri.startswith("models:/m-")
    with global_tracking_uri(sqlite_store.tracking_uri):
        loaded = mlflow.pyfunc.load_model(run.model_uri)
        native = mlflow.sklearn.load_model(run.model_uri)
        local = Path(mlflow.artifacts.download_artifacts(run.model_uri, dst_path=str(tmp_path / "dl")))
    expected = list(estimator.predict(columns.head(10)))
    assert list(loaded.predict(columns.head(10))) == expected
    assert list(native.predict(columns.head(10))) == expected
    flavor = yaml.safe_load((local / "MLmodel").read_text())["flavors"]["sklearn"]
    if serialization is not None:
        assert flavor["serialization_format"] == serialization
    requirements = (local / "requirements.txt").read_text()
    assert "scikit-learn==" in requirements
    assert ("skops==" in requirements) == (flavor["serialization_format"] == "skops")


def test_a_model_that_cannot_be_logged_leaves_a_failed_run_and_no_model(
    sqlite_store: MlflowRegistry, tmp_path: Path
) -> None:
    model_file = tmp_path / "model.pkl"
    model_file.write_bytes(b"not a pickle")

    with pytest.raises(ModelLogError, match=r"cannot load the model file model\.pkl"):
        sqlite_store.log_training_run(
            experiment="broken",
            model="m",
            run_name="m",
            params={},
            metrics={"score": 1.0},
            tags={},
            artifacts={},
            model_file=model_file,
        )

    client = sqlite_store.client
    experiment = client.get_experiment_by_name("broken").experiment_id
    [run] = client.search_runs([experiment])
    assert run.info.status == "FAILED"
    assert list(client.search_logged_models(experiment_ids=[experiment])) == []
    assert sqlite_store.find_runs("m", {}) == []


def test_a_failure_inside_log_model_deletes_the_half_logged_model(
    sqlite_store: MlflowRegistry, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What the pinned MLflow did to every forest before: skops refuses the Tree type after MLflow has
    created the logged model. The run ends FAILED and that logged model is deleted."""
    import bot.adapters.mlflow.models as adapter

    monkeypatch.setattr(adapter, "_serialization", lambda estimator: ("skops", []))  # trust nothing
    model_file = tmp_path / "model.pkl"
    joblib.dump(forest(), model_file)

    with pytest.raises(ModelLogError, match=r"RandomForestClassifier.*sklearn\.tree\._tree\.Tree"):
        sqlite_store.log_training_run(
            experiment="orphans",
            model="m",
            run_name="m",
            params={},
            metrics={"score": 1.0},
            tags={},
            artifacts={},
            model_file=model_file,
        )

    client = sqlite_store.client
    experiment = client.get_experiment_by_name("orphans").experiment_id
    [run] = client.search_runs([experiment])
    assert run.info.status == "FAILED"
    assert list(client.search_logged_models(experiment_ids=[experiment])) == []
