"""Check runs and deployments: what CI and CD write, read back by tests."""

from __future__ import annotations

from typing import Any

from bot.standin.domain.state import State
from bot.standin.model import CheckRun, Deployment, DeploymentStatus, Repo


class Checks(State):
    """Check runs (written over REST by the app) and deployments, read back by tests."""

    def check_runs(self, full_name: str, sha: str | None = None) -> list[CheckRun]:
        with self.lock:
            runs = self._repo(full_name).check_runs.values()
            return [r for r in runs if sha is None or r.head_sha == sha]

    def deployments(self, full_name: str) -> list[Deployment]:
        with self.lock:
            return list(self._repo(full_name).deployments.values())

    def deployment_statuses(self, full_name: str, deployment_id: int) -> list[DeploymentStatus]:
        with self.lock:
            return list(self._repo(full_name).deployments[deployment_id].statuses)

    def new_check_run(self, repo: Repo, **fields: Any) -> CheckRun:
        run = CheckRun(id=self.ids(), **fields)
        repo.check_runs[run.id] = run
        return run

    def new_deployment(self, repo: Repo, **fields: Any) -> Deployment:
        deployment = Deployment(id=self.ids(), **fields)
        repo.deployments[deployment.id] = deployment
        return deployment
