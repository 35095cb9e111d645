"""The bot's durable state: webhook deliveries (which are also the work queue) and named locks.

One SQLAlchemy Core schema, portable SQL, chosen by URL: SQLite by default, PostgreSQL with the same code.

Why the deliveries table is the queue: recording a delivery and enqueueing its job must be one
transaction, so a redelivery (same `X-GitHub-Delivery`) is deduplicated by the primary key and can never
produce a second job, and an accepted delivery can never be lost between "recorded" and "queued".
A separate queue library would need its own store and a two-phase hand-off.

Claiming is a guarded UPDATE (`... WHERE id = ? AND <still claimable>`, then check the row count), so two
workers can never both own a delivery on any database. On PostgreSQL the candidate row is selected with
`FOR UPDATE SKIP LOCKED` so concurrent workers do not queue behind each other; on SQLite every write
transaction starts with `BEGIN IMMEDIATE`, which serialises writers up front instead of failing when a
read lock would have to be upgraded.

Durability on SQLite: WAL journal with `synchronous=NORMAL`. A commit is in the WAL (handed to the OS)
before it returns, so a delivery answered with 202 survives the process being killed, even with -9.
Only an operating-system crash or power loss can lose the last few commits; use PostgreSQL (or
`synchronous=FULL`) where that matters.

Named locks live in their own table (name, owner, expiry) on both databases rather than in PostgreSQL
advisory locks: an advisory lock belongs to one pooled connection, vanishes silently with it, and is
invisible to `SELECT`; a row with an expiry is visible, survives connection churn, and is released by
its lease when the holder dies.

The schema is versioned with Alembic (`bot/adapters/migrations`). A Store checks the revision when it
opens: SQLite (the embedded default, one machine) migrates itself; PostgreSQL, shared by replicas that may
run different versions during a rollout, is migrated only by `mlops-bot db upgrade`, and a Store refuses a
schema that is behind or that it does not know (SchemaMismatch), naming the revision.

Every `serve` and `worker` process lists itself in `processes` with a heartbeat (ProcessBeacon), so any
replica can tell how many workers are alive.
"""

from __future__ import annotations

import asyncio
import builtins
import contextlib
import json
import logging
import os
import queue
import socket
import threading
import time
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass
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
    and_,
    create_engine,
    delete,
    event,
    exc,
    func,
    insert,
    inspect,
    make_url,
    or_,
    select,
    text,
    update,
)
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.sql.dml import Insert

from bot import __version__
from bot.adapters.private_files import create_private_file
from bot.core.events import Delivery

log = logging.getLogger(__name__)

# (delivery id, event, action, payload) or the same with the repository (owner/name) last.
AcceptItem = tuple[str, str, str | None, bytes] | tuple[str, str, str | None, bytes, str]
UNHANDLED_NOTE = "no handler for this event: recorded without its payload"

QUEUED, RUNNING, DONE, FAILED = "queued", "running", "done", "failed"
STATUSES = (QUEUED, RUNNING, DONE, FAILED)
JOB_PREFIX = "job:"
_MAX_ERROR_CHARS = 4000
_READ_ONLY = "mlops_bot_read_only"

# The schema this code queries: the newest revision in bot/adapters/migrations/versions (a test keeps
# these equal to Alembic's view of that folder).
SCHEMA_REVISIONS = ("0001", "0002", "0003")
SCHEMA_REVISION = SCHEMA_REVISIONS[-1]
# A database created before migrations existed has the tables of revision 0001 and no version table.
PRE_MIGRATION_REVISION = "0001"
VERSION_TABLE = "mlops_bot_schema_version"

# A process beats every PROCESS_BEAT_SECONDS; one silent for PROCESS_LIVE_SECONDS is presumed dead, and
# its row is deleted by the next process that registers once it is PROCESS_FORGET_SECONDS old.
PROCESS_BEAT_SECONDS = 10.0
PROCESS_LIVE_SECONDS = 3 * PROCESS_BEAT_SECONDS
PROCESS_FORGET_SECONDS = 24 * 3600.0

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
Index("ix_deliveries_lease_owner", deliveries.c.lease_owner)


@dataclass(frozen=True)
class DeliveryRow:
    """A delivery as `mlops-bot deliveries` shows it (no payload)."""

    id: str
    event: str
    action: str | None
    status: str
    attempts: int
    last_error: str | None
    note: str | None
    received_at: float
    updated_at: float
    finished_at: float | None
    available_at: float
    lease_owner: str | None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class ProcessRow:
    """A live `serve` or `worker` process."""

    id: str
    role: str
    host: str
    pid: int
    version: str
    started_at: float
    heartbeat_at: float

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


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


