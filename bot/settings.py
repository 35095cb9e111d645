"""Process settings: environment variables prefixed MLOPS_BOT_, passed in as a typed object.

Nothing reads the environment at import time; `Settings()` is built by the CLI (or a test) and
handed to whatever needs it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

MAX_WEBHOOK_BYTES = 25 * 1024 * 1024  # GitHub caps webhook payloads at 25 MB


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="MLOPS_BOT_", extra="ignore", populate_by_name=True)

    webhook_secret: SecretStr = Field(
        SecretStr(""), description="Comma-separated webhook secrets; several allow rotation."
    )
    database_url: str = "sqlite:///mlops-bot.db"
    github_base_url: str = Field(
        "https://api.github.com",
        validation_alias=AliasChoices("MLOPS_BOT_GITHUB_BASE_URL", "GITHUB_API_URL"),
    )
    github_token: SecretStr | None = Field(
        None, validation_alias=AliasChoices("MLOPS_BOT_GITHUB_TOKEN", "GITHUB_TOKEN")
    )
    app_id: int | None = None
    private_key: SecretStr | None = None
    private_key_path: Path | None = None
    bot_login: str = "mlops-bot[bot]"
    github_throttle: bool = Field(
        True, description="PyGithub's pause between writes (GitHub's secondary limits); off for the stand-in"
    )
    mlflow_tracking_uri: str = Field(
        "sqlite:///mlflow.db",
        validation_alias=AliasChoices("MLOPS_BOT_MLFLOW_TRACKING_URI", "MLFLOW_TRACKING_URI"),
    )
    mlflow_webhook_secret: SecretStr = SecretStr("")
    executor: Literal["local", "actions"] = "local"
    stage_isolation: Literal["auto", "user", "none"] = Field(
        "auto",
        description="How the local executor runs a repository's stage commands: `user` (a uid per job; needs "
        "root), `none` (same user, allow-listed environment only), `auto` (user when root)",
    )
    job_timeout_seconds: float = Field(
        3600.0, gt=0, description="Ceiling on one job's run time in the local executor"
    )
    warm_jobs: bool = Field(
        True,
        description="Local executor: fork each job step from a runner that has imported MLflow, scikit-learn "
        "and DVC once (saves the 3-5 s of imports a fresh interpreter pays); false runs every step cold",
    )
    warm_idle_seconds: float = Field(
        600.0, gt=0, description="The warm runner stops after this long without a step (started again on use)"
    )
    keep_job_dirs: bool = Field(
        False, description="Keep each local job's folder (step logs, result JSON) in the work dir, for a look"
    )
    work_dir: Path = Path(".mlops-bot")
    inprocess_worker: bool = True
    worker_yield_seconds: float = Field(
        1.0,
        description="the in-process worker lets a burst of deliveries (8 within 50 ms) be answered before it "
        "competes for the process's CPU, delaying the burst's jobs at most this long; 0: never",
        ge=0,
    )
    max_body_bytes: int = MAX_WEBHOOK_BYTES
    max_large_bodies: int = Field(
        4, description="webhook bodies over 1 MB read at once; more get 503 with Retry-After"
    )
    body_idle_timeout_seconds: float = Field(
        10.0, description="a client that sends no part of its body for this long is dropped (408)"
    )
    retention_days: float = Field(
        30.0,
        description="payloads of finished deliveries and job directories older than this are deleted; "
        "0 keeps them forever",
    )
    max_attempts: int = 5
    retry_base_seconds: float = 2.0
    reconcile_interval_seconds: float = 0.0  # 0 disables the periodic reconcile
    public_url: str = ""  # where links in comments point for the bot's own pages (optional)
    dashboard: Literal["on", "off"] = Field(
        "on",
        description="the dashboard and sign-in pages (`off`: only /webhook, /healthz, /metrics, /reports)",
    )
    oauth_client_id: str = Field(
        "", description="the GitHub App's client id, for signing in to the dashboard"
    )
    oauth_client_secret: SecretStr = SecretStr("")
    session_secret: SecretStr = Field(
        SecretStr(""),
        description="signs dashboard cookies and seals session tokens; empty: a random one per process (its sessions end with it)",
    )
    github_web_url: str = Field(
        "",
        description="GitHub's web address for sign-in (default: from github_base_url; github.com for api.github.com)",
    )

    def webhook_secrets(self) -> list[bytes]:
        raw = self.webhook_secret.get_secret_value()
        return [s.strip().encode() for s in raw.split(",") if s.strip()]
