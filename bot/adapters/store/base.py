"""What every part of the Store shares: the engine, the write path, and the schema check on open."""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

from sqlalchemy import Table, exc, insert, text
from sqlalchemy.engine import Connection
from sqlalchemy.sql.dml import Insert

from bot.adapters.store.checkpoints import WalCheckpointer
from bot.adapters.store.schema import (
    READ_ONLY,
    SchemaMismatch,
    deliveries,
    locks,
    make_engine,
    read_schema_status,
    safe_url,
)

log = logging.getLogger(__name__)


class StoreBase:
    """The connection plumbing the queue, locks, processes and intake parts build on."""

    def __init__(
        self,
        url: str,
        *,
        busy_timeout_ms: int = 10_000,
        auto_upgrade: bool | None = None,
        clock: Callable[[], float] = time.time,
        background_checkpoints: bool = False,
    ) -> None:
        """Open the store at `url` and check its schema. `auto_upgrade` (default: on SQLite only) migrates
        a schema that is missing or behind; otherwise such a schema raises SchemaMismatch. `clock` is what
        "now" means for leases, backoff and heartbeats (tests pass a clock they can move).
        `background_checkpoints`: on SQLite, no commit waits for a WAL checkpoint; a thread of this store
        does them (bot/adapters/store/checkpoints.py; the web process's store)."""
        self._now = clock
        self.url = url
        self._engine = make_engine(url, busy_timeout_ms, checkpoint_on_commit=not background_checkpoints)
        self.dialect = self._engine.dialect.name
        self._checkpoints = (
            WalCheckpointer(self._engine) if background_checkpoints and self.dialect == "sqlite" else None
        )
        # Reads need no write lock: on SQLite they begin DEFERRED (see make_engine).
        self._reader = self._engine.execution_options(**{READ_ONLY: True})
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

    def ping(self) -> None:
        """Raise when the database cannot be reached."""
        with self._reader.connect() as conn:
            conn.execute(text("SELECT 1"))

    def close(self) -> None:
        if self._checkpoints is not None:
            self._checkpoints.close()
        with self._write_mutex:
            if self._fast_connection is not None:
                self._fast_connection.close()
                self._fast_connection = None
        self._engine.dispose()

    @contextlib.contextmanager
    def _write(self) -> Iterator[Connection]:
        with self._write_mutex, self._engine.begin() as conn:
            yield conn
        self._committed()

    def _committed(self) -> None:
        if self._checkpoints is not None:
            self._checkpoints.wrote()

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


def dialect_insert(dialect: str, table: Table) -> Any:
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as pg_insert

        return pg_insert(table)
    from sqlalchemy.dialects.sqlite import insert as sqlite_insert

    return sqlite_insert(table)
