"""The bot's tables, the schema revision this code needs, and the engine that opens them.

The schema is versioned with Alembic (`bot/adapters/migrations`). A Store checks the revision when it
opens: SQLite (the embedded default, one machine) migrates itself; PostgreSQL, shared by replicas that may
run different versions during a rollout, is migrated only by `mlops-bot db upgrade`, and a Store refuses a
schema that is behind or that it does not know (SchemaMismatch), naming the revision.

Durability on SQLite: WAL journal with `synchronous=NORMAL`. A commit is in the WAL (handed to the OS)
before it returns, so a delivery answered with 202 survives the process being killed, even with -9.
Only an operating-system crash or power loss can lose the last few commits; use PostgreSQL (or
`synchronous=FULL`) where that matters.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import (
    Column,
    Double,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    create_engine,
    event,
    exc,
    inspect,
    make_url,
    text,
)
from sqlalchemy.engine import Connection, Engine

from bot import __version__
from bot.adapters.private_files import create_private_file

QUEUED, RUNNING, DONE, FAILED = "queued", "running", "done", "failed"
STATUSES = (QUEUED, RUNNING, DONE, FAILED)
READ_ONLY = "mlops_bot_read_only"

# The schema this code queries: the newest revision in bot/adapters/migrations/versions (a test keeps
# these equal to Alembic's view of that folder).
SCHEMA_REVISIONS = ("0001", "0002", "0003", "0004", "0005")
SCHEMA_REVISION = SCHEMA_REVISIONS[-1]
# A database created before migrations existed has the tables of revision 0001 and no version table.
PRE_MIGRATION_REVISION = "0001"
VERSION_TABLE = "mlops_bot_schema_version"

metadata = MetaData()

deliveries = Table(
    "deliveries",
    metadata,
    Column("id", String(200), primary_key=True),  # X-GitHub-Delivery, or "job:<key>" for the bot's own jobs
    Column("event", String(100), nullable=False),
    Column("action", String(100), nullable=True),
    Column("payload", LargeBinary, nullable=False),  # the JSON body exactly as received
    Column("status", String(16), nullable=False),
    Column("attempts", Integer, nullable=False, default=0),
    Column("available_at", Double, nullable=False),  # not claimable before (retry backoff)
    Column("lease_owner", String(200), nullable=True),
    Column("lease_expires_at", Double, nullable=True),
    Column("last_error", Text, nullable=True),
    Column("note", Text, nullable=True),
    Column("received_at", Double, nullable=False),
    Column("updated_at", Double, nullable=False),
    Column("finished_at", Double, nullable=True),
    # owner/name the delivery is about ("" when none): the unit of fair claiming (see queue_turns)
    Column("repository", String(200), nullable=False, server_default=""),
)
Index("ix_deliveries_claim", deliveries.c.status, deliveries.c.available_at)
Index("ix_deliveries_received", deliveries.c.received_at)

# When a worker last claimed a job of each repository. A claim takes the oldest due delivery of the
# repository whose turn is oldest, so 50 queued jobs of one repository delay another's by one job at most.
queue_turns = Table(
    "queue_turns",
    metadata,
    Column("repository", String(200), primary_key=True),
    Column("claimed_at", Double, nullable=False),
)

locks = Table(
    "locks",
    metadata,
    Column("name", String(200), primary_key=True),
    Column("owner", String(200), nullable=False),
    Column("expires_at", Double, nullable=False),
)

processes = Table(
    "processes",
    metadata,
    Column("id", String(200), primary_key=True),  # a worker's id is the lease_owner of what it holds
    Column("role", String(16), nullable=False),  # "serve" or "worker"
    Column("host", String(200), nullable=False),
    Column("pid", Integer, nullable=False),
    Column("version", String(50), nullable=False),  # mlops-bot version: what a rolling upgrade still runs
    Column("started_at", Double, nullable=False),
    Column("heartbeat_at", Double, nullable=False),
)
Index("ix_processes_heartbeat", processes.c.heartbeat_at)

# What the bot wrote for a reader (an Evidently report, a check's summary, a job's log), served by
# `GET /reports/<id>` so a comment links a page that opens instead of a path on the bot's disk.
reports = Table(
    "reports",
    metadata,
    Column("id", String(64), primary_key=True),  # keys.report_id: the same report saved twice is one row
    Column("repository", String(200), nullable=False),
    Column("model", String(200), nullable=False),
    Column("kind", String(32), nullable=False),  # drift-report | job-log | check
    Column("name", String(200), nullable=False),  # the file name a download gets
    Column("content_type", String(100), nullable=False),
    Column("body", LargeBinary, nullable=False),
    Column("mlflow_run_id", String(64), nullable=False, server_default=""),
    Column("created_at", Double, nullable=False),
)
Index("ix_reports_model", reports.c.repository, reports.c.model, reports.c.created_at)

# One row per scheduled check of a model: what the dashboard's charts and the /metrics gauges read.
monitoring_checks = Table(
    "monitoring_checks",
    metadata,
    Column("repository", String(200), primary_key=True),
    Column("model", String(200), primary_key=True),
    Column("check_id", String(64), primary_key=True),
    Column("checked_at", Double, nullable=False),
    Column("facts", Text, nullable=False),  # JSON: bot.core.monitoring.history.CheckRecord
)
Index(
    "ix_monitoring_checks_time",
    monitoring_checks.c.repository,
    monitoring_checks.c.model,
    monitoring_checks.c.checked_at,
)
Index("ix_deliveries_lease_owner", deliveries.c.lease_owner)

# Who is signed in to the dashboard (bot/web/sessions.py): shared by every replica, so a restart keeps a
# session and signing out ends it everywhere. Keyed by a hash of the cookie's id; the token is sealed.
dashboard_sessions = Table(
    "dashboard_sessions",
    metadata,
    Column("id_hash", String(64), primary_key=True),
    Column("login", String(100), nullable=False),
    Column("sealed_token", LargeBinary, nullable=False),
    Column("csrf", String(64), nullable=False),
    Column("started_at", Double, nullable=False),
    Column("expires_at", Double, nullable=False),
)
Index("ix_dashboard_sessions_expires", dashboard_sessions.c.expires_at)

# The champion the newest promotion or rollback of each model left: /metrics reads it at once.
champion_moves = Table(
    "champion_moves",
    metadata,
    Column("repository", String(200), primary_key=True),
    Column("model", String(200), primary_key=True),
    Column("version", String(50), nullable=False),
    Column("run_id", String(64), nullable=False, server_default=""),
    Column("kind", String(16), nullable=False),  # promote | rollback
    Column("moved_at", Double, nullable=False),
)


@dataclass(frozen=True)
class SchemaStatus:
    """Which revision of the bot's schema a database is at."""

    revisions: tuple[str, ...]  # as recorded in the version table; empty when there is none
    pre_migration: bool  # the bot's tables without a version table: made before migrations (0001)

    @property
    def revision(self) -> str | None:
        """The effective revision; None for a database without the bot's schema."""
        if self.pre_migration:
            return PRE_MIGRATION_REVISION
        return ",".join(self.revisions) if self.revisions else None

    @property
    def is_current(self) -> bool:
        return self.revision == SCHEMA_REVISION

    @property
    def known(self) -> bool:
        return self.revision is None or self.revision in SCHEMA_REVISIONS

    def explain(self, where: str = "the database") -> str:
        """What is wrong with this schema for this code, and what to do; "" when nothing is."""
        if self.is_current:
            return ""
        if not self.known:
            return (
                f"{where} has mlops-bot schema revision {self.revision}, which this mlops-bot "
                f"{__version__} does not know (it knows up to {SCHEMA_REVISION}): a newer mlops-bot "
                "migrated it. Run that newer version; `mlops-bot db upgrade` of this one cannot go back."
            )
        if self.revision is None:
            return (
                f"{where} has no mlops-bot schema yet (this version needs revision {SCHEMA_REVISION}): "
                "run `mlops-bot db upgrade` with the same database URL, then start the bot."
            )
        made = " (tables made before migrations)" if self.pre_migration else ""
        return (
            f"{where} has mlops-bot schema revision {self.revision}{made}, but this mlops-bot "
            f"{__version__} needs revision {SCHEMA_REVISION}: run `mlops-bot db upgrade` with the same "
            "database URL, then start the bot."
        )


