"""Model cards and the logs of the bot's jobs, kept where a reader of the PR can open them.

Kept in every place the job can reach: the bot's store (served at `/reports/<id>`) when the job was handed
the bot's database (the local executor does), and as an MLflow artifact of the run it is about (the card's
candidate, the promoted or rolled-back version's run) when a tracking URI is set. The link posted is the
first of those a reader can open (`bot.core.reports.ReportLinks`); on an Actions runner with neither, it is
the workflow run itself, whose page shows the log and the step summary. Never a path of this machine.

A job's log is the file its output goes to (MLOPS_BOT_STEP_LOG, set by the local executor), read at the end
of the step and kept under a key made from the job's id, so its link can be posted before it is kept and a
retried job replaces it.
"""

from __future__ import annotations

import logging
import os
import tempfile
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from bot.core import reports as r
from bot.core.scrub import scrub
from bot.logs import ENV_CONTEXT, STEP_LOG_ENV

if TYPE_CHECKING:
    from bot.adapters.mlflow.runs import MlflowRuns
    from bot.adapters.store import Store
    from bot.jobs.common import JobEnv

log = logging.getLogger(__name__)

LOG_LINES = 400
ARTIFACT_FOLDER = "mlops-bot"  # where in a run's artifacts the bot keeps what it wrote about the run


def readable_log(path: Path, *, roots: Iterable[str] = ()) -> bytes:
    """The log's tail, with no credential and no path of this machine (a reader of the page sees it)."""
    lines = path.read_text(errors="replace").splitlines()[-LOG_LINES:]
    return scrub("\n".join(lines), roots=[str(Path.cwd()), str(path.parent), *roots]).encode()


def job_log_url(repository: str, command: str, environ: Mapping[str, str] = os.environ) -> str:
    """The bot's page where this step's log will be, once the step ends (`keep_step_log`); "" unless the
    step runs in the bot's local executor with its store and a public URL. Known before the log is kept,
    so the step's own reply can link it."""
    job_id = environ.get(ENV_CONTEXT["delivery"], "")
    if not (job_id and environ.get(STEP_LOG_ENV) and environ.get("MLOPS_BOT_DATABASE_URL")):
        return ""
    return r.bot_report_url(
        environ.get("MLOPS_BOT_PUBLIC_URL", ""), r.job_log_id(repository, command, job_id)
    )


