"""MLflow tracking and model registry behind `bot.ports.ModelRegistry`.

Works with a `sqlite:///` store (the embedded default) and with an `http(s)://` tracking server. The
URIs live on an `MlflowClient` owned by the instance; only `mlflow.sklearn.log_model`, which has no
client form, sees them globally, inside `_global_tracking_uri` for the duration of the call.
mlflow (~1.7 s to import) and scikit-learn are imported inside the methods.
"""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import unquote

from bot.core.models import ModelVersion, RunRecord
from bot.core.tags import MODEL_REPO_TAG, VersionTags
from bot.core.tags import RunTags as RunTags  # re-exported: the adapter is where callers look

VERSION_RUN_ID_TAG = VersionTags.RUN_ID
MODEL_ARTIFACT = "model"
_MAX_PARAMS_PER_BATCH = 100  # MLflow's log_batch limit
_PARAM_VALUE_LIMIT = 6000  # MLflow rejects longer param values
_NOT_FOUND_CODES = {"RESOURCE_DOES_NOT_EXIST", "NOT_FOUND", "INVALID_PARAMETER_VALUE"}
_EXISTS_CODES = {"RESOURCE_ALREADY_EXISTS", "ALREADY_EXISTS"}


class ForeignModelError(Exception):
    """A registered model another repository owns: this repository may neither read nor move it."""

    def __init__(self, model: str, owner: str, repository: str) -> None:
        self.model, self.owner, self.repository = model, owner, repository
        super().__init__(
            f"the MLflow model {model!r} belongs to {owner} (registered-model tag {MODEL_REPO_TAG}); "
            f"{repository} may not read or move it. Give the model another name in .github/mlops-bot.yml "
            f"(e.g. {repository.rpartition('/')[2] + '-' + model!r}), or use an MLflow registry of its own"
        )


