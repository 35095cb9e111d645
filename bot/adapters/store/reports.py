"""Reports kept for a reader (`GET /reports/<id>`) and the history of scheduled checks per model."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import and_, delete, func, select

from bot.adapters.store.base import StoreBase, dialect_insert
from bot.adapters.store.schema import monitoring_checks, reports
from bot.core.monitoring.history import CheckRecord, record_from_json
from bot.core.monitoring.values import parse_time


@dataclass(frozen=True)
class StoredReport:
    id: str
    repository: str
    model: str
    kind: str
    name: str
    content_type: str
    body: bytes
    mlflow_run_id: str
    created_at: float


class ReportOps(StoreBase):
    """Save a report (again: the same id replaces it) and read it back; record and list checks."""

    def save_report(self, report: StoredReport) -> None:
        row = {
            "id": report.id,
            "repository": report.repository[:200],
            "model": report.model[:200],
            "kind": report.kind,
            "name": report.name[:200],
            "content_type": report.content_type,
            "body": report.body,
            "mlflow_run_id": report.mlflow_run_id,
            "created_at": report.created_at or self._now(),
        }
        statement = dialect_insert(self.dialect, reports).values(row)
        statement = statement.on_conflict_do_update(
            index_elements=[reports.c.id], set_={k: v for k, v in row.items() if k != "id"}
        )
        with self._write() as conn:
            conn.execute(statement)

    def forget_reports(self, kind: str, created_before: float) -> int:
        """Delete the reports of `kind` kept before `created_before` (retention: job logs); how many."""
        with self._write() as conn:
            return int(
                conn.execute(
                    delete(reports).where(reports.c.kind == kind, reports.c.created_at < created_before)
                ).rowcount
            )

    def report(self, report_id: str) -> StoredReport | None:
        with self._reader.connect() as conn:
            row = conn.execute(select(reports).where(reports.c.id == report_id)).mappings().one_or_none()
        return StoredReport(**row) if row is not None else None

    def record_check(self, repository: str, record: CheckRecord) -> None:
        """Keep one check of a model (recording the same check again replaces it)."""
        when = parse_time(record.checked_at)
        row = {
            "repository": repository[:200],
            "model": record.model[:200],
            "check_id": record.check_id[:64],
            "checked_at": when.timestamp() if when else self._now(),
            "facts": record.to_json(),
        }
        statement = dialect_insert(self.dialect, monitoring_checks).values(row)
        statement = statement.on_conflict_do_update(
            index_elements=[
                monitoring_checks.c.repository,
                monitoring_checks.c.model,
                monitoring_checks.c.check_id,
            ],
            set_={"checked_at": row["checked_at"], "facts": row["facts"]},
        )
        with self._write() as conn:
            conn.execute(statement)

    def checks(self, repository: str, model: str | None = None, *, limit: int = 1000) -> list[CheckRecord]:
        """The latest `limit` checks of a repository (of one model), oldest first."""
        c = monitoring_checks.c
        query = select(c.facts).where(c.repository == repository)
        if model is not None:
            query = query.where(c.model == model)
        query = query.order_by(c.checked_at.desc(), c.check_id.desc()).limit(limit)
        with self._reader.connect() as conn:
            rows = list(conn.execute(query).scalars())
        return [record_from_json(text) for text in reversed(rows)]

    def latest_checks(self) -> dict[tuple[str, str], CheckRecord]:
        """The newest check of every (repository, model): one query, for a scrape."""
        c = monitoring_checks.c
        newest = (
            select(c.repository, c.model, func.max(c.checked_at).label("at"))
            .group_by(c.repository, c.model)
            .subquery()
        )
        query = select(c.repository, c.model, c.facts).join(
            newest,
            and_(c.repository == newest.c.repository, c.model == newest.c.model, c.checked_at == newest.c.at),
        )
        with self._reader.connect() as conn:
            return {(row.repository, row.model): record_from_json(row.facts) for row in conn.execute(query)}

    def monitored_repositories(self) -> list[str]:
        c = monitoring_checks.c
        with self._reader.connect() as conn:
            return list(conn.execute(select(c.repository).distinct().order_by(c.repository)).scalars())