class LockTimeout(Exception):
    """A named lock stayed held by someone else for longer than the caller was willing to wait."""


class StoreUnavailable(Exception):
    """The database could not record a delivery; GitHub's redelivery (or the sender's retry) is the remedy."""


class Store:
    """Deliveries, the queue they form, and named locks. Thread-safe; share one per process."""

    def __init__(self, url: str, *, busy_timeout_ms: int = 10_000, auto_upgrade: bool | None = None) -> None:
        """Open the store at `url` and check its schema. `auto_upgrade` (default: on SQLite only) migrates
        a schema that is missing or behind; otherwise such a schema raises SchemaMismatch."""
        self.url = url
        self._engine = make_engine(url, busy_timeout_ms)
        self.dialect = self._engine.dialect.name
        # Reads need no write lock: on SQLite they begin DEFERRED (see make_engine).
        self._reader = self._engine.execution_options(**{_READ_ONLY: True})
        # SQLite allows one writer at a time; queueing this process's writers on a mutex is cheaper and
        # fairer than letting them spin in SQLite's busy handler. Other processes still meet busy_timeout.
        self._write_mutex: contextlib.AbstractContextManager[Any] = (
            threading.Lock() if self.dialect == "sqlite" else contextlib.nullcontext()
        )
        self._fast_connection: Any = None  # see _sqlite_insert_all_new
        try:
            self._check_schema(self.dialect == "sqlite" if auto_upgrade is None else auto_upgrade)
        except BaseException:
            self._engine.dispose()
            raise

    # ---- deliveries -------------------------------------------------------------------------------

    def accept(
        self, delivery_id: str, event: str, action: str | None, payload: bytes, repository: str = ""
    ) -> bool:
        """Record a webhook delivery and queue it, in one transaction. False: already recorded.
        `repository` (owner/name) is whose turn the delivery waits for (fair claiming)."""
        return self.accept_many([(delivery_id, event, action, payload, repository)])[0]

    def accept_many(self, items: Sequence[AcceptItem]) -> list[bool]:
        """`accept` for a batch, committed together (group commit); one bool per item, in order.
        An item is (id, event, action, payload) or (id, event, action, payload, repository).

        A batch costs a constant number of statements whatever its size (one multi-row INSERT): the
        writer thread shares the GIL with a busy event loop, and every statement is a GIL round trip.
        """
        now = time.time()
        rows = [_new_row(*item[:4], now, repository=(item[4] if len(item) > 4 else "")) for item in items]
        inserted = self._sqlite_insert_all_new(rows) if self.dialect == "sqlite" else None
        if inserted is None:
            with self._write() as conn:
                inserted = self._insert_new(conn, rows)
        results = []
        for row in rows:  # the first of two copies of one id in a batch is the one recorded
            results.append(row["id"] in inserted)
            inserted.discard(row["id"])
        return results

    def _sqlite_insert_all_new(self, rows: list[dict[str, Any]]) -> set[str] | None:
        """The fast path for the common case, where no delivery in the batch was seen before.

        Driver SQL on a connection kept for it: going through SQLAlchemy's execution machinery costs
        more than the commit itself (measured ~3x per batch). None when the batch holds a redelivery;
        nothing is written then, and the caller takes the exact (slower) path.
        """
        unique = list({row["id"]: row for row in reversed(rows)}.values())
        with self._write_mutex:
            if self._fast_connection is None:
                self._fast_connection = self._engine.raw_connection()
            cursor = self._fast_connection.cursor()
            try:
                cursor.execute("BEGIN IMMEDIATE")
                cursor.execute(
                    _multi_row_insert(len(unique)),
                    tuple(row[column] for row in unique for column in _INSERT_COLUMNS),
                )
                if cursor.rowcount == len(unique):
                    cursor.execute("COMMIT")
                    return {row["id"] for row in unique}
                cursor.execute("ROLLBACK")
                return None
            except BaseException:
                self._drop_fast_connection()
                raise
            finally:
                cursor.close()

    def _drop_fast_connection(self) -> None:
        connection, self._fast_connection = self._fast_connection, None
        if connection is not None:
            with contextlib.suppress(Exception):
                connection.rollback()
            connection.invalidate()  # a connection in an unknown state must not go back to the pool

    def _insert_new(self, conn: Connection, rows: list[dict[str, Any]]) -> set[str]:
        """Insert the rows whose id is not recorded yet; the ids inserted."""
        if self.dialect == "postgresql":
            from sqlalchemy.dialects.postgresql import insert as pg_insert

            statement = pg_insert(deliveries).values(rows).on_conflict_do_nothing(index_elements=["id"])
            return set(conn.execute(statement.returning(deliveries.c.id)).scalars())
        if self.dialect == "sqlite":
            # BEGIN IMMEDIATE holds the write lock, so nobody can insert between this SELECT and the INSERT.
            return _sqlite_insert_new(conn, rows)
        plain_insert = insert(deliveries)
        return {row["id"] for row in rows if self._insert_one(conn, plain_insert, row)}

    def enqueue(
        self,
        key: str,
        event: str,
        action: str | None,
        payload: dict[str, Any],
        *,
        delay_seconds: float = 0.0,
    ) -> bool:
        """Queue one of the bot's own jobs, deduplicated by `key` (stored as `job:<key>`). False: exists."""
        delivery_id = key if key.startswith(JOB_PREFIX) else JOB_PREFIX + key
        now = time.time()
        row = _new_row(
            delivery_id, event, action, json.dumps(payload).encode(), now, repository=repository_of(payload)
        )
        row["available_at"] = now + max(0.0, delay_seconds)
        with self._write() as conn:
            return self._insert_one(conn, self._insert_ignoring_duplicates(), row)

    def record_unhandled(self, delivery_id: str, event: str, action: str | None) -> bool:
        """Record a delivery of an event the bot has no handler for: done at once, without its payload
        (nothing will read it, and it may be 25 MB), so a redelivery is still a duplicate. False: exists."""
        now = time.time()
        row = _new_row(delivery_id, event, action, b"", now)
        row.update(status=DONE, finished_at=now, note=UNHANDLED_NOTE)
        with self._write() as conn:
            return self._insert_one(conn, self._insert_ignoring_duplicates(), row)

    def forget_payloads(self, finished_before: float) -> int:
        """Delete the payloads of deliveries done or failed before `finished_before` (retention); their
        rows stay, so `mlops-bot deliveries` and redelivery dedupe still work. How many were cleared."""
        with self._write() as conn:
            return int(
                conn.execute(
                    update(deliveries)
                    .where(
                        deliveries.c.status.in_((DONE, FAILED)),
                        deliveries.c.finished_at < finished_before,
                        func.length(deliveries.c.payload) > 0,
                    )
                    .values(payload=b"")
                ).rowcount
            )

    # Which repositories the reconcile timer serves: those with recent deliveries, and the installation
    # events that take them away again (issue 11 defect 6).
    _REPOSITORY_EVENTS = (
        "pull_request",
        "issue_comment",
        "push",
        "issues",
        "installation",
        "installation_repositories",
    )

    def recent_repositories(self, limit: int = 500) -> dict[str, int | None]:
        """Repositories among the latest `limit` GitHub deliveries -> the installation that sent them; minus
        those whose installation was deleted or which were removed from it since (the App cannot see them)."""
        query = (
            select(deliveries.c.payload)
            .where(deliveries.c.event.in_(self._REPOSITORY_EVENTS))
            .order_by(deliveries.c.received_at.desc())
            .limit(limit)
        )
        with self._reader.connect() as conn:
            payloads = conn.execute(query).scalars().all()
        found: dict[str, int | None] = {}
        gone_repos: set[str] = set()  # newest first: a removal hides every older delivery of the repository
        gone_installations: set[int] = set()
        for raw in payloads:
            try:
                event = json.loads(raw)
            except (ValueError, TypeError):
                continue
            if not isinstance(event, dict):
                continue
            installation = (event.get("installation") or {}).get("id")
            action = event.get("action")
            if action == "deleted" and "repository" not in event and installation is not None:
                gone_installations.add(int(installation))
            if action == "removed" or action == "deleted":
                for repo in event.get("repositories_removed") or event.get("repositories") or []:
                    if isinstance(repo, dict) and repo.get("full_name"):
                        gone_repos.add(str(repo["full_name"]))
            try:
                name = str(event["repository"]["full_name"])
            except (KeyError, TypeError):
                continue
            if name in gone_repos or (installation is not None and int(installation) in gone_installations):
                gone_repos.add(name)
                continue
            found.setdefault(name, int(installation) if installation is not None else None)
        return found

    def pull_head_events(self, repo: str, number: int, limit: int = 2000) -> list[dict[str, Any]]:
        """The stored `pull_request.opened/synchronize/reopened` payloads of one pull request, oldest first
        (among the latest `limit` of them): the history of its head, as GitHub announced it."""
        query = (
            select(deliveries.c.payload)
            .where(
                deliveries.c.event == "pull_request",
                deliveries.c.action.in_(("opened", "synchronize", "reopened")),
            )
            .order_by(deliveries.c.received_at.desc())
            .limit(limit)
        )
        with self._reader.connect() as conn:
            payloads = conn.execute(query).scalars().all()
        found: list[dict[str, Any]] = []
        for raw in reversed(payloads):
            try:
                event = _decode_payload(raw)
                if (
                    event["repository"]["full_name"] == repo
                    and int(event["pull_request"]["number"]) == number
                ):
                    found.append(event)
            except (ValueError, KeyError, TypeError):
                continue
        return found

    def claim(self, worker_id: str, lease_seconds: float = 300) -> Delivery | None:
        """The next due delivery, leased to `worker_id`: queued and due, or running with an expired lease."""
        now = time.time()
        claimable = _claimable(now)
        # Fair across repositories: the repository whose last claim is oldest goes first (never claimed:
        # first of all), then the oldest due delivery within it.
        turn = func.coalesce(queue_turns.c.claimed_at, 0.0)
        candidate = (
            select(deliveries.c.id, deliveries.c.repository)
            .select_from(
                deliveries.outerjoin(queue_turns, queue_turns.c.repository == deliveries.c.repository)
            )
            .where(claimable)
            .order_by(turn, deliveries.c.available_at, deliveries.c.received_at)
            .limit(1)
        )
        if self.dialect == "postgresql":
            # OF deliveries: the turn row is on the nullable side of the join, which cannot be locked.
            candidate = candidate.with_for_update(skip_locked=True, of=deliveries)
        with self._write() as conn:
            found = conn.execute(candidate).first()
            if found is None:
                return None
            delivery_id, repository = found
            taken = conn.execute(
                update(deliveries)
                .where(deliveries.c.id == delivery_id, claimable)
                .values(
                    status=RUNNING,
                    lease_owner=worker_id,
                    lease_expires_at=now + lease_seconds,
                    attempts=deliveries.c.attempts + 1,
                    updated_at=now,
                )
            ).rowcount
            if taken != 1:  # another worker got it between our SELECT and UPDATE
                return None
            self._take_turn(conn, repository, now)
            row = conn.execute(select(deliveries).where(deliveries.c.id == delivery_id)).mappings().one()
        return Delivery(
            id=row["id"],
            event=row["event"],
            action=row["action"],
            payload=_decode_payload(row["payload"]),
            attempts=row["attempts"],
            received_at=row["received_at"],
            meta={"worker_id": worker_id, "lease_expires_at": row["lease_expires_at"]},
        )

    def _take_turn(self, conn: Connection, repository: str, now: float) -> None:
        row = {"repository": repository, "claimed_at": now}
        if self.dialect in ("sqlite", "postgresql"):
            statement = (
                _dialect_insert(self.dialect, queue_turns)
                .values(row)
                .on_conflict_do_update(index_elements=["repository"], set_={"claimed_at": now})
            )
            conn.execute(statement)
            return
        if not conn.execute(
            update(queue_turns).where(queue_turns.c.repository == repository).values(claimed_at=now)
        ).rowcount:
            conn.execute(insert(queue_turns).values(row))

    def heartbeat(self, delivery_id: str, worker_id: str, lease_seconds: float) -> bool:
        """Extend the lease. False: the lease was lost (expired and taken by another worker)."""
        now = time.time()
        with self._write() as conn:
            return bool(
                conn.execute(
                    update(deliveries)
                    .where(*_owned(delivery_id, worker_id))
                    .values(lease_expires_at=now + lease_seconds, updated_at=now)
                ).rowcount
            )

    def complete(self, delivery_id: str, worker_id: str, note: str = "") -> bool:
        """Mark done. False (and nothing changes) when `worker_id` no longer holds the lease."""
        now = time.time()
        values = {"status": DONE, "note": note or None, "finished_at": now, "updated_at": now}
        return self._finish(delivery_id, worker_id, values)

    def fail(self, delivery_id: str, worker_id: str, error: str, *, retry_in: float | None) -> bool:
        """Record a failed attempt: queued again after `retry_in` seconds, or failed for good when None."""
        now = time.time()
        values: dict[str, Any] = {"last_error": error[:_MAX_ERROR_CHARS], "updated_at": now}
        if retry_in is None:
            values.update(status=FAILED, finished_at=now)
        else:
            values.update(status=QUEUED, available_at=now + retry_in)
        return self._finish(delivery_id, worker_id, values)

    def requeue(self, delivery_id: str) -> bool:
        """Queue a failed or done delivery again (attempts reset). False: no such delivery, or it is live."""
        now = time.time()
        with self._write() as conn:
            return bool(
                conn.execute(
                    update(deliveries)
                    .where(
                        deliveries.c.id == delivery_id,
                        deliveries.c.status.in_((FAILED, DONE)),
                        func.length(deliveries.c.payload) > 0,  # unhandled, or past retention: nothing to run
                    )
                    .values(status=QUEUED, attempts=0, available_at=now, finished_at=None, updated_at=now)
                ).rowcount
            )

    def get(self, delivery_id: str) -> DeliveryRow | None:
        with self._reader.connect() as conn:
            row = conn.execute(_listing().where(deliveries.c.id == delivery_id)).mappings().one_or_none()
        return DeliveryRow(**row) if row is not None else None

    def list(self, limit: int = 100, status: str | None = None) -> list[DeliveryRow]:
        """Newest first."""
        query = _listing().order_by(deliveries.c.received_at.desc(), deliveries.c.id).limit(limit)
        if status is not None:
            query = query.where(deliveries.c.status == status)
        with self._reader.connect() as conn:
            return [DeliveryRow(**row) for row in conn.execute(query).mappings()]

    def queue_depth(self) -> int:
        """Deliveries waiting for or in the hands of a worker."""
        query = select(func.count()).select_from(deliveries).where(deliveries.c.status.in_((QUEUED, RUNNING)))
        with self._reader.connect() as conn:
            return int(conn.execute(query).scalar_one())

    def ping(self) -> None:
        """Raise when the database cannot be reached."""
        with self._reader.connect() as conn:
            conn.execute(text("SELECT 1"))

    # ---- named locks ------------------------------------------------------------------------------

    @contextlib.contextmanager
    def lock(
        self, name: str, *, timeout: float = 600, lease_seconds: float = 600, poll: float = 0.2
    ) -> Iterator[None]:
        """Hold the cross-process lock `name` (e.g. `promote:<model>`) for the `with` block.

        The lease is renewed in the background while the block runs, so a long promotion keeps it;
        if the holder dies, the lock frees itself when its lease runs out. Raises LockTimeout.
        """
        owner = _owner_id()
        deadline = time.monotonic() + timeout
        while not self._try_lock(name, owner, lease_seconds):
            if time.monotonic() >= deadline:
                raise LockTimeout(f"lock {name!r} is still held by another worker after {timeout:g}s")
            time.sleep(poll)
        stop = threading.Event()
        renewer = threading.Thread(
            target=self._renew_lock, args=(name, owner, lease_seconds, stop), name=f"lock:{name}", daemon=True
        )
        renewer.start()
        try:
            yield
        finally:
            stop.set()
            renewer.join()
            with self._write() as conn:
                conn.execute(delete(locks).where(locks.c.name == name, locks.c.owner == owner))

    def lock_owner(self, name: str) -> str | None:
        """Who holds `name` now (None when free or expired)."""
        query = select(locks.c.owner).where(locks.c.name == name, locks.c.expires_at > time.time())
        with self._reader.connect() as conn:
            owner = conn.execute(query).scalar_one_or_none()
        return str(owner) if owner is not None else None

    def _try_lock(self, name: str, owner: str, lease_seconds: float) -> bool:
        now = time.time()
        with self._write() as conn:
            if self._insert_one(
                conn,
                self._insert_ignoring_duplicates(locks, "name"),
                {"name": name, "owner": owner, "expires_at": now + lease_seconds},
            ):
                return True
            return bool(
                conn.execute(
                    update(locks)
                    .where(locks.c.name == name, or_(locks.c.expires_at <= now, locks.c.owner == owner))
                    .values(owner=owner, expires_at=now + lease_seconds)
                ).rowcount
            )

    def _renew_lock(self, name: str, owner: str, lease_seconds: float, stop: threading.Event) -> None:
        while not stop.wait(lease_seconds / 3):
            try:
                with self._write() as conn:
                    renewed = conn.execute(
                        update(locks)
                        .where(locks.c.name == name, locks.c.owner == owner)
                        .values(expires_at=time.time() + lease_seconds)
                    ).rowcount
                if not renewed:
                    log.warning("lock %s was lost (its lease expired and another worker took it)", name)
                    return
            except exc.SQLAlchemyError:
                log.exception("could not renew lock %s; will retry", name)

    # ---- live processes ---------------------------------------------------------------------------

    def register_process(self, process_id: str, role: str) -> None:
        """List this process as live (again); forget processes silent for a day."""
        now = time.time()
        row = {
            "id": process_id,
            "role": role,
            "host": socket.gethostname()[:200],
            "pid": os.getpid(),
            "version": __version__,
            "started_at": now,
            "heartbeat_at": now,
        }
        with self._write() as conn:
            conn.execute(
                delete(processes).where(
                    or_(processes.c.id == process_id, processes.c.heartbeat_at < now - PROCESS_FORGET_SECONDS)
                )
            )
            conn.execute(insert(processes).values(row))

    def process_heartbeat(self, process_id: str) -> bool:
        """Mark the process alive now. False: it is not listed (forgotten, or never registered)."""
        with self._write() as conn:
            updated = conn.execute(
                update(processes).where(processes.c.id == process_id).values(heartbeat_at=time.time())
            ).rowcount
        return bool(updated)

    def unregister_process(self, process_id: str) -> None:
        with self._write() as conn:
            conn.execute(delete(processes).where(processes.c.id == process_id))

    def live_processes(
        self, role: str | None = None, *, within: float = PROCESS_LIVE_SECONDS
    ) -> builtins.list[ProcessRow]:
        """Processes that beat in the last `within` seconds, oldest first."""
        query = (
            select(processes)
            .where(processes.c.heartbeat_at > time.time() - within)
            .order_by(processes.c.started_at, processes.c.id)
        )
        if role is not None:
            query = query.where(processes.c.role == role)
        with self._reader.connect() as conn:
            return [ProcessRow(**row) for row in conn.execute(query).mappings()]

    # ---- plumbing ---------------------------------------------------------------------------------

    def close(self) -> None:
        with self._write_mutex:
            if self._fast_connection is not None:
                self._fast_connection.close()
                self._fast_connection = None
        self._engine.dispose()

    @contextlib.contextmanager
    def _write(self) -> Iterator[Connection]:
        with self._write_mutex, self._engine.begin() as conn:
            yield conn

    def _finish(self, delivery_id: str, worker_id: str, values: dict[str, Any]) -> bool:
        values = {"lease_owner": None, "lease_expires_at": None, **values}
        with self._write() as conn:
            changed = conn.execute(
                update(deliveries).where(*_owned(delivery_id, worker_id)).values(**values)
            ).rowcount
        if not changed:
            log.warning(
                "delivery %s: worker %s no longer holds its lease; result dropped", delivery_id, worker_id
            )
        return bool(changed)

    def _insert_ignoring_duplicates(self, table: Table = deliveries, key: str = "id") -> Insert:
        if self.dialect == "sqlite":
            from sqlalchemy.dialects.sqlite import insert as sqlite_insert

            return sqlite_insert(table).on_conflict_do_nothing(index_elements=[key])
        if self.dialect == "postgresql":
            from sqlalchemy.dialects.postgresql import insert as pg_insert

            return pg_insert(table).on_conflict_do_nothing(index_elements=[key])
        return insert(table)  # other databases: a savepoint absorbs the duplicate-key error

    def _insert_one(self, conn: Connection, statement: Insert, row: dict[str, Any]) -> bool:
        if self.dialect == "sqlite":
            return conn.execute(statement, row).rowcount == 1
        if self.dialect == "postgresql":
            # psycopg reports rowcount -1 for some single-row INSERTs; RETURNING says for sure.
            key = locks.c.name if "name" in row else deliveries.c.id
            return conn.execute(statement.returning(key), row).first() is not None
        try:
            with conn.begin_nested():
                conn.execute(statement, row)
        except exc.IntegrityError:
            return False
        return True

    def _check_schema(self, auto_upgrade: bool) -> None:
        with self._reader.connect() as conn:  # the common case, an up-to-date schema, needs no Alembic
            status = read_schema_status(conn)
        if status.is_current:
            return
        if not (auto_upgrade and status.known):
            raise SchemaMismatch(status.explain(f"the database {safe_url(self.url)}"))
        from bot.adapters.migrations import upgrade_connection

        with (
            self._write() as conn
        ):  # BEGIN IMMEDIATE: a second process starting now waits, then finds it done
            before, after = upgrade_connection(conn)
        log.info("database schema upgraded from %s to %s", before.revision or "empty", after.revision)