class MlflowRegistry:
    """`ModelRegistry` on MLflow, plus the tracking calls `mlops-bot train` needs."""

    def __init__(
        self,
        tracking_uri: str,
        *,
        registry_uri: str | None = None,
        artifact_root: str | None = None,
        repository: str | None = None,
    ) -> None:
        """`artifact_root` is where new experiments store artifacts. For a sqlite store it defaults to an
        `mlartifacts` folder beside the database file (MLflow's own default is `./mlruns` under whatever the
        current directory is); for a server, the server decides.

        `repository` (owner/name) scopes the registry to one repository, which every job uses: runs are
        found only among runs tagged with it, a model it registers is tagged as its own once (never
        overwritten), and a model another repository owns raises `ForeignModelError` on any read or write.
        """
        self.tracking_uri = tracking_uri
        self.registry_uri = registry_uri or tracking_uri
        self.artifact_root = artifact_root or _default_artifact_root(tracking_uri)
        self.repository = repository or None
        self._client: Any = None
        self._owned: set[str] = set()  # models already seen to be this repository's

    @property
    def client(self) -> Any:
        if self._client is None:
            from mlflow import MlflowClient

            self._client = MlflowClient(tracking_uri=self.tracking_uri, registry_uri=self.registry_uri)
        return self._client

    def warm_up(self) -> None:
        """Pay the fixed costs of logging a model now: importing mlflow and scikit-learn, opening the store
        (creating its tables the first time), and the modules `log_model` loads lazily (serialisation,
        git context). Seconds in all; `train` runs this in a thread while `dvc repro` runs in its child.
        """
        import tempfile

        import joblib  # noqa: F401
        import mlflow.sklearn
        import pandas as pd
        import sklearn
        from mlflow.models import infer_signature
        from sklearn.dummy import DummyClassifier

        self.client.search_experiments(max_results=1)
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

    # -- tracking --------------------------------------------------------------------------------

    def experiment_id(self, name: str) -> str:
        """The id of experiment `name`, created when missing."""
        found = self.client.get_experiment_by_name(name)
        if found is not None:
            if found.lifecycle_stage == "deleted":
                self.client.restore_experiment(found.experiment_id)
            return str(found.experiment_id)
        location = _join(self.artifact_root, name) if self.artifact_root else None
        return str(self.client.create_experiment(name, artifact_location=location))

    def log_training_run(
        self,
        *,
        experiment: str,
        model: str,
        run_name: str,
        params: Mapping[str, Any],
        metrics: Mapping[str, float],
        tags: Mapping[str, str],
        artifacts: Mapping[str, Sequence[Path]],
        model_file: Path,
        example_data: Path | None = None,
    ) -> RunRecord:
        """Log one finished training run: params, metrics, tags, files (artifact folder -> files), and the
        scikit-learn model in `model_file` (joblib/pickle) as the run's logged model.

        The model gets a signature from its `feature_names_in_` (and the types in `example_data`, a CSV or
        Parquet file with those columns, when given) so a serving layer knows its input columns.
        """
        from mlflow.entities import Metric, Param, RunTag

        client = self.client
        exp_id = self.experiment_id(experiment)
        run = client.create_run(exp_id, run_name=run_name, tags={**tags, RunTags.MODEL: model})
        run_id = run.info.run_id
        try:
            now = int(time.time() * 1000)
            param_items = [Param(k, _param_value(v)) for k, v in sorted(params.items())]
            for start in range(0, len(param_items), _MAX_PARAMS_PER_BATCH):
                client.log_batch(run_id, params=param_items[start : start + _MAX_PARAMS_PER_BATCH])
            client.log_batch(
                run_id, metrics=[Metric(k, float(v), now, 0) for k, v in sorted(metrics.items())]
            )
            for folder, files in artifacts.items():
                for file in files:
                    client.log_artifact(run_id, str(file), folder or None)
            model_uri = self._log_sklearn_model(run_id, model_file, example_data)
            client.log_batch(run_id, tags=[RunTag(RunTags.MODEL_URI, model_uri)])
        except BaseException:
            client.set_terminated(run_id, "FAILED")
            raise
        client.set_terminated(run_id, "FINISHED")
        record = self.run(run_id)
        assert record is not None
        return record

    def _log_sklearn_model(self, run_id: str, model_file: Path, example_data: Path | None) -> str:
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
            with _global_tracking_uri(self.tracking_uri), mlflow.start_run(run_id=run_id):
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
            self._delete_logged_models(run_id)  # no half-logged model for a registry to pick up
            raise ModelLogError(
                f"MLflow could not log the model {model_file.name} ({type(estimator).__name__}): {exc}"
            ) from exc
        return str(info.model_uri)

    def _delete_logged_models(self, run_id: str) -> None:
        with contextlib.suppress(Exception):  # best effort: the run is marked FAILED either way
            experiment = self.client.get_run(run_id).info.experiment_id
            for logged in self.client.search_logged_models(
                experiment_ids=[experiment], filter_string=f"source_run_id = '{run_id}'"
            ):
                self.client.delete_logged_model(logged.model_id)

    def tag_run(self, run_id: str, tags: Mapping[str, str]) -> None:
        from mlflow.entities import RunTag

        self.client.log_batch(run_id, tags=[RunTag(k, v) for k, v in tags.items()])

    def run_url(self, run: RunRecord) -> str:
        """A link to the run in the MLflow UI; "" when the store is not a server (sqlite, files)."""
        if run.url or not _is_http(self.tracking_uri):
            return run.url
        found = self.client.get_run(run.run_id)
        return _run_url(self.tracking_uri, found.info.experiment_id, run.run_id)

    # -- ModelRegistry ----------------------------------------------------------------------------

    def run(self, run_id: str) -> RunRecord | None:
        try:
            found = self.client.get_run(run_id)
        except Exception as exc:
            if _is_not_found(exc):
                return None
            raise
        return self._record(found)

    def find_runs(self, model: str, tags: Mapping[str, str]) -> list[RunRecord]:
        """Finished runs of `model` carrying all of `tags`, newest first, across all experiments."""
        wanted = {**tags, RunTags.MODEL: model}
        if self.repository and wanted.setdefault(RunTags.REPO, self.repository) != self.repository:
            return []  # another repository's run is never a candidate here
        clauses = ["attributes.status = 'FINISHED'"]
        for key, value in wanted.items():
            clause = _tag_clause(key, value)
            if clause:
                clauses.append(clause)
        filter_string = " AND ".join(clauses)
        experiment_ids = self._experiment_ids()
        if not experiment_ids:
            return []
        found: list[RunRecord] = []
        token: str | None = None
        while True:
            page = self.client.search_runs(
                experiment_ids,
                filter_string=filter_string,
                order_by=["attributes.start_time DESC"],
                max_results=1000,
                page_token=token,
            )
            found.extend(self._record(r) for r in page if _has_tags(r.data.tags, wanted))
            token = page.token
            if not token:
                return found

    def version_by_alias(self, model: str, alias: str) -> ModelVersion | None:
        self._check_owner(model)
        try:
            found = self.client.get_model_version_by_alias(model, alias)
        except Exception as exc:
            if _is_not_found(exc):
                return None
            raise
        return self._version(found)

    def version(self, model: str, version: str) -> ModelVersion | None:
        self._check_owner(model)
        try:
            found = self.client.get_model_version(model, str(version))
        except Exception as exc:
            if _is_not_found(exc):
                return None
            raise
        return self._version(found)

    def versions(self, model: str) -> list[ModelVersion]:
        """All versions of `model`, newest first; [] when the model is not registered."""
        self._check_owner(model)
        found = self._search_versions(f"name = {_quote(model)}")
        return [self._version(v) for v in sorted(found, key=lambda v: int(v.version), reverse=True)]

    def register(self, model: str, run: RunRecord, tags: Mapping[str, str]) -> ModelVersion:
        """A version of `model` made from `run`: the existing one (tag `run_id`, else made from the run by
        hand), or a new one from the run's logged model. `tags` are set on it either way."""
        wanted_tags = {**tags, VERSION_RUN_ID_TAG: run.run_id}
        self._claim(model)
        existing = self._versions_of_run(model, run.run_id)
        if existing is not None:
            for key, value in wanted_tags.items():
                if existing.tags.get(key) != value:
                    self.client.set_model_version_tag(model, existing.version, key, value)
            return self._version(self.client.get_model_version(model, existing.version))
        source = run.model_uri or f"runs:/{run.run_id}/{MODEL_ARTIFACT}"
        model_id = source.removeprefix("models:/") if source.startswith("models:/m-") else None
        # A sqlite registry resolves a models:/m-... source through the global tracking URI (an MLflow TODO)
        with _global_tracking_uri(self.tracking_uri):
            created = self.client.create_model_version(
                name=model,
                source=source,
                run_id=run.run_id,
                tags=wanted_tags,
                run_link=run.url or None,
                model_id=model_id,
            )
        return self._version(created)

    def set_alias(self, model: str, alias: str, version: str) -> None:
        self._claim(model)
        self.client.set_registered_model_alias(model, alias, str(version))

    def delete_alias(self, model: str, alias: str) -> None:
        """Remove `alias`; nothing happens when it is not set."""
        self._claim(model)
        try:
            self.client.delete_registered_model_alias(model, alias)
        except Exception as exc:
            if not _is_not_found(exc):
                raise

    def set_version_tag(self, model: str, version: str, key: str, value: str) -> None:
        self._claim(model)
        self.client.set_model_version_tag(model, str(version), key, value)

    def set_model_tag(self, model: str, key: str, value: str) -> None:
        """Set a registered-model tag; the owner tag is written once, by `register`, and never changed."""
        if key == MODEL_REPO_TAG:
            owner = self.owner(model)
            if owner and owner != value:
                raise ForeignModelError(model, owner, value)
        self._claim(model)
        self.client.set_registered_model_tag(model, key, value)

    # -- ownership ----------------------------------------------------------------------------------

    def owner(self, model: str) -> str | None:
        """The repository `model` belongs to; None when it is not registered or no repository claimed it."""
        try:
            found = self.client.get_registered_model(model)
        except Exception as exc:
            if _is_not_found(exc):
                return None
            raise
        return (found.tags or {}).get(MODEL_REPO_TAG) or None

    def _check_owner(self, model: str) -> str | None:
        """Raise `ForeignModelError` when another repository owns `model`; its owner otherwise."""
        if not self.repository or model in self._owned:
            return self.repository
        owner = self.owner(model)
        if owner is not None and owner != self.repository:
            raise ForeignModelError(model, owner, self.repository)
        if owner is not None:
            self._owned.add(model)
        return owner

    def _claim(self, model: str) -> None:
        """Register `model` as this repository's before the first write: created with the owner tag, or,
        when it exists unclaimed (registered by hand, or before owners were recorded), tagged now. The tag is
        read back, so of two repositories claiming at once only the one whose tag stayed goes on."""
        from mlflow.exceptions import MlflowException

        if model in self._owned:
            return
        tags = {MODEL_REPO_TAG: self.repository} if self.repository else {}
        try:
            self.client.create_registered_model(model, tags=tags)
        except MlflowException as exc:
            if exc.error_code not in _EXISTS_CODES:
                raise
        if not self.repository:
            return
        if self._check_owner(model) is None:
            self.client.set_registered_model_tag(model, MODEL_REPO_TAG, self.repository)
            self._owned.discard(model)
            self._check_owner(model)

    # -- conversions and lookups --------------------------------------------------------------------

    def _record(self, run: Any) -> RunRecord:
        tags = dict(run.data.tags)
        url = (
            _run_url(self.tracking_uri, run.info.experiment_id, run.info.run_id)
            if _is_http(self.tracking_uri)
            else ""
        )
        return RunRecord(
            run_id=run.info.run_id,
            model=tags.get(RunTags.MODEL, ""),
            metrics={k: float(v) for k, v in run.data.metrics.items()},
            params=dict(run.data.params),
            # mlflow.* system tags (user, source, the log-model history JSON) are noise for the card
            tags={k: v for k, v in tags.items() if not k.startswith("mlflow.")},
            url=url,
            model_uri=tags.get(RunTags.MODEL_URI) or f"runs:/{run.info.run_id}/{MODEL_ARTIFACT}",
            status=str(run.info.status),
        )

    def _version(self, found: Any) -> ModelVersion:
        metrics: dict[str, float] = {}
        if found.run_id:
            run = self.run(found.run_id)
            metrics = dict(run.metrics) if run else {}
        return ModelVersion(
            name=found.name,
            version=str(found.version),
            run_id=found.run_id or "",
            aliases=tuple(getattr(found, "aliases", None) or ()),
            tags=dict(found.tags or {}),
            source=found.source or "",
            metrics=metrics,
        )

    def _versions_of_run(self, model: str, run_id: str) -> Any:
        found = self._search_versions(f"name = {_quote(model)} AND run_id = {_quote(run_id)}")
        found = [v for v in found if v.run_id == run_id]
        if not found:
            return None
        tagged = [v for v in found if (v.tags or {}).get(VERSION_RUN_ID_TAG) == run_id]
        return min(tagged or found, key=lambda v: int(v.version))

    def _search_versions(self, filter_string: str) -> list[Any]:
        found: list[Any] = []
        token: str | None = None
        while True:
            page = self.client.search_model_versions(filter_string, page_token=token)
            found.extend(page)
            token = page.token
            if not token:
                return found

    def _experiment_ids(self) -> list[str]:
        ids: list[str] = []
        token: str | None = None
        while True:
            page = self.client.search_experiments(max_results=1000, page_token=token)
            ids.extend(str(e.experiment_id) for e in page)
            token = page.token
            if not token:
                return ids


