"""Waking workers when a delivery is queued, on PostgreSQL: LISTEN/NOTIFY instead of polling (issue 12).

Every insert into the queue notifies channel `mlops_bot_queue` in its own transaction, so the notification is
sent when, and only when, the row is committed (https://www.postgresql.org/docs/current/sql-notify.html). A
worker's `QueueListener` holds one extra connection that listens and wakes the worker, whichever replica took
the webhook. Polling stays as the safety net: a lost connection, a retry whose time has come, a notification
missed while reconnecting are all found at the next poll.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Callable
from typing import Any

from sqlalchemy import text
from sqlalchemy.engine import Connection

log = logging.getLogger(__name__)

QUEUE_CHANNEL = "mlops_bot_queue"
RECONNECT_S = 5.0


def notify_queued(conn: Connection) -> None:
    """Tell the listening workers that a delivery was queued (sent when `conn`'s transaction commits)."""
    if conn.dialect.name == "postgresql":
        conn.execute(text("SELECT pg_notify(:channel, '')"), {"channel": QUEUE_CHANNEL})


class QueueListener:
    """A thread that calls `wake` on every queue notification, until `stop`. PostgreSQL only."""

    def __init__(
        self, url: str, wake: Callable[[], None], *, timeout_s: float = 1.0, reconnect_s: float = RECONNECT_S
    ) -> None:
        from sqlalchemy import make_url

        # psycopg's own URL: the store's SQLAlchemy URL less its driver name.
        self._conninfo = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
        self._wake = wake
        self._timeout_s = timeout_s
        self._reconnect_s = reconnect_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="mlops-bot-queue-listener", daemon=True)
        self.listening = threading.Event()  # set while LISTEN is in effect (tests wait on it)

    def start(self) -> QueueListener:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=self._timeout_s + 5)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self._listen()
            except Exception as exc:  # the database went away: poll until it is back, then listen again
                self.listening.clear()
                log.warning("queue notifications lost (%s); listening again in %.0fs", exc, self._reconnect_s)
                self._stop.wait(self._reconnect_s)

    def _listen(self) -> None:
        import psycopg

        conn: Any = psycopg.connect(self._conninfo, autocommit=True)
        with contextlib.closing(conn):
            conn.execute(f"LISTEN {QUEUE_CHANNEL}")
            self.listening.set()
            self._wake()  # whatever was queued while nobody listened
            while not self._stop.is_set():
                for _ in conn.notifies(timeout=self._timeout_s, stop_after=1):
                    self._wake()
