"""The MLflow model registry behind `bot.ports.ModelRegistry`: versions, aliases and tags, and the owner
each registered model carries, so one repository can neither read nor move another's model."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from bot.adapters.mlflow.models import MODEL_ARTIFACT, global_tracking_uri
from bot.adapters.mlflow.runs import MlflowRuns
from bot.adapters.mlflow.search import EXISTS_CODES, is_not_found, quote
from bot.core.models import ModelVersion, RunRecord
from bot.core.tags import MODEL_REPO_TAG, VersionTags

VERSION_RUN_ID_TAG = VersionTags.RUN_ID


class ForeignModelError(Exception):
    """A registered model another repository owns: this repository may neither read nor move it."""

    def __init__(self, model: str, owner: str, repository: str) -> None:
        self.model, self.owner, self.repository = model, owner, repository
        super().__init__(
            f"the MLflow model {model!r} belongs to {owner} (registered-model tag {MODEL_REPO_TAG}); "
            f"{repository} may not read or move it. Give the model another name in .github/mlops-bot.yml "
            f"(e.g. {repository.rpartition('/')[2] + '-' + model!r}), or use an MLflow registry of its own"
        )


class MlflowRegistry(MlflowRuns):
    """`ModelRegistry` on MLflow, plus the tracking calls `mlops-bot train` needs (`MlflowRuns`)."""

    # -- versions and aliases -------------------------------------------------------------------------

    def version_by_alias(self, model: str, alias: str) -> ModelVersion | None:
        self._check_owner(model)
        try:
            found = self.client.get_model_version_by_alias(model, alias)
        except Exception as exc:
            if is_not_found(exc):
                return None
            raise
        return self._version(found)

    def version(self, model: str, version: str) -> ModelVersion | None:
        self._check_owner(model)
        try:
            found = self.client.get_model_version(model, str(version))
        except Exception as exc:
            if is_not_found(exc):
                return None
            raise
        return self._version(found)

    def versions(self, model: str) -> list[ModelVersion]:
        """All versions of `model`, newest first; [] when the model is not registered."""
        self._check_owner(model)
        found = self._search_versions(f"name = {quote(model)}")
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
        with global_tracking_uri(self.tracking_uri):
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
            if not is_not_found(exc):
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
            if is_not_found(exc):
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
            if exc.error_code not in EXISTS_CODES:
                raise
        if not self.repository:
            return
        if self._check_owner(model) is None:
            self.client.set_registered_model_tag(model, MODEL_REPO_TAG, self.repository)
            self._owned.discard(model)
            self._check_owner(model)

    # -- conversions and lookups --------------------------------------------------------------------

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
            created_at=(found.creation_timestamp or 0) / 1000,
        )

    def _versions_of_run(self, model: str, run_id: str) -> Any:
        found = self._search_versions(f"name = {quote(model)} AND run_id = {quote(run_id)}")
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
