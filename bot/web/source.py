"""Where the dashboard's facts come from: registered models and versions from MLflow (cached: a page never
waits on the registry more than once a minute per model), monitoring history and reports from the bot's
store. GitHub is asked only who may see what (bot.web.auth)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, Protocol

from bot.core.monitoring.history import CheckRecord
from bot.core.tags import MODEL_REPO_TAG, VersionTags
from bot.web.views import ModelDetail, ModelSummary, VersionRow

if TYPE_CHECKING:
    from bot.adapters.store import Store

CATALOG_SECONDS = 60.0


class Catalog(Protocol):
    """The registry as the dashboard reads it."""

    def models(self) -> dict[str, list[str]]:
        """repository -> its registered models."""
        ...

    def versions(self, model: str) -> list[VersionRow]:
        """Newest first."""
        ...

    def model_url(self, model: str) -> str: ...


class MlflowCatalog:
    """MLflow's registry, through its client (imported on first use: the web process starts without it)."""

    def __init__(self, tracking_uri: str) -> None:
        self.tracking_uri = tracking_uri
        self._client: Any = None

    @property
    def client(self) -> Any:
        if self._client is None:
            from mlflow import MlflowClient

            self._client = MlflowClient(tracking_uri=self.tracking_uri, registry_uri=self.tracking_uri)
        return self._client

    def models(self) -> dict[str, list[str]]:
        owned: dict[str, list[str]] = {}
        token = None
        while True:
            page = self.client.search_registered_models(max_results=1000, page_token=token)
            for found in page:
                repository = (found.tags or {}).get(MODEL_REPO_TAG)
                if repository:
                    owned.setdefault(str(repository), []).append(str(found.name))
            token = page.token
            if not token:
                return {repo: sorted(names) for repo, names in owned.items()}

    def versions(self, model: str) -> list[VersionRow]:
        quoted = model.replace("'", "\\'")
        found = list(self.client.search_model_versions(f"name = '{quoted}'", max_results=10_000))
        metrics = self._run_metrics([str(v.run_id) for v in found if v.run_id])
        # A version search leaves aliases out; the registered model lists them (alias -> version).
        aliases: dict[str, list[str]] = {}
        for alias, version in (self.client.get_registered_model(model).aliases or {}).items():
            aliases.setdefault(str(version), []).append(str(alias))
        rows = [
            VersionRow(
                version=str(v.version),
                run_id=str(v.run_id or ""),
                aliases=tuple(sorted(aliases.get(str(v.version), []))),
                pr=v.tags.get(VersionTags.PR, ""),
                git_sha=v.tags.get(VersionTags.GIT_SHA, ""),
                promoted_at=v.tags.get(VersionTags.PROMOTED_AT, ""),
                deployment_id=v.tags.get(VersionTags.DEPLOYMENT, ""),
                bento=v.tags.get(VersionTags.BENTO, ""),
                created_at=(v.creation_timestamp or 0) / 1000,
                metrics=metrics.get(str(v.run_id), {}),
            )
            for v in found
        ]
        return sorted(rows, key=lambda r: int(r.version) if r.version.isdigit() else 0, reverse=True)

    def _run_metrics(self, run_ids: list[str]) -> dict[str, dict[str, float]]:
        """Each run's metrics, a hundred runs per search (not a request per version)."""
        out: dict[str, dict[str, float]] = {}
        if not run_ids:
            return out
        experiments = [str(e.experiment_id) for e in self.client.search_experiments(max_results=1000)]
        for start in range(0, len(run_ids), 100):
            listed = ", ".join(f"'{r}'" for r in run_ids[start : start + 100] if r.isalnum())
            for run in self.client.search_runs(
                experiments, filter_string=f"attributes.run_id IN ({listed})", max_results=100
            ):
                out[str(run.info.run_id)] = {k: float(v) for k, v in run.data.metrics.items()}
        return out

    def model_url(self, model: str) -> str:
        if not self.tracking_uri.startswith(("http://", "https://")):
            return ""
        return f"{self.tracking_uri.rstrip('/')}/#/models/{model}"


class DashboardSource:
    """The facts of every page, cached per model for CATALOG_SECONDS; the store's history is read fresh."""

    def __init__(
        self, store: Store, catalog: Catalog, *, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.store = store
        self.catalog = catalog
        self._clock = clock
        self._lock = threading.Lock()
        self._models: tuple[float, dict[str, list[str]]] | None = None
        self._versions: dict[str, tuple[float, list[VersionRow]]] = {}

    def _fresh(self, at: float) -> bool:
        return self._clock() - at < CATALOG_SECONDS

    def repositories(
        self, latest: Mapping[tuple[str, str], CheckRecord] | None = None
    ) -> dict[str, list[str]]:
        """repository -> models, from the registry and the monitoring history (`latest`: the store's newest
        check of each model, when the caller already read it)."""
        with self._lock:
            cached = self._models
        if cached is None or not self._fresh(cached[0]):
            cached = (self._clock(), self.catalog.models())
            with self._lock:
                self._models = cached
        merged = {repo: list(models) for repo, models in cached[1].items()}
        for repo, model in self.store.latest_checks():
            if model not in merged.setdefault(repo, []):
                merged[repo].append(model)
        return {repo: sorted(models) for repo, models in sorted(merged.items())}

    def versions(self, model: str) -> list[VersionRow]:
        with self._lock:
            cached = self._versions.get(model)
        if cached is None or not self._fresh(cached[0]):
            cached = (self._clock(), self.catalog.versions(model))
            with self._lock:
                self._versions[model] = cached
        return cached[1]

    def summaries(
        self, repository: str, models: list[str], latest: Mapping[tuple[str, str], CheckRecord]
    ) -> list[ModelSummary]:
        out = []
        for model in models:
            versions = self.versions(model)
            champion = next((v for v in versions if v.champion), None)
            out.append(
                ModelSummary(repository, model, champion, len(versions), latest.get((repository, model)))
            )
        return out

    def detail(self, repository: str, model: str) -> ModelDetail:
        return ModelDetail(
            repository,
            model,
            tuple(self.versions(model)),
            tuple(self.store.checks(repository, model, limit=1000)),
            self.catalog.model_url(model),
        )
