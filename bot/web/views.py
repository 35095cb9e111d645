"""What the dashboard shows, as values: a model's versions, its checks, and the summaries of the lists."""

from __future__ import annotations

from dataclasses import dataclass, field

from bot.core.monitoring.history import CheckRecord


@dataclass(frozen=True)
class VersionRow:
    """One registered version, with what the promotion left on it (registry tags)."""

    version: str
    run_id: str
    aliases: tuple[str, ...] = ()
    pr: str = ""
    git_sha: str = ""
    promoted_at: str = ""
    deployment_id: str = ""
    bento: str = ""
    created_at: float = 0.0
    metrics: dict[str, float] = field(default_factory=dict)

    @property
    def champion(self) -> bool:
        return "champion" in self.aliases


@dataclass(frozen=True)
class ModelSummary:
    repository: str
    model: str
    champion: VersionRow | None
    versions: int
    last_check: CheckRecord | None


@dataclass(frozen=True)
class ModelDetail:
    repository: str
    model: str
    versions: tuple[VersionRow, ...]  # newest first
    checks: tuple[CheckRecord, ...]  # oldest first
    mlflow_url: str = ""  # the registered model in the MLflow UI; "" when MLflow is not a web server

    @property
    def champion(self) -> VersionRow | None:
        return next((v for v in self.versions if v.champion), None)

    @property
    def latest_check(self) -> CheckRecord | None:
        return self.checks[-1] if self.checks else None
