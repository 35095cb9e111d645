"""Where a scheduled check's report and log are kept, and the link a reader of the issue can open.

Kept in every place this run can reach: the bot's store (served at `/reports/<id>`) when the job runs with
the bot's database, an MLflow monitoring run when a tracking URI is set, the Actions run's uploaded
artifact on a runner. The link posted is the first of those a reader can open (`bot.core.reports`); a path
on this machine's disk is never one.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bot.core import reports as r
from bot.core.monitoring import CheckFacts, MonitorDecision
from bot.core.monitoring.history import check_record
from bot.core.scrub import scrub

if TYPE_CHECKING:
    from bot.adapters.mlflow.runs import MlflowRuns
    from bot.adapters.store import Store

log = logging.getLogger(__name__)

_LOG_LINES = 400


@dataclass
class ReportKeeper:
    repository: str
    store: Store | None = None
    public_url: str = ""
    runs: MlflowRuns | None = None
    ci_url: str = ""
    clock: Callable[[], float] = time.time
    notes: list[str] = field(default_factory=list)  # what could not be kept, for the job's log

    @classmethod
    def from_environment(
        cls, repository: str, *, public_url: str, ci_url: str, environ: Mapping[str, str] = os.environ
    ) -> ReportKeeper:
        """The store only when the job was handed the bot's database (the local executor does), MLflow only
        when a tracking URI is set explicitly: a default would create an empty store in the checkout."""
        store = None
        if url := environ.get("MLOPS_BOT_DATABASE_URL", ""):
            from bot.adapters.store import Store

            store = Store(url)
        runs = None
        if uri := environ.get("MLOPS_BOT_MLFLOW_TRACKING_URI") or environ.get("MLFLOW_TRACKING_URI"):
            from bot.adapters.mlflow.runs import MlflowRuns

            runs = MlflowRuns(uri, repository=repository)
        return cls(repository, store=store, public_url=public_url, runs=runs, ci_url=ci_url)

    def keep(self, facts: CheckFacts, log_path: Path | None = None) -> r.ReportLinks:
        """Keep the check's report (and its log) everywhere this run can; the links to the report."""
        files: dict[r.ReportKind, tuple[str, bytes]] = {}
        html = Path(facts.drift.report_path) if facts.drift and facts.drift.report_path else None
        if html is not None and html.is_file():
            files["drift-report"] = (f"drift-{facts.model}.html", html.read_bytes())
        if log_path is not None and log_path.is_file():
            files["job-log"] = (f"check-{facts.model}.log", _readable_log(log_path))
        if not files:
            return r.ReportLinks()
        main: r.ReportKind = "drift-report" if "drift-report" in files else "job-log"
        mlflow_url, run_id = self._to_mlflow(facts, files, main)
        bot_url = self._to_store(facts, files, main, run_id)
        actions = r.actions_artifacts_url(self.ci_url) if main == "drift-report" else ""
        return r.ReportLinks(bot=bot_url, mlflow=mlflow_url, actions=actions)

    def record(
        self,
        facts: CheckFacts,
        decision: MonitorDecision,
        *,
        issue: int | None,
        retrain_pr: int | None,
        report_url: str,
    ) -> None:
        """The check in the monitoring history the dashboard and `/metrics` read (when there is a store)."""
        if self.store is None:
            return
        record = check_record(facts, decision, issue=issue, retrain_pr=retrain_pr, report_url=report_url)
        self.store.record_check(self.repository, record)

    def close(self) -> None:
        if self.store is not None:
            self.store.close()

    def _to_mlflow(
        self, facts: CheckFacts, files: Mapping[r.ReportKind, tuple[str, bytes]], main: r.ReportKind
    ) -> tuple[str, str]:
        if self.runs is None:
            return "", ""
        from bot.adapters.mlflow.monitoring import log_check_run

        try:
            experiment, run_id = log_check_run(
                self.runs,
                repository=self.repository,
                model=facts.model,
                check_id=facts.check_id,
                artifacts=dict(files.values()),
                metrics=_check_metrics(facts),
                tags={"mlops_bot.champion_version": facts.champion.version} if facts.champion else {},
            )
        except Exception as error:  # a registry fault must not stop the issue from being updated
            note = f"the report was not kept in MLflow ({type(error).__name__}: {str(error)[:200]})"
            log.warning("%s", note)
            self.notes.append(note)
            return "", ""
        url = r.mlflow_artifact_url(self.runs.tracking_uri, experiment, run_id, files[main][0])
        return url, run_id

    def _to_store(
        self,
        facts: CheckFacts,
        files: Mapping[r.ReportKind, tuple[str, bytes]],
        main: r.ReportKind,
        run_id: str,
    ) -> str:
        if self.store is None:
            return ""
        from bot.adapters.store import StoredReport

        ids: dict[str, str] = {}
        for kind, (name, body) in files.items():
            rid = r.report_id(self.repository, facts.model, facts.check_id, kind)
            report = StoredReport(
                id=rid,
                repository=self.repository,
                model=facts.model,
                kind=kind,
                name=name,
                content_type=r.CONTENT_TYPES[kind],
                body=body,
                mlflow_run_id=run_id,
                created_at=self.clock(),
            )
            self.store.save_report(report)
            ids[kind] = rid
        return r.bot_report_url(self.public_url, ids[main])


def _readable_log(path: Path) -> bytes:
    """The log's tail, with no credential and no path of this machine (a reader of the page sees it)."""
    lines = path.read_text(errors="replace").splitlines()[-_LOG_LINES:]
    return scrub("\n".join(lines), roots=[str(Path.cwd()), str(path.parent)]).encode()


def _check_metrics(facts: CheckFacts) -> dict[str, Any]:
    metrics: dict[str, float] = {}
    if facts.drift is not None:
        metrics["drift_share"] = facts.drift.share_drifted
        metrics["drifted_columns"] = float(len(facts.drift.drifted_columns))
    for score in facts.performance.scores if facts.performance else ():
        if score.value is not None:
            metrics[f"performance_{score.name}"] = score.value
    return metrics
