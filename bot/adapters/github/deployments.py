"""Deployments: one per key, found in the environment's deployments before one is created; and the protection
rules of an environment, which the local executor honours before it deploys there."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from bot.adapters.github.base import RepoBase
from bot.adapters.github.errors import MAX_DEPLOYMENT_DESCRIPTION
from bot.core.environments import Protection


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

    def environment_protection(self, name: str) -> Protection:
        from github import UnknownObjectException

        def read() -> Protection:
            try:  # the lazy repository's environment is read at its first attribute
                rules = list(self.repo.get_environment(name).protection_rules or [])
            except UnknownObjectException:  # GitHub makes an environment on its first Deployment: none yet
                return Protection(exists=False)
            users: list[str] = []
            teams: list[str] = []
            wait = 0
            for rule in rules:
                if rule.type == "wait_timer":
                    wait = max(wait, int(rule.wait_timer or 0))
                elif rule.type == "required_reviewers":
                    for entry in rule.reviewers or []:
                        who: Any = entry.reviewer  # a NamedUser or a Team, as `type` says
                        if entry.type == "Team":
                            teams.append(str(who.slug))
                        else:
                            users.append(str(who.login))
            return Protection(reviewers=tuple(users), teams=tuple(teams), wait_minutes=wait)

        return self._call(f"reading environment {name}", read)
