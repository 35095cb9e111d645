"""Reports a reader can open: each one's key, and the one link posted to GitHub for it.

A report (an Evidently page, a model card, the log of a job: drift, train, card, promote, rollback,
reconcile) is kept where a reader of the issue can open it: the bot's
own `/reports/<id>` page when the bot serves one, the MLflow UI when the tracking server speaks HTTP, the
Actions run's uploaded artifact when only a workflow ran. A path on the disk of the machine that wrote it is
never a link: nobody else can open it.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Literal
from urllib.parse import quote

ReportKind = Literal["drift-report", "job-log", "model-card"]

CONTENT_TYPES: dict[ReportKind, str] = {
    "drift-report": "text/html; charset=utf-8",
    "job-log": "text/plain; charset=utf-8",
    "model-card": "text/markdown; charset=utf-8",
}


def report_id(repository: str, model: str, check_id: str, kind: ReportKind) -> str:
    """The key of one report: the same check reported twice keeps one row and one link."""
    digest = hashlib.sha256(f"{repository}\n{model}\n{check_id}\n{kind}".encode()).hexdigest()
    return digest[:32]


def card_report_id(repository: str, model: str, pr: int | None, head_sha: str) -> str:
    """The kept card of `model` on one commit of a pull request: a re-posted card replaces it."""
    return report_id(repository, model, f"card/pr-{pr or 0}@{head_sha}", "model-card")


def job_log_id(repository: str, command: str, job_id: str) -> str:
    """The log of one step (`command`) of one job of the bot: a retried job replaces it."""
    return report_id(repository, "", f"{command}/{job_id}", "job-log")


def log_line(url: str) -> str:
    """The line under a reply that links the log of the job that wrote it ("" when there is no such link)."""
    return f"\n\n<sub>Job log: {url}</sub>" if is_web_url(url) else ""


def is_web_url(url: str) -> bool:
    return url.startswith(("https://", "http://"))


def bot_report_url(public_url: str, rid: str) -> str:
    """The bot's page for a stored report; "" when the bot has no public URL."""
    return f"{public_url.rstrip('/')}/reports/{rid}" if is_web_url(public_url) else ""


def mlflow_artifact_url(tracking_uri: str, experiment_id: str, run_id: str, path: str) -> str:
    """The MLflow UI's page for one artifact of a run; "" unless the tracking URI is a web server."""
    if not (is_web_url(tracking_uri) and experiment_id and run_id):
        return ""
    base = tracking_uri.rstrip("/")
    return f"{base}/#/experiments/{quote(experiment_id)}/runs/{quote(run_id)}/artifacts/{quote(path)}"


def actions_artifacts_url(ci_url: str) -> str:
    """The Actions run's page, at its artifacts (where the workflow uploads the report folder)."""
    return f"{ci_url}#artifacts" if is_web_url(ci_url) else ""


@dataclass(frozen=True)
class ReportLinks:
    """Where each place a report is kept can be opened; `url` is the one to post."""

    bot: str = ""
    mlflow: str = ""
    actions: str = ""

    @property
    def url(self) -> str:
        """The bot's page first (it needs no MLflow account), then the MLflow UI, then the Actions run."""
        return self.bot or self.mlflow or self.actions