def driver_url(url: str) -> str:
    """`postgres://` and `postgresql://` (what most hosting platforms hand out) with the driver installed with
    mlops-bot: psycopg 3."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def make_engine(url: str, busy_timeout_ms: int = 10_000) -> Engine:
    """The engine a Store uses for `url`: on SQLite, WAL and write transactions that lock at BEGIN."""
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
        cursor.close()

    @event.listens_for(engine, "begin")
    def _begin_immediate(conn: Connection) -> None:
        # Take the write lock at BEGIN: a deferred transaction that reads then writes can fail with
        # SQLITE_BUSY when another process wrote in between, whatever the busy timeout.
        conn.exec_driver_sql("BEGIN" if conn.get_execution_options().get(_READ_ONLY) else "BEGIN IMMEDIATE")

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


_INSERT_COLUMNS = (
    "repository",
    "id",
    "event",
    "action",
    "payload",
    "status",
    "attempts",
    "available_at",
    "received_at",
    "updated_at",
)


def _multi_row_insert(count: int) -> str:
    one_row = f"({','.join('?' * len(_INSERT_COLUMNS))})"
    all_rows = ",".join([one_row] * count)
    columns = ",".join(_INSERT_COLUMNS)
    return f"INSERT INTO deliveries ({columns}) VALUES {all_rows} ON CONFLICT (id) DO NOTHING"  # noqa: S608


def _sqlite_insert_new(conn: Connection, rows: list[dict[str, Any]]) -> set[str]:
    # Driver SQL with one "?" per value (nothing else is interpolated): building a multi-row INSERT
    # through SQLAlchemy's compiler costs more than the commit itself.
    ids = list(dict.fromkeys(row["id"] for row in rows))
    select_known = f"SELECT id FROM deliveries WHERE id IN ({','.join('?' * len(ids))})"  # noqa: S608
    known = {found for (found,) in conn.exec_driver_sql(select_known, tuple(ids))}
    fresh = list({row["id"]: row for row in reversed(rows) if row["id"] not in known}.values())
    if fresh:
        conn.exec_driver_sql(
            _multi_row_insert(len(fresh)), tuple(row[column] for row in fresh for column in _INSERT_COLUMNS)
        )
    return {row["id"] for row in fresh}


def _new_row(
    delivery_id: str, event_name: str, action: str | None, payload: bytes, now: float, *, repository: str = ""
) -> dict[str, Any]:
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


def repository_of(payload: dict[str, Any]) -> str:
    """The owner/name a webhook payload (or a job's) is about; "" when it names none."""
    repository = payload.get("repository")
    name = repository.get("full_name") if isinstance(repository, dict) else None
    return name[:200] if isinstance(name, str) else ""


def _dialect_insert(dialect: str, table: Table) -> Any:
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as pg_insert

        return pg_insert(table)
    from sqlalchemy.dialects.sqlite import insert as sqlite_insert

    return sqlite_insert(table)


def _claimable(now: float) -> Any:
    return or_(
        and_(deliveries.c.status == QUEUED, deliveries.c.available_at <= now),
        and_(deliveries.c.status == RUNNING, deliveries.c.lease_expires_at <= now),
    )


def _owned(delivery_id: str, worker_id: str) -> tuple[Any, ...]:
    return (
        deliveries.c.id == delivery_id,
        deliveries.c.status == RUNNING,
        deliveries.c.lease_owner == worker_id,
    )


def _listing() -> Any:
    c = deliveries.c
    return select(
        c.id, c.event, c.action, c.status, c.attempts, c.last_error, c.note,
        c.received_at, c.updated_at, c.finished_at, c.available_at, c.lease_owner,
    )  # fmt: skip


def _decode_payload(raw: bytes) -> dict[str, Any]:
    if not raw:  # cleared by retention; such rows are never requeued, but be safe
        return {}
    value = json.loads(raw)
    return value if isinstance(value, dict) else {"value": value}


def _owner_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{threading.get_ident()}:{uuid.uuid4().hex[:8]}"


class ProcessBeacon:
    """Keeps a process listed in `processes` while the `with` block runs: registers it, beats a heartbeat
    from a daemon thread, and removes it on the way out. A process killed with -9 stops beating and drops
    out of `live_processes` after PROCESS_LIVE_SECONDS. Database errors are logged, never raised: being
    listed is for operators, and must not stop a worker from working."""

    def __init__(
        self, store: Store, role: str, process_id: str, *, interval: float = PROCESS_BEAT_SECONDS
    ) -> None:
        self.store = store
        self.role = role
        self.process_id = process_id
        self.interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"beacon:{role}", daemon=True)

    def __enter__(self) -> ProcessBeacon:
        self._beat(registered=False)
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stop.set()
        self._thread.join()
        try:
            self.store.unregister_process(self.process_id)
        except Exception:
            log.warning("could not remove process %s from the live list", self.process_id, exc_info=True)

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self._beat(registered=True)

    def _beat(self, *, registered: bool) -> None:
        try:
            if not (registered and self.store.process_heartbeat(self.process_id)):
                self.store.register_process(self.process_id, self.role)
        except Exception:
            log.warning("could not record that %s %s is alive", self.role, self.process_id, exc_info=True)


