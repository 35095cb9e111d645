"""Deployments: one per key, found in the environment's deployments before one is created."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from bot.adapters.github.base import RepoBase
from bot.adapters.github.errors import MAX_DEPLOYMENT_DESCRIPTION


class Deployments(RepoBase):
    def create_deployment(
        self, ref: str, environment: str, payload: Mapping[str, Any], description: str, *, key: str = ""
    ) -> int:
        def create() -> int:
            if key:
                for existing in self.repo.get_deployments(environment=environment):
                    if isinstance(existing.payload, dict) and existing.payload.get("key") == key:
                        return int(existing.id)
            deployment = self.repo.create_deployment(
                ref=ref,
                environment=environment,
                payload={**payload, **({"key": key} if key else {})},
                description=description[:MAX_DEPLOYMENT_DESCRIPTION],
                required_contexts=[],  # the bot's own gates decided; GitHub's status checks must not veto
                auto_merge=False,
                production_environment=environment == "production",
            )
            return int(deployment.id)

        return self._call(f"creating a deployment to {environment}", create)

    def set_deployment_status(
        self, deployment_id: int, state: str, *, description: str = "", log_url: str = ""
    ) -> None:
        def create() -> None:
            deployment = self.repo.get_deployment(deployment_id)
            options: dict[str, Any] = {"description": description[:MAX_DEPLOYMENT_DESCRIPTION]}
            if log_url:
                options["target_url"] = log_url  # PyGithub's name for it; GitHub stores it as log_url too
            deployment.create_status(state, **options)

        self._call(f"setting deployment {deployment_id} to {state}", create)
