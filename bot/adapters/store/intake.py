"""Intake: recording webhook deliveries fast, one multi-row INSERT per batch, and the group commit that
lets concurrent requests share one transaction while each 202 still means "durably recorded"."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import queue
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import insert
from sqlalchemy.engine import Connection

from bot.adapters.store.base import StoreBase
from bot.adapters.store.notify import notify_queued
from bot.adapters.store.schema import DONE, deliveries, new_row

log = logging.getLogger(__name__)

# (delivery id, event, action, payload) or the same with the repository (owner/name) last.
AcceptItem = tuple[str, str, str | None, bytes] | tuple[str, str, str | None, bytes, str]
UNHANDLED_NOTE = "no handler for this event: recorded without its payload"


class StoreUnavailable(Exception):
    """The database could not record a delivery; GitHub's redelivery (or the sender's retry) is the remedy."""


class IntakeOps(StoreBase):
    """Record webhook deliveries (queued in the same transaction) and unhandled events."""

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
        now = self._now()
        rows = [new_row(*item[:4], now, repository=(item[4] if len(item) > 4 else "")) for item in items]
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
                    self._committed()
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
            inserted = set(conn.execute(statement.returning(deliveries.c.id)).scalars())
            if inserted:
                notify_queued(conn)  # the workers of every replica, once the batch commits
            return inserted
        if self.dialect == "sqlite":
            # BEGIN IMMEDIATE holds the write lock, so nobody can insert between this SELECT and the INSERT.
            return _sqlite_insert_new(conn, rows)
        plain_insert = insert(deliveries)
        return {row["id"] for row in rows if self._insert_one(conn, plain_insert, row)}

    def record_unhandled(self, delivery_id: str, event: str, action: str | None) -> bool:
        """Record a delivery of an event the bot has no handler for: done at once, without its payload
        (nothing will read it, and it may be 25 MB), so a redelivery is still a duplicate. False: exists."""
        now = self._now()
        row = new_row(delivery_id, event, action, b"", now)
        row.update(status=DONE, finished_at=now, note=UNHANDLED_NOTE)
        with self._write() as conn:
            return self._insert_one(conn, self._insert_ignoring_duplicates(), row)


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


class GroupCommitter:
    """Batches `accept` calls from concurrent requests into one transaction per batch.

    A request awaits `accept`, which resolves only after the batch holding its delivery has committed,
    so the HTTP 202 still means "durably recorded". Under load many deliveries share one commit; when
    idle a batch is a single delivery. The database work runs in this class's thread, off the event loop.
    """

    def __init__(self, store: IntakeOps, *, max_batch: int = 90) -> None:  # 90 x 10 values < SQLite's old 999
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