@dataclass
class JobReports:
    repository: str
    job_id: str = ""  # the bot's job (its queue key): "" when the command was run by hand or on a runner
    store: Store | None = None
    public_url: str = ""
    runs: MlflowRuns | None = None
    ci_url: str = ""
    step_log: Path | None = None
    clock: Callable[[], float] = time.time
    notes: list[str] = field(default_factory=list)  # what could not be kept, for the job's log

    @classmethod
    def for_job(cls, env: JobEnv, *, ci_url: str = "", environ: Mapping[str, str] = os.environ) -> JobReports:
        return cls.from_environment(env.repo, ci_url=ci_url, environ=environ)

    @classmethod
    def from_environment(
        cls, repository: str, *, ci_url: str = "", environ: Mapping[str, str] = os.environ
    ) -> JobReports:
        """The store only when the job was handed the bot's database, MLflow only when a tracking URI is set
        explicitly (a default would create an empty store in the checkout)."""
        store = None
        if url := environ.get("MLOPS_BOT_DATABASE_URL", ""):
            from bot.adapters.store import Store

            store = Store(url)
        runs = None
        if uri := environ.get("MLOPS_BOT_MLFLOW_TRACKING_URI") or environ.get("MLFLOW_TRACKING_URI"):
            from bot.adapters.mlflow.runs import MlflowRuns

            runs = MlflowRuns(uri, repository=repository)
        step_log = environ.get(STEP_LOG_ENV, "")
        return cls(
            repository,
            job_id=environ.get(ENV_CONTEXT["delivery"], ""),
            store=store,
            public_url=environ.get("MLOPS_BOT_PUBLIC_URL", ""),
            runs=runs,
            ci_url=ci_url,
            step_log=Path(step_log) if step_log else None,
        )

    # -- links, known before anything is kept -------------------------------------------------------------

    def earlier_log_links(self, command: str, run_id: str = "") -> r.ReportLinks:
        """Where the log an earlier step of this job kept (the training, before the card) can be opened: the
        bot's page when the store has it, its MLflow artifact of `run_id`, else the Actions run."""
        bot = ""
        if self.store is not None and self.job_id:
            rid = r.job_log_id(self.repository, command, self.job_id)
            if self.store.report(rid) is not None:
                bot = r.bot_report_url(self.public_url, rid)
        mlflow = self._artifact_url(run_id, self._log_artifact(command)) if self.job_id and bot else ""
        return r.ReportLinks(bot=bot, mlflow=mlflow, actions=self.ci_url if r.is_web_url(self.ci_url) else "")

    def card_url(self, model: str, pr: int | None, head_sha: str, run_id: str) -> str:
        """Where `keep_card` will keep this card: the bot's page, else its MLflow artifact in the UI, else the
        Actions run (its step summary shows the card; the run's uploaded MLflow store keeps `card.md`)."""
        if self.store is not None and r.is_web_url(self.public_url):
            return r.bot_report_url(self.public_url, r.card_report_id(self.repository, model, pr, head_sha))
        found = self._artifact_url(run_id, f"{ARTIFACT_FOLDER}/card.md")
        return found or (self.ci_url if r.is_web_url(self.ci_url) else "")

    # -- keeping ------------------------------------------------------------------------------------------

    def keep_log(self, command: str, run_ids: Iterable[str] = (), *, model: str = "") -> None:
        """Keep this step's log so far in the store and as an artifact of each of `run_ids`."""
        if self.step_log is None or not self.step_log.is_file() or not self.job_id:
            return
        body = readable_log(self.step_log)
        name = f"{command}-{_safe(self.job_id)}.log"
        rid = r.job_log_id(self.repository, command, self.job_id)
        self._to_store(rid, model, "job-log", name, body, run_id=next(iter(run_ids), ""))
        for run_id in dict.fromkeys(i for i in run_ids if i):
            self._to_mlflow(run_id, self._log_artifact(command), body)

    def keep_card(self, model: str, pr: int | None, head_sha: str, body: str, run_id: str) -> r.ReportLinks:
        """Keep one model card (its Markdown) in the store and as `mlops-bot/card.md` of its candidate run."""
        raw = body.encode()
        mlflow = ""
        if run_id and self._to_mlflow(run_id, f"{ARTIFACT_FOLDER}/card.md", raw):
            mlflow = self._artifact_url(run_id, f"{ARTIFACT_FOLDER}/card.md")
        rid = r.card_report_id(self.repository, model, pr, head_sha)
        bot = self._to_store(rid, model, "model-card", f"card-{model}.md", raw, run_id=run_id)
        return r.ReportLinks(bot=bot, mlflow=mlflow, actions=self.ci_url if r.is_web_url(self.ci_url) else "")

    def close(self) -> None:
        if self.store is not None:
            self.store.close()

    # -- the places ---------------------------------------------------------------------------------------

    def _log_artifact(self, command: str) -> str:
        return f"{ARTIFACT_FOLDER}/{command}-{_safe(self.job_id)}.log"

    def _artifact_url(self, run_id: str, path: str) -> str:
        if self.runs is None or not run_id or not r.is_web_url(self.runs.tracking_uri):
            return ""
        try:
            experiment = str(self.runs.client.get_run(run_id).info.experiment_id)
        except Exception:  # a link we cannot make is left out, never a failed job
            return ""
        return r.mlflow_artifact_url(self.runs.tracking_uri, experiment, run_id, path)

    def _to_store(
        self, rid: str, model: str, kind: r.ReportKind, name: str, body: bytes, *, run_id: str
    ) -> str:
        if self.store is None:
            return ""
        from bot.adapters.store import StoredReport

        try:
            self.store.save_report(
                StoredReport(
                    id=rid,
                    repository=self.repository,
                    model=model,
                    kind=kind,
                    name=name,
                    content_type=r.CONTENT_TYPES[kind],
                    body=body,
                    mlflow_run_id=run_id,
                    created_at=self.clock(),
                )
            )
        except Exception as error:  # the comment still goes out, without this link
            self._note(f"the {kind} was not kept in the bot's store ({type(error).__name__})")
            return ""
        return r.bot_report_url(self.public_url, rid)

    def _to_mlflow(self, run_id: str, path: str, body: bytes) -> bool:
        if self.runs is None:
            return False
        folder, _, name = path.rpartition("/")
        try:
            with tempfile.TemporaryDirectory(prefix="mlops-bot-report-") as scratch:
                (Path(scratch) / name).write_bytes(body)
                self.runs.client.log_artifact(run_id, str(Path(scratch) / name), folder or None)
        except Exception as error:
            self._note(f"{path} was not kept in MLflow ({type(error).__name__}: {str(error)[:200]})")
            return False
        return True

    def _note(self, note: str) -> None:
        log.warning("%s", note)
        self.notes.append(note)


def _safe(text: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in text)[:80] or "job"


KEPT_COMMANDS = ("train", "card", "promote", "rollback", "reconcile")


def keep_step_log(
    command: str, outcome_file: Path | None, environ: Mapping[str, str] = os.environ
) -> list[str]:
    """At the end of a job step of the bot (`mlops-bot <command>` in the local executor): keep its log in the
    store and as an artifact of each run its outcome file (`--json`) names. What could not be kept, as notes."""
    repository = environ.get(ENV_CONTEXT["repo"]) or environ.get("GITHUB_REPOSITORY", "")
    if command not in KEPT_COMMANDS or not (repository and job_log_url(repository, command, environ)):
        return []
    reports = JobReports.from_environment(repository, environ=environ)
    try:
        reports.keep_log(command, _run_ids(outcome_file))
    finally:
        reports.close()
    return reports.notes


def _run_ids(path: Path | None) -> list[str]:
    """The MLflow runs an outcome file names: `run_id` of each outcome, `run.run_id` of each training result."""
    import json

    try:
        data = json.loads(path.read_text()) if path is not None and path.is_file() else []
    except (OSError, ValueError):
        return []
    found = []
    for item in data if isinstance(data, list) else [data]:
        if not isinstance(item, dict):
            continue
        run = item.get("run")
        run = run if isinstance(run, dict) else {}
        for value in (item.get("run_id"), run.get("run_id")):
            if isinstance(value, str) and value:
                found.append(value)
    return found
