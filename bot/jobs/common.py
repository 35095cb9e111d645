"""What the job commands (`card`, `promote`, `rollback`, `reconcile`, `drift-report`) share: who they talk to.

They run on an Actions runner or in the local executor with the same environment: GITHUB_REPOSITORY,
GITHUB_TOKEN, GITHUB_API_URL, MLFLOW_TRACKING_URI. Rules always come from the default branch through the
API, never from the checkout being judged.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING

from bot.core.config import CONFIG_PATH, RepoConfig, load_config
from bot.ports import RepoGitHub
from bot.settings import Settings

if TYPE_CHECKING:
    from bot.adapters.mlflow import MlflowRegistry


class JobSetupError(Exception):
    """The job cannot start: a missing variable or file. The message says which and how to provide it."""


@dataclass
class JobEnv:
    settings: Settings
    repo: str
    config_path: Path | None = None
    _gh: RepoGitHub | None = field(default=None, repr=False)

    @classmethod
    def from_environment(cls, *, repo: str | None = None, config_path: Path | None = None) -> JobEnv:
        settings = Settings()
        full_name = repo or os.environ.get("GITHUB_REPOSITORY", "")
        if not full_name:
            raise JobSetupError(
                "no repository: set GITHUB_REPOSITORY=owner/name (Actions sets it) or pass --repo"
            )
        return cls(settings=settings, repo=full_name, config_path=config_path)

    @property
    def gh(self) -> RepoGitHub:
        if self._gh is None:
            from bot.adapters.github import GitHubFactory

            if not (self.settings.github_token or self.settings.app_id):
                raise JobSetupError(
                    "no GitHub credentials: set GITHUB_TOKEN (Actions provides it) or the App settings"
                )
            self._gh = GitHubFactory(self.settings).for_repo(self.repo)
        return self._gh

    @cached_property
    def registry(self) -> MlflowRegistry:
        from bot.adapters.mlflow import MlflowRegistry

        return MlflowRegistry(self.settings.mlflow_tracking_uri)

    @cached_property
    def config(self) -> RepoConfig:
        """The default branch's config; a local file only when asked for explicitly (offline runs)."""
        if self.config_path is not None:
            if not self.config_path.is_file():
                raise JobSetupError(f"{self.config_path}: no such config file; `mlops-bot init` writes one")
            return load_config(self.config_path.read_text(), str(self.config_path))
        text = self.gh.read_file(CONFIG_PATH)
        if text is None:
            raise JobSetupError(
                f"{self.repo} has no {CONFIG_PATH} on its default branch; `mlops-bot init` writes one"
            )
        return load_config(text, CONFIG_PATH)

    def models(self, name: str | None) -> list[str]:
        if name is None:
            return [m.name for m in self.config.models]
        if self.config.model(name) is None:
            known = ", ".join(m.name for m in self.config.models) or "none"
            raise JobSetupError(f"unknown model {name!r}; configured models: {known}")
        return [name]


def ci_url() -> str:
    """A link to the Actions run this job is part of, when it is one."""
    server, repo, run = (
        os.environ.get(k, "") for k in ("GITHUB_SERVER_URL", "GITHUB_REPOSITORY", "GITHUB_RUN_ID")
    )
    return f"{server}/{repo}/actions/runs/{run}" if server and repo and run else ""