class SchemaMismatch(Exception):
    """The database's schema is not the one this code needs (behind, missing, or from a newer version)."""


def read_schema_status(conn: Connection) -> SchemaStatus:
    """The schema revision recorded in the database `conn` is connected to."""
    inspector = inspect(conn)
    if inspector.has_table(VERSION_TABLE):
        recorded = conn.execute(text(f"SELECT version_num FROM {VERSION_TABLE}")).scalars()  # noqa: S608
        return SchemaStatus(revisions=tuple(sorted(str(r) for r in recorded)), pre_migration=False)
    return SchemaStatus(revisions=(), pre_migration=inspector.has_table(deliveries.name))


def safe_url(url: str) -> str:
    """`url` fit for a log line or an error message: its password masked."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except exc.ArgumentError:
        return "the database URL"


def database_error(error: BaseException) -> str:
    """The driver's own first line about `error` (e.g. "connection refused"), without SQLAlchemy's noise."""
    detail = str(getattr(error, "orig", None) or error).strip()
    return detail.splitlines()[0] if detail else type(error).__name__


def driver_url(url: str) -> str:
    """`postgres://` and `postgresql://` (what most hosting platforms hand out) with the driver installed with
    mlops-bot: psycopg 3."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def make_engine(url: str, busy_timeout_ms: int = 10_000, *, checkpoint_on_commit: bool = True) -> Engine:
    """The engine a Store uses for `url`: on SQLite, WAL and write transactions that lock at BEGIN, and (with
    `checkpoint_on_commit` off) no WAL checkpoint inside a commit: bot/adapters/store/checkpoints.py."""
    if not url.startswith("sqlite"):
        return create_engine(driver_url(url), pool_pre_ping=True)
    _create_privately(url)
    engine = create_engine(url)

    @event.listens_for(engine, "connect")
    def _configure_sqlite(dbapi_conn: Any, _record: Any) -> None:
        # Let SQLAlchemy's "begin" below issue BEGIN itself instead of the driver's implicit deferred BEGIN.
        dbapi_conn.isolation_level = None
        cursor = dbapi_conn.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
        if not checkpoint_on_commit:
            cursor.execute("PRAGMA wal_autocheckpoint=0")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _begin_immediate(conn: Connection) -> None:
        # Take the write lock at BEGIN: a deferred transaction that reads then writes can fail with
        # SQLITE_BUSY when another process wrote in between, whatever the busy timeout.
        conn.exec_driver_sql("BEGIN" if conn.get_execution_options().get(READ_ONLY) else "BEGIN IMMEDIATE")

    return engine


def _create_privately(url: str) -> None:
    """Create a new SQLite database file 0600 before SQLite does (it would use 0644 under the usual
    umask); SQLite gives the -wal and -shm files it makes next to it the database file's mode."""
    database = make_url(url).database
    if not database or database == ":memory:" or database.startswith("file:"):
        return
    path = Path(database)
    if path.parent.is_dir():  # a missing directory stays SQLite's error to report
        create_private_file(path)


def new_row(
    delivery_id: str, event_name: str, action: str | None, payload: bytes, now: float, *, repository: str = ""
) -> dict[str, Any]:
    """A deliveries row for a delivery (or job) recorded at `now`, queued and due at once."""
    return {
        "repository": repository[:200],
        "id": delivery_id,
        "event": event_name,
        "action": action,
        "payload": payload,
        "status": QUEUED,
        "attempts": 0,
        "available_at": now,
        "received_at": now,
        "updated_at": now,
    }
