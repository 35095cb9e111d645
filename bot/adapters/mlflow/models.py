"""Logging a scikit-learn model as a run's logged model: its serialisation (skops, trusting the model's own
types, else cloudpickle), its signature, its pinned requirements, and nothing left behind when it fails.
`mlflow.sklearn.log_model` has no client form: it alone sees the tracking URI globally, inside
`global_tracking_uri` for the duration of the call."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

MODEL_ARTIFACT = "model"


class ModelLogError(Exception):
    """The trained model could not be logged; the run is FAILED and no logged model is left."""


def warm_up_logging(client: Any) -> None:
    """Pay the fixed costs of logging a model now (see `MlflowRuns.warm_up`)."""
    import tempfile

    import joblib  # noqa: F401
    import mlflow.sklearn
    import pandas as pd
    import sklearn
    from mlflow.models import infer_signature
    from sklearn.dummy import DummyClassifier

    client.search_experiments(max_results=1)
    with contextlib.suppress(ImportError):
        import git  # noqa: F401  # MLflow's run context reads the git commit through GitPython
    example = pd.DataFrame({"x": [0.0]})
    with tempfile.TemporaryDirectory(prefix="mlops-bot-warm-up-") as scratch:
        mlflow.sklearn.save_model(
            DummyClassifier().fit(example, [0]),
            f"{scratch}/model",
            signature=infer_signature(example, example),
            pip_requirements=[f"scikit-learn=={sklearn.__version__}"],
        )


def log_sklearn_model(
    client: Any, tracking_uri: str, run_id: str, model_file: Path, example_data: Path | None
) -> str:
    """Log the estimator as the run's model; ModelLogError (and no logged model left behind) if it fails.

    Serialization: skops, trusting exactly the types the model itself holds (a forest's
    `sklearn.tree._tree.Tree`, a boosting model's loss objects). The file came from the repository's own
    pipeline and `joblib.load` has already run it here, so trusting its types adds no new trust; the
    list is written into the MLmodel file and loaders use it. A model skops cannot represent (custom
    functions or classes) falls back to cloudpickle: see "Model serialization" in the README.
    """
    import joblib
    import mlflow
    import mlflow.sklearn

    try:
        estimator = joblib.load(model_file)
    except FileNotFoundError:
        raise  # no file at all is the caller's mistake, not the model's
    except Exception as exc:
        raise ModelLogError(f"cannot load the model file {model_file.name} with joblib: {exc}") from exc
    serialization, trusted = _serialization(estimator)
    signature = _signature(estimator, example_data)
    try:
        with global_tracking_uri(tracking_uri), mlflow.start_run(run_id=run_id):
            info = mlflow.sklearn.log_model(
                estimator,
                name=MODEL_ARTIFACT,
                signature=signature,
                serialization_format=serialization,
                skops_trusted_types=trusted,
                # Without an explicit list MLflow spends ~5 s inferring one (and lists pytest and rich).
                pip_requirements=_pip_requirements(estimator, serialization),
            )
    except Exception as exc:
        _delete_logged_models(client, run_id)  # no half-logged model for a registry to pick up
        raise ModelLogError(
            f"MLflow could not log the model {model_file.name} ({type(estimator).__name__}): {exc}"
        ) from exc
    return str(info.model_uri)


def _delete_logged_models(client: Any, run_id: str) -> None:
    with contextlib.suppress(Exception):  # best effort: the run is marked FAILED either way
        experiment = client.get_run(run_id).info.experiment_id
        for logged in client.search_logged_models(
            experiment_ids=[experiment], filter_string=f"source_run_id = '{run_id}'"
        ):
            client.delete_logged_model(logged.model_id)


_URI_VARIABLES = ("MLFLOW_TRACKING_URI", "MLFLOW_REGISTRY_URI")


@contextlib.contextmanager
def global_tracking_uri(uri: str) -> Iterator[None]:
    """Point MLflow's global tracking URI at `uri` for a fluent-only call (the registry follows it unless one was
    set), then put back exactly what was there. MLflow also exports the URIs to os.environ "so that subprocesses
    inherit them": left behind, they would send the process's later jobs to this store."""
    import mlflow
    from mlflow.tracking._model_registry import utils as registry_utils
    from mlflow.tracking._tracking_service import utils as tracking_utils

    saved_globals = (tracking_utils._tracking_uri, registry_utils._registry_uri)
    saved_env = {name: os.environ.get(name) for name in _URI_VARIABLES}
    mlflow.set_tracking_uri(uri)
    try:
        yield
    finally:
        mlflow.set_tracking_uri(saved_globals[0])  # type: ignore[arg-type]  # None: unset (resets the tracer too)
        registry_utils._registry_uri = saved_globals[1]
        for name, value in saved_env.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def _signature(estimator: Any, example_data: Path | None) -> Any:
    """Input columns of a model fitted on a DataFrame; types from `example_data` when it has the columns."""
    columns = [str(c) for c in getattr(estimator, "feature_names_in_", [])]
    if not columns:
        return None
    from mlflow.models import infer_signature
    from mlflow.models.signature import ModelSignature
    from mlflow.types import ColSpec, Schema

    if example_data is not None and example_data.is_file():
        import pandas as pd

        frame = (
            pd.read_parquet(example_data)
            if example_data.suffix == ".parquet"
            else pd.read_csv(example_data, nrows=20)
        )
        if set(columns) <= set(frame.columns):
            rows = frame[columns].head(20)
            return infer_signature(rows, estimator.predict(rows))
    text = _encoded_columns(estimator)  # no example rows: columns an encoder reads are text, others numbers
    return ModelSignature(
        inputs=Schema([ColSpec("string" if name in text else "double", name) for name in columns])
    )