@contextlib.contextmanager
def _global_tracking_uri(uri: str) -> Iterator[None]:
    """Point MLflow's global tracking URI at `uri` for a fluent-only call, then put the old one back."""
    import mlflow
    from mlflow.tracking._tracking_service import utils as tracking_utils

    previous = getattr(tracking_utils, "_tracking_uri", None)
    mlflow.set_tracking_uri(uri)
    try:
        yield
    finally:
        mlflow.set_tracking_uri(previous)  # type: ignore[arg-type]  # None unsets it, as before


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


class ModelLogError(Exception):
    """The trained model could not be logged; the run is FAILED and no logged model is left."""


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


def _param_value(value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(value)
    return text[:_PARAM_VALUE_LIMIT]


def _quote(value: str) -> str:
    """A string literal for an MLflow search filter. The filter grammar has no escapes, so pick a quote
    character the value does not contain."""
    if "'" not in value:
        return f"'{value}'"
    if '"' not in value:
        return f'"{value}"'
    raise ValueError(f"cannot search MLflow for a value holding both quote characters: {value!r}")


def _tag_clause(key: str, value: str) -> str:
    """`tags.`key` = 'value'`, or "" when the pair cannot be written in the filter grammar (then the
    caller filters those runs in Python)."""
    if "`" in key or ("'" in value and '"' in value):
        return ""
    return f"tags.`{key}` = {_quote(value)}"


def _has_tags(tags: Mapping[str, str], wanted: Mapping[str, str]) -> bool:
    return all(tags.get(k) == v for k, v in wanted.items())


def _is_not_found(exc: BaseException) -> bool:
    code = getattr(exc, "error_code", "")
    return code in _NOT_FOUND_CODES


def _is_http(uri: str) -> bool:
    return uri.startswith(("http://", "https://"))


def _run_url(tracking_uri: str, experiment_id: str, run_id: str) -> str:
    return f"{tracking_uri.rstrip('/')}/#/experiments/{experiment_id}/runs/{run_id}"


def _default_artifact_root(tracking_uri: str) -> str | None:
    """`<folder of the sqlite file>/mlartifacts` as a file URI; None for anything but a sqlite file."""
    if not tracking_uri.startswith("sqlite:///"):
        return None
    # sqlite:///relative/path.db and sqlite:////absolute/path.db (SQLAlchemy's URL form)
    raw = unquote(tracking_uri.removeprefix("sqlite:///").split("?", 1)[0])
    if not raw or raw == ":memory:":
        return None
    return (Path(raw).resolve().parent / "mlartifacts").as_uri()


def _join(root: str, name: str) -> str:
    safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in name)
    return f"{root.rstrip('/')}/{safe}"
