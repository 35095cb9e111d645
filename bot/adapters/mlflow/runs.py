"""MLflow tracking: experiments, the training run `mlops-bot train` logs, finding runs by their tags.

The URIs live on an `MlflowClient` owned by the instance (`mlflow.sklearn.log_model`, which has no client
form, is `models`'s concern).
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import unquote

from bot.adapters.mlflow.models import MODEL_ARTIFACT, log_sklearn_model, warm_up_logging
from bot.adapters.mlflow.search import has_tags, is_not_found, tag_clause
from bot.core.models import RunRecord
from bot.core.tags import RunTags

_MAX_PARAMS_PER_BATCH = 100  # MLflow's log_batch limit
_PARAM_VALUE_LIMIT = 6000  # MLflow rejects longer param values


class MlflowRuns:
    """The tracking half of `MlflowRegistry`: experiments and runs."""

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
        warm_up_logging(self.client)

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
            model_uri = log_sklearn_model(client, self.tracking_uri, run_id, model_file, example_data)
            client.log_batch(run_id, tags=[RunTag(RunTags.MODEL_URI, model_uri)])
        except BaseException:
            client.set_terminated(run_id, "FAILED")
            raise
        client.set_terminated(run_id, "FINISHED")
        record = self.run(run_id)
        assert record is not None
        return record

    def tag_run(self, run_id: str, tags: Mapping[str, str]) -> None:
        from mlflow.entities import RunTag

        self.client.log_batch(run_id, tags=[RunTag(k, v) for k, v in tags.items()])

    def log_metrics(self, run_id: str, metrics: Mapping[str, float]) -> None:
        """Add metrics to a finished run (e.g. `champion.<metric>` of a same-data comparison)."""
        from mlflow.entities import Metric

        now = int(time.time() * 1000)
        items = [Metric(k, float(v), now, 0) for k, v in sorted(metrics.items())]
        if items:
            self.client.log_batch(run_id, metrics=items)

    def log_json(self, run_id: str, artifact_file: str, data: Mapping[str, Any]) -> None:
        """Store `data` as a JSON artifact of the run (`artifact_file` relative to its artifact root)."""
        self.client.log_dict(run_id, dict(data), artifact_file)

    def read_json(self, run_id: str, artifact_file: str) -> dict[str, Any] | None:
        """A JSON artifact of the run `log_json` stored; None when the run has none by that name."""
        import tempfile

        with tempfile.TemporaryDirectory(prefix="mlops-bot-artifact-") as scratch:
            try:
                path = self.client.download_artifacts(run_id, artifact_file, scratch)
            except Exception as exc:
                if is_not_found(exc) or isinstance(exc, OSError):
                    return None
                raise
            try:
                data = json.loads(Path(path).read_text(encoding="utf-8"))
            except (OSError, ValueError):
                return None
        return data if isinstance(data, dict) else None

    def run_url(self, run: RunRecord) -> str:
        """A link to the run in the MLflow UI; "" when the store is not a server (sqlite, files)."""
        if run.url or not _is_http(self.tracking_uri):
            return run.url
        found = self.client.get_run(run.run_id)
        return _run_url(self.tracking_uri, found.info.experiment_id, run.run_id)

    # -- reading runs ---------------------------------------------------------------------------------

    def run(self, run_id: str) -> RunRecord | None:
        try:
            found = self.client.get_run(run_id)
        except Exception as exc:
            if is_not_found(exc):
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
            clause = tag_clause(key, value)
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
            found.extend(self._record(r) for r in page if has_tags(r.data.tags, wanted))
            token = page.token
            if not token:
                return found

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

    def _experiment_ids(self) -> list[str]:
        ids: list[str] = []
        token: str | None = None
        while True:
            page = self.client.search_experiments(max_results=1000, page_token=token)
            ids.extend(str(e.experiment_id) for e in page)
            token = page.token
            if not token:
                return ids


def _param_value(value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(value)
    return text[:_PARAM_VALUE_LIMIT]


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