def _encoded_columns(estimator: Any) -> set[str]:
    """Columns a ColumnTransformer inside `estimator` hands to an encoder (OneHotEncoder, OrdinalEncoder...)."""
    found: set[str] = set()
    for part in _parts(estimator):
        for entry in getattr(part, "transformers", None) or ():
            if isinstance(entry, tuple) and len(entry) == 3 and "Encoder" in type(entry[1]).__name__:
                cols = entry[2] if isinstance(entry[2], list | tuple) else [entry[2]]
                found |= {c for c in cols if isinstance(c, str)}
    return found


def _serialization(estimator: Any) -> tuple[str, list[str] | None]:
    """("skops", the model's own types) when skops can write and read it back, else ("cloudpickle", None)."""
    import skops.io

    try:
        data = skops.io.dumps(estimator)
        trusted = sorted(skops.io.get_untrusted_types(data=data))
        skops.io.loads(data, trusted=trusted)
    except Exception:  # skops cannot represent custom functions/classes; any reason means cloudpickle
        return "cloudpickle", None
    return "skops", trusted


def _pip_requirements(estimator: Any, serialization: str) -> list[str]:
    """scikit-learn, the serializer, and the boosting libraries the estimator's parts come from, pinned."""
    from importlib.metadata import PackageNotFoundError, version

    wanted = ["scikit-learn", "skops" if serialization == "skops" else "cloudpickle"]
    modules = {type(part).__module__.split(".")[0] for part in _parts(estimator)}
    wanted += [name for name in ("xgboost", "lightgbm", "catboost") if name in modules]
    pinned = []
    for name in wanted:
        with contextlib.suppress(PackageNotFoundError):
            pinned.append(f"{name}=={version(name)}")
    return pinned


def _parts(estimator: Any, depth: int = 0) -> list[Any]:
    """The estimator and the estimators inside it (Pipeline steps, ColumnTransformer transformers)."""
    found = [estimator]
    if depth > 5:
        return found
    params = getattr(estimator, "get_params", None)
    if callable(params):
        with contextlib.suppress(Exception):
            for value in params(deep=False).values():
                items = value if isinstance(value, list | tuple) else [value]
                for item in items:
                    item = item[1] if isinstance(item, tuple) and len(item) >= 2 else item
                    if hasattr(item, "get_params"):
                        found += _parts(item, depth + 1)
    return found
