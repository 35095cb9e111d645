"""The bot's durable state: webhook deliveries (which are also the work queue), named locks and live processes.

One SQLAlchemy Core schema, portable SQL, chosen by URL: SQLite by default, PostgreSQL with the same code.
Each part lives in its own module; `Store` composes them:

- `schema`: the tables, the revision this code needs (Alembic), the engine and SQLite's durability settings;
- `intake`: recording deliveries, and the group commit that batches concurrent requests;
- `queue`: the bot's own jobs, claims with leases, retries with backoff, listings;
- `locks`: named cross-process locks with a lease;
- `processes`: live `serve`/`worker` processes and their heartbeat;
- `health`: deliveries by status, failed ones, job times by kind (the dashboard, `/metrics`);
- `reports`: reports kept for a reader (`/reports/<id>`) and the history of scheduled checks;
- `sessions`: dashboard sessions shared by every replica, and the champion each promotion or rollback left.

Time is injected: `Store(url, clock=...)` is what "now" means for leases, backoff and heartbeats.
"""

from __future__ import annotations

from bot.adapters.store.health import FailedDelivery, HealthOps, JobTimes
from bot.adapters.store.intake import GroupCommitter, IntakeOps, StoreUnavailable
from bot.adapters.store.locks import LockOps, LockTimeout
from bot.adapters.store.processes import ProcessBeacon, ProcessOps
from bot.adapters.store.queue import QueueOps, repository_of
from bot.adapters.store.reports import ReportOps, StoredReport
from bot.adapters.store.schema import (
    DONE,
    FAILED,
    QUEUED,
    RUNNING,
    SCHEMA_REVISION,
    STATUSES,
    SchemaMismatch,
    database_error,
    deliveries,
    locks,
    safe_url,
)
from bot.adapters.store.sessions import ChampionMove, SessionOps, SessionRow

# The names most callers (app, worker, CLI and many tests) import from `bot.adapters.store`.
__all__ = [
    "DONE",
    "FAILED",
    "QUEUED",
    "RUNNING",
    "SCHEMA_REVISION",
    "STATUSES",
    "ChampionMove",
    "FailedDelivery",
    "GroupCommitter",
    "JobTimes",
    "LockTimeout",
    "ProcessBeacon",
    "SchemaMismatch",
    "SessionRow",
    "Store",
    "StoreUnavailable",
    "StoredReport",
    "database_error",
    "deliveries",
    "locks",
    "repository_of",
    "safe_url",
]


class Store(IntakeOps, QueueOps, LockOps, ProcessOps, ReportOps, HealthOps, SessionOps):
    """Deliveries, the queue they form, named locks, live processes, reports, the monitoring history,
    dashboard sessions and champion moves.
    Thread-safe; share one per process."""
