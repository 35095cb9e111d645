"""SQLite WAL checkpoints in a thread of their own, off the commit path.

By default SQLite checkpoints inside the commit that takes the write-ahead log past 1,000 pages: it copies the
log into the database file and syncs it, 10-12 ms here, and every webhook delivery of that commit's batch (and
of the batches queued behind it) waited for it. With 7 KB payloads that was one commit in ~20, the intake's
p99 (bench/README.md). A store that opts in (the web process's, `create_app`) opens its connections with the
automatic checkpoint off and runs a PASSIVE checkpoint from this thread about once a second after writes:
PASSIVE never waits for readers or writers, and writers go on appending meanwhile. The log still cannot grow
without bound: each checkpoint copies what was committed, and SQLite restarts the log once it is copied.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from typing import Any

from sqlalchemy.engine import Engine

log = logging.getLogger(__name__)


class WalCheckpointer:
    """Checkpoints `engine`'s database about every `every` seconds while it is written (`wrote`), and once
    more on `close`. The thread starts at the first write."""

    def __init__(self, engine: Engine, every: float = 1.0) -> None:
        self._engine = engine
        self._every = every
        self._wrote = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._start_lock = threading.Lock()

    def wrote(self) -> None:
        """A write committed: checkpoint within `every` seconds. Cheap when called at every commit."""
        if not self._wrote.is_set():
            self._wrote.set()
        if self._thread is None:
            with self._start_lock:
                if self._thread is None and not self._stop.is_set():
                    self._thread = threading.Thread(target=self._run, name="sqlite-checkpoint", daemon=True)
                    self._thread.start()

    def close(self, timeout: float = 10.0) -> None:
        self._stop.set()
        self._wrote.set()
        thread, self._thread = self._thread, None
        if thread is not None:
            thread.join(timeout)

    def _run(self) -> None:
        connection: Any = None
        try:
            while not self._stop.is_set():
                self._wrote.wait()
                self._stop.wait(self._every)  # a second of commits, one checkpoint
                self._wrote.clear()
                try:
                    if connection is None:
                        connection = self._engine.raw_connection()
                    cursor = connection.cursor()
                    cursor.execute("PRAGMA wal_checkpoint(PASSIVE)")
                    cursor.close()
                except Exception:  # the next commit asks again; the log only grows meanwhile
                    log.exception("could not checkpoint the SQLite write-ahead log")
                    if connection is not None:
                        with contextlib.suppress(Exception):
                            connection.invalidate()
                        connection = None
        finally:
            if connection is not None:
                with contextlib.suppress(Exception):
                    connection.close()
