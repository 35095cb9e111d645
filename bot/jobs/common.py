"""What the job commands (`card`, `promote`, `rollback`, `reconcile`, `drift-report`) share: who they talk to.

They run on an Actions runner or in the local executor with the same environment: GITHUB_REPOSITORY,
GITHUB_TOKEN, GITHUB_API_URL, MLFLOW_TRACKING_URI. Rules always come from the default branch through the
API, never from the checkout being judged: no job accepts a config path. The one exception is
`mlops-bot train --offline-config FILE`, a run outside GitHub, refused whenever GitHub variables are set.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bot.core.config import CONFIG_PATH, RepoConfig, load_config
from bot.ports import DriftChecks, RepoGitHub, TrainingProject
from bot.settings import Settings

if TYPE_CHECKING:
    from bot.adapters.mlflow import MlflowRegistry


class JobSetupError(Exception):
    """The job cannot start: a missing variable or file. The message says which and how to provide it."""


# Variables that mean "this runs against GitHub": then the rules come from the default branch, always.
GITHUB_VARIABLES = ("GITHUB_REPOSITORY", "GITHUB_TOKEN", "MLOPS_BOT_GITHUB_TOKEN")


@dataclass
class JobEnv:
    settings: Settings
    repo: str
    _gh: RepoGitHub | None = field(default=None, repr=False)

    @classmethod
    def from_environment(cls, *, repo: str | None = None) -> JobEnv:
        settings = Settings()
        full_name = repo or os.environ.get("GITHUB_REPOSITORY", "")
        if not full_name:
            raise JobSetupError(
                "no repository: set GITHUB_REPOSITORY=owner/name (Actions sets it) or pass --repo"
            )
        return cls(settings=settings, repo=full_name)

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

        # Scoped to this repository: another repository's runs are never candidates and its models are
        # refused (ForeignModelError), whatever names this repository's config uses.
        return MlflowRegistry(self.settings.mlflow_tracking_uri, repository=self.repo)

    @cached_property
    def config(self) -> RepoConfig:
        """The default branch's config, read through the API (`read_file` reads the default branch)."""
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


def job_config(
    environ: Mapping[str, str], *, repo: str | None = None, offline_config: Path | None = None
) -> RepoConfig:
    """The rules a job follows: the default branch's config through the API; `offline_config` only for a run
    with no GitHub at all (no GITHUB_REPOSITORY, no token), so a checkout's file can never stand in for it."""
    if offline_config is None:
        return JobEnv.from_environment(repo=repo).config
    present = [name for name in GITHUB_VARIABLES if environ.get(name)]
    if present:
        raise JobSetupError(
            f"--offline-config is for runs outside GitHub, but {', '.join(present)} is set: the rules are "
            f"read from {CONFIG_PATH} on the default branch; drop --offline-config"
        )
    if not offline_config.is_file():
        raise JobSetupError(f"{offline_config}: no such config file; `mlops-bot init` writes one")
    return load_config(offline_config.read_text(), str(offline_config))


# -- the real DVC and Evidently, wired here beside GitHub and the registry; a test passes a fake instead ------


def open_dvc_project(root: Path) -> TrainingProject:
    """The DVC repository checked out at `root` (DvcError when it is not one)."""
    from bot.adapters.dvc import DvcProject

    return DvcProject(root)


def evidently_checks() -> DriftChecks[Any]:
    """The drift check's data and measures, with pandas and Evidently."""
    from bot.adapters.evidently.checks import EvidentlyChecks

    return EvidentlyChecks()


def ci_url() -> str:
    """A link to the Actions run this job is part of, when it is one."""
    server, repo, run = (
        os.environ.get(k, "") for k in ("GITHUB_SERVER_URL", "GITHUB_REPOSITORY", "GITHUB_RUN_ID")
    )
    return f"{server}/{repo}/actions/runs/{run}" if server and repo and run else ""