class GroupCommitter:
    """Batches `accept` calls from concurrent requests into one transaction per batch.

    A request awaits `accept`, which resolves only after the batch holding its delivery has committed,
    so the HTTP 202 still means "durably recorded". Under load many deliveries share one commit; when
    idle a batch is a single delivery. The database work runs in this class's thread, off the event loop.
    """

    def __init__(self, store: Store, *, max_batch: int = 90) -> None:  # 90 x 10 values < SQLite's old 999
        self._store = store
        self._max_batch = max_batch
        self._pending: queue.SimpleQueue[_Pending | None] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._start_lock = threading.Lock()

    async def accept(
        self, delivery_id: str, event: str, action: str | None, payload: bytes, repository: str = ""
    ) -> bool:
        """`Store.accept`, group-committed. Raises StoreUnavailable when the batch could not commit."""
        self._ensure_running()
        loop = asyncio.get_running_loop()
        settled: asyncio.Future[bool] = loop.create_future()
        self._pending.put(_Pending((delivery_id, event, action, payload, repository), loop, settled))
        # Shielded: a client that disconnects must not cancel the write it started.
        return await asyncio.shield(settled)

    def close(self, timeout: float = 5.0) -> None:
        """Commit what is pending, then stop the writer thread."""
        thread = self._thread
        if thread is not None and thread.is_alive():
            self._pending.put(None)
            thread.join(timeout)
        self._thread = None

    def _ensure_running(self) -> None:
        if self._thread is not None and self._thread.is_alive():
            return
        with self._start_lock:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="delivery-writer", daemon=True)
                self._thread.start()

    def _run(self) -> None:
        stopping = False
        while not stopping:
            first = self._pending.get()
            if first is None:
                return
            batch = [first]
            while len(batch) < self._max_batch:
                try:
                    item = self._pending.get_nowait()
                except queue.Empty:
                    break
                if item is None:
                    stopping = True
                    break
                batch.append(item)
            self._commit(batch)

    def _commit(self, batch: list[_Pending]) -> None:
        outcomes: list[bool | BaseException]
        try:
            outcomes = list(self._store.accept_many([p.item for p in batch]))
        except Exception as error:  # the database is down or locked for too long: every waiter must hear it
            log.exception("could not record %d deliveries", len(batch))
            outcomes = [StoreUnavailable(f"could not record the delivery: {type(error).__name__}")] * len(
                batch
            )
        # One wake-up per event loop per batch, not one per request: each is a syscall and a GIL round trip.
        by_loop: dict[asyncio.AbstractEventLoop, list[tuple[asyncio.Future[bool], bool | BaseException]]] = {}
        for pending, outcome in zip(batch, outcomes, strict=True):
            by_loop.setdefault(pending.loop, []).append((pending.settled, outcome))
        for loop, settlements in by_loop.items():
            with contextlib.suppress(RuntimeError):  # that loop has closed: nobody is waiting any more
                loop.call_soon_threadsafe(_settle, settlements)


@dataclass(frozen=True)
class _Pending:
    item: AcceptItem
    loop: asyncio.AbstractEventLoop
    settled: asyncio.Future[bool]


def _settle(settlements: list[tuple[asyncio.Future[bool], bool | BaseException]]) -> None:
    for future, outcome in settlements:
        if future.done():
            continue
        if isinstance(outcome, BaseException):
            future.set_exception(outcome)
        else:
            future.set_result(outcome)
