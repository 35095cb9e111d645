"""What the dashboard's queue page and `/metrics` read about the queue: deliveries by status, the failed
ones, and how long the bot's jobs took by kind. Aggregates in SQL: one cheap query each."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select

from bot.adapters.store.base import StoreBase
from bot.adapters.store.schema import FAILED, deliveries

JOB_EVENT = "mlops-bot"  # the event of the bot's own jobs (bot.handlers.context); its action is the kind


@dataclass(frozen=True)
class JobTimes:
    kind: str
    count: int
    seconds: float  # summed: from the last attempt becoming due to the job finishing
    longest: float


@dataclass(frozen=True)
class FailedDelivery:
    id: str
    event: str
    action: str | None
    repository: str
    attempts: int
    error: str
    finished_at: float


class HealthOps(StoreBase):
    def status_counts(self) -> dict[str, int]:
        c = deliveries.c
        query = select(c.status, func.count()).group_by(c.status)
        with self._reader.connect() as conn:
            return {str(status): int(n) for status, n in conn.execute(query)}

    def job_times(self, since: float = 0.0) -> list[JobTimes]:
        """Finished jobs (done or failed for good) since `since`, by kind."""
        c = deliveries.c
        took = c.finished_at - func.max(c.available_at, c.received_at)
        if self.dialect == "postgresql":
            took = c.finished_at - func.greatest(c.available_at, c.received_at)
        query = (
            select(c.action, func.count(), func.sum(took), func.max(took))
            .where(c.event == JOB_EVENT, c.finished_at.is_not(None), c.finished_at >= since)
            .group_by(c.action)
            .order_by(c.action)
        )
        with self._reader.connect() as conn:
            return [
                JobTimes(
                    str(kind or "unknown"), int(n), max(0.0, float(total or 0)), max(0.0, float(top or 0))
                )
                for kind, n, total, top in conn.execute(query)
            ]

    def failed_deliveries(self, limit: int = 50) -> list[FailedDelivery]:
        c = deliveries.c
        query = (
            select(c.id, c.event, c.action, c.repository, c.attempts, c.last_error, c.finished_at)
            .where(c.status == FAILED)
            .order_by(c.finished_at.desc())
            .limit(limit)
        )
        with self._reader.connect() as conn:
            return [
                FailedDelivery(
                    r.id,
                    r.event,
                    r.action,
                    r.repository,
                    r.attempts,
                    r.last_error or "",
                    r.finished_at or 0.0,
                )
                for r in conn.execute(query)
            ]
